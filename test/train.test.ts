import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { UsageError } from '../src/errors.js';
import { blockOutputs, firstLayerSlices } from '../src/nn/arena.js';
import { initParams } from '../src/nn/init.js';
import { jsKernels } from '../src/nn/kernels/js.js';
import { naiveKernels } from '../src/nn/kernels/naive.js';
import { networkLayout } from '../src/nn/layout.js';
import { forwardBackward, forwardLoss, gatherRows } from '../src/nn/mlp.js';
import { batchPlan } from '../src/nn/scratch.js';
import { T_SLICED_STEPS, TIMING_FIELDS } from '../src/train/control.js';
import { evaluate } from '../src/train/evaluate.js';
import { resolveKernels } from '../src/train/kernels.js';
import { StepPool } from '../src/train/pool.js';
import { train } from '../src/train/trainer.js';
import { syntheticDataset } from './helpers.js';

const hash = (a: Float32Array) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

describe('gathering rows', () => {
  it('writes each picked row as float32(pixel × (1/255)) with its label, words or bytes alike', () => {
    const net = networkLayout([12, 4, 3], 'relu');
    for (const [features, offset] of [
      [12, 0], // whole words: read four pixels at a time
      [12, 1], // a view that starts off a word: byte by byte
      [13, 0], // rows not a whole number of words: byte by byte
    ]) {
      const n = 9;
      const backing = new Uint8Array(new SharedArrayBuffer(offset + n * features + 3));
      for (let i = 0; i < backing.length; i++) backing[i] = (i * 73 + 11) & 255;
      const images = backing.subarray(offset, offset + n * features);
      const labels = Float32Array.from({ length: n }, (_, i) => i % 3);
      const plan = batchPlan(networkLayout([features, 4, 3], net.activation), 8, 0);
      const m = new Float32Array(plan.base + plan.size);
      const order = Int32Array.from([8, 3, 0, 5, 7, 1, 2, 4, 6]);
      gatherRows(jsKernels(m), m, plan, 2, images, labels, features, order, 1, 5);
      for (let r = 0; r < 5; r++) {
        const row = order[1 + r];
        for (let c = 0; c < features; c++) {
          const want = Math.fround(images[row * features + c] / 255);
          assert.equal(
            m[plan.acts[0] + (2 + r) * features + c],
            want,
            `${features}/${offset}: row ${r} pixel ${c}`,
          );
        }
        assert.equal(m[plan.targets + 2 + r], labels[row]);
      }
    }
  });
});

describe('data-parallel training', () => {
  for (const kernels of ['js', 'wasm'] as const) {
    it(`gives bitwise-identical weights for 1, 2, 3 and 4 threads (${kernels} kernels)`, async () => {
      const dataset = syntheticDataset(300, 50);
      // 72 hidden units: blocks of 32, 16, 8 and 8 outputs at 1 … 4 threads (blockOutputs)
      const base = { hidden: [72, 16], epochs: 2, batchSize: 40, lr: 0.05, seed: 9, kernels };
      const hashes = new Set<string>();
      for (const threads of [1, 2, 3, 4]) {
        const r = await train({ ...base, threads }, { dataset });
        hashes.add(hash(r.model.params));
      }
      assert.equal(hashes.size, 1, `weights differ across thread counts: ${[...hashes].join(', ')}`);
    });
  }

  for (const kernels of ['js', 'wasm'] as const) {
    it(`the first layer's forward by output neurons (2, 3 threads) gives the bytes and metrics of rows (1) (${kernels})`, async () => {
      // 192 first-layer units: slices of 96 at 2 threads and of 64 at 3, so the forward of the
      // first layer goes by outputs there, by rows at 1; batch 42: the last shard is short
      const dataset = syntheticDataset(300, 50, 40, 3);
      for (const extra of [
        {},
        { dropout: 0.2, activation: 'tanh' as const, optimizer: 'adam' as const, lr: 0.01 },
      ]) {
        const base = { hidden: [192, 16], epochs: 2, batchSize: 42, lr: 0.05, seed: 4, kernels, ...extra };
        for (const threads of [2, 3]) {
          const net = networkLayout([40, 192, 16, 10], 'relu');
          assert.ok(firstLayerSlices(net, threads, blockOutputs(net, threads)), `${threads} threads: slices`);
        }
        const one = await train({ ...base, threads: 1 }, { dataset });
        for (const threads of [2, 3]) {
          const r = await train({ ...base, threads }, { dataset });
          const what = `${threads} threads${'dropout' in extra ? ', dropout' : ''}`;
          assert.deepEqual(r.model.params, one.model.params, what);
          assert.deepEqual(
            r.metrics.map((e) => [e.trainLoss, e.trainAccuracy, e.testLoss]),
            one.metrics.map((e) => [e.trainLoss, e.trainAccuracy, e.testLoss]),
            what,
          );
        }
      }
    });
  }

  it('GRADPOOL_FIRST_LAYER_SLICE splits the first layer where the default does not, with the same bytes', async (t) => {
    const dataset = syntheticDataset(300, 50);
    // 72 units at 4 threads: 9 blocks of 8, slices of 16 and of 24 outputs (< 64)
    const base = { hidden: [72, 16], epochs: 2, batchSize: 40, lr: 0.05, seed: 9, kernels: 'wasm' as const };
    const net = networkLayout([64, 72, 16, 10], 'relu');
    assert.equal(firstLayerSlices(net, 4, blockOutputs(net, 4)), null);
    assert.ok(firstLayerSlices(net, 4, blockOutputs(net, 4), 16));
    const rows = await train({ ...base, threads: 4 }, { dataset });
    // the steps each worker computed a slice of the first layer in (phase 0), over 3 steps
    const slicedSteps = async () => {
      const pool = await StepPool.forNetwork({
        net,
        dataset,
        threads: 4,
        kernels: await resolveKernels('wasm'),
        batchRows: 40,
      });
      try {
        initParams(net, 1, pool.params);
        pool.setStepScalars(() => {});
        const stats = Array.from({ length: 3 }, () => ({ loss: 0, correct: 0 }));
        await pool.trainSteps(0, 40, 3, stats, 0);
        const counts = [0, 1, 2, 3].map((w) => pool.timings[w * TIMING_FIELDS + T_SLICED_STEPS]);
        return { slices: pool.firstLayer?.map((s) => [s.o0, s.o1]) ?? null, counts };
      } finally {
        await pool.close();
      }
    };
    assert.deepEqual(await slicedSteps(), { slices: null, counts: [0, 0, 0, 0] });
    process.env.GRADPOOL_FIRST_LAYER_SLICE = '16';
    t.after(() => {
      delete process.env.GRADPOOL_FIRST_LAYER_SLICE;
    });
    assert.deepEqual(await slicedSteps(), {
      slices: [
        [0, 16],
        [16, 32],
        [32, 48],
        [48, 72],
      ],
      counts: [3, 3, 3, 3],
    });
    const split = await train({ ...base, threads: 4 }, { dataset });
    assert.deepEqual(split.model.params, rows.model.params);
  });

  it('computes one step equal to a float64 single-threaded step over the whole batch', async () => {
    // One batch = the whole train split (20 rows → 5 shards of 4), so the permutation
    // cannot change the summed gradient; the reference is one forward/backward of all rows.
    const dataset = syntheticDataset(20, 10, 12);
    const config = {
      hidden: [7],
      activation: 'sigmoid' as const,
      epochs: 1,
      batchSize: 20,
      lr: 0.3,
      momentum: 0.5,
      weightDecay: 0.01,
      seed: 3,
    };
    const result = await train({ ...config, threads: 2, kernels: 'js' }, { dataset });
    const net = networkLayout([12, 7, 10], 'sigmoid');
    const s = batchPlan(net, 20, 2 * net.size);
    const m = new Float64Array(s.base + s.size);
    const p32 = new Float32Array(net.size);
    initParams(net, config.seed, p32);
    m.set(p32, 0);
    gatherRows(naiveKernels(m), m, s, 0, dataset.train.inputs, dataset.train.targets, 12, null, 0, 20);
    forwardBackward(naiveKernels(m), m, net, 0, net.size, s, 20, new Float64Array(2));
    let worst = 0;
    for (let j = 0; j < net.size; j++) {
      const g = m[net.size + j] / 20 + config.weightDecay * m[j];
      const want = m[j] - config.lr * g; // first step: v = g
      worst = Math.max(worst, Math.abs(result.model.params[j] - want));
    }
    assert.ok(worst < 1e-6, `largest difference from the float64 step: ${worst}`);
  });

  it('reports per-epoch metrics that match an independent evaluation', async () => {
    const dataset = syntheticDataset(400, 120);
    const r = await train({ hidden: [32], epochs: 3, batchSize: 32, threads: 2, seed: 5 }, { dataset });
    assert.equal(r.metrics.length, 3);
    const last = r.metrics[2];
    assert.ok(last.trainAccuracy! > 0.9, `synthetic data is separable; train accuracy ${last.trainAccuracy}`);
    // The same test metrics computed in float64 on this thread with the naive kernels.
    const net = r.model.layout;
    const s = batchPlan(net, 120, net.size, false);
    const m = new Float64Array(s.base + s.size);
    m.set(r.model.params, 0);
    gatherRows(
      naiveKernels(m),
      m,
      s,
      0,
      dataset.test.inputs,
      dataset.test.targets,
      net.sizes[0],
      null,
      0,
      120,
    );
    const out = new Float64Array(2);
    const loss = forwardLoss(naiveKernels(m), m, net, 0, s, 0, 120, out);
    assert.equal(last.testAccuracy, out[1] / 120);
    assert.ok(Math.abs(last.testLoss - loss / 120) < 1e-5, `${last.testLoss} vs ${loss / 120}`);
    const ev = await evaluate(r.model, dataset, { threads: 3 });
    assert.equal(ev.accuracy, last.testAccuracy);
    assert.equal(
      ev.confusion!.flat().reduce((a, b) => a + b, 0),
      120,
    );
    assert.equal(
      ev.confusion!.reduce((a, row, i) => a + row[i], 0),
      out[1],
    );
    // library callers get the checks (and messages) the CLI gives
    await assert.rejects(evaluate(r.model, dataset, { threads: 0 }), / threads must be ≥ 1, got 0$/);
    await assert.rejects(
      evaluate(r.model, dataset, { kernels: 'fast' as 'js' }),
      / kernels must be one of auto, native, wasm, wasm-simd, wasm-relaxed-simd, js, got 'fast'/,
    );
  });

  it('refuses a batch larger than the data and impossible layer sizes before starting threads', async () => {
    const dataset = syntheticDataset(30, 10);
    await assert.rejects(
      train({ batchSize: 31, threads: 1 }, { dataset }),
      (e: unknown) => e instanceof UsageError && /larger than the 30 training rows/.test(e.message),
    );
    await assert.rejects(
      train({ hidden: [0], batchSize: 10, threads: 1 }, { dataset }),
      / hidden must be ≥ 1, got 0$/,
    );
    await assert.rejects(
      train({ hidden: [60000, 60000], batchSize: 10, threads: 1 }, { dataset }),
      / hidden 60000,60000: network .* has \d+ parameters; the limit is/,
    );
  });
});
