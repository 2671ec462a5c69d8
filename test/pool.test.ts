import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coreCount } from '../src/machine.js';
import {
  blockOutputs,
  blockShares,
  firstLayerSlices,
  gradientBlocks,
  MAX_ARENA_BYTES,
  MIN_FIRST_LAYER_SLICE,
} from '../src/nn/arena.js';
import { initParams } from '../src/nn/init.js';
import { networkLayout } from '../src/nn/layout.js';
import { sgd } from '../src/nn/optim/sgd.js';
import { permutation, Rng } from '../src/nn/rng.js';
import {
  defaultThreadCounts,
  measureScaling,
  overheadShare,
  type ScalingRow,
  scalingTable,
} from '../src/train/benchmark.js';
import { defaultConfig } from '../src/train/config.js';
import { MAX_STEPS } from '../src/train/control.js';
import { coreRoundTripNs } from '../src/train/core-latency.js';
import { KERNEL_SHAPES, type KernelSpeedRow } from '../src/train/kernel-speed.js';
import { resolveKernels } from '../src/train/kernels.js';
import { planArena } from '../src/train/plan.js';
import { firstLayerSliceMin, StepPool } from '../src/train/pool.js';
import { DEFAULT_SPIN, spinBudget } from '../src/train/spin-wait.js';
import { runCli, syntheticDataset } from './helpers.js';

describe('the step partition', () => {
  it('gives every output neuron of every layer to exactly one block, 8-aligned, for every block size', () => {
    const net = networkLayout([784, 256, 130, 10], 'relu');
    for (const size of [8, 16, 24, 32]) {
      const blocks = gradientBlocks(net, size);
      const owners = net.layers.map((L) => new Array<number>(L.outputs).fill(0));
      for (const b of blocks) {
        assert.equal(b.o0 % 8, 0, "a block starts on one of the kernels' 8-output chunks");
        assert.ok(b.o1 - b.o0 <= size && b.o1 > b.o0);
        assert.ok(
          b.o1 - b.o0 === size || b.o1 === net.layers[b.layer].outputs,
          'only a layer’s last block is short',
        );
        for (let o = b.o0; o < b.o1; o++) owners[b.layer][o]++;
      }
      for (const layer of owners) assert.ok(layer.every((n) => n === 1));
      // widest inputs first: the big blocks are claimed before the small ones
      const inputs = blocks.map((b) => net.layers[b.layer].inputs);
      assert.deepEqual(
        inputs,
        [...inputs].sort((x, y) => y - x),
      );
    }
    assert.throws(() => gradientBlocks(net, 12), /blocks of 12 outputs/);
  });

  it('sizes blocks to leave each thread two or more of the costliest layer, 8 to 32 outputs', () => {
    const reference = networkLayout([784, 256, 128, 10], 'relu');
    // layer 0 (784×256) costs most: 32 chunks of 8 outputs
    assert.deepEqual(
      [1, 2, 4, 8, 16, 64].map((T) => blockOutputs(reference, T)),
      [32, 32, 32, 16, 8, 8],
    );
    // the costliest layer need not be the first: 20×30 < 30×64 (8 chunks), 30×48 (6 chunks)
    assert.deepEqual(
      [1, 2, 3].map((T) => blockOutputs(networkLayout([20, 30, 64, 3], 'relu'), T)),
      [32, 16, 8],
    );
    assert.equal(blockOutputs(networkLayout([20, 30, 48, 3], 'relu'), 1), 24);
    assert.equal(blockOutputs(networkLayout([36, 20, 10], 'relu'), 1), 8);
  });
});

describe('working memory', () => {
  it('refuses a plan WebAssembly cannot address, naming what to lower', () => {
    const net = networkLayout([784, 4096, 4096, 10], 'relu');
    // a lower bound counted independently: four copies of the parameters (two of them
    // velocity), and each hidden layer's activations and deltas for every row of the batch
    const atLeast = (rows: number) => 4 * (4 * net.size + rows * (784 + 2 * (4096 + 4096) + 10));
    assert.ok(atLeast(65536) > MAX_ARENA_BYTES);
    assert.throws(
      () => planArena(net, 65536, 4),
      /784-4096-4096-10 in batches of 65536 rows on 4 threads needs \d+\.\d GiB of working memory; WebAssembly's limit is 4 GiB: lower batchSize, hidden or threads$/,
    );
    const fits = planArena(net, 8192, 4);
    assert.ok(fits.bytes >= atLeast(8192) && fits.bytes <= MAX_ARENA_BYTES, `${fits.bytes}`);
  });
});

describe("the threads' shares of the blocks", () => {
  it('give each block to one thread, keep the order, and balance the multiply-adds', () => {
    const net = networkLayout([784, 256, 128, 10], 'relu');
    const blocks = gradientBlocks(net, 8);
    const cost = (i: number) => (blocks[i].o1 - blocks[i].o0) * net.layers[blocks[i].layer].inputs;
    const total = blocks.reduce((s, _, i) => s + cost(i), 0);
    const largest = Math.max(...blocks.map((_, i) => cost(i)));
    for (const T of [1, 2, 3, 8, 16, 64]) {
      const shares = blockShares(net, blocks, T);
      assert.equal(shares.length, T);
      const all = shares.flatMap((s) => [...s]).sort((a, b) => a - b);
      assert.deepEqual(all, [...blocks.keys()], `${T} threads: every block exactly once`);
      for (const share of shares) {
        assert.ok(
          share.every((b, i) => i === 0 || b > share[i - 1]),
          'largest blocks first',
        );
        const load = share.reduce((s, b) => s + cost(b), 0);
        // greedy longest-first: no share exceeds the mean by more than one block
        assert.ok(load <= total / T + largest, `${T} threads: a share of ${load} against ${total / T}`);
      }
    }
    assert.deepEqual([...blockShares(net, blocks, 1)[0]], [...blocks.keys()]);
  });

  it('with first-layer slices: each first-layer block to the thread whose slice holds it, the rest balanced', () => {
    // the first layer costliest (its blocks sort first), and the second (they sort last)
    for (const [net, T] of [
      [networkLayout([784, 256, 128, 10], 'relu'), 2],
      [networkLayout([784, 256, 128, 10], 'relu'), 3],
      [networkLayout([784, 256, 128, 10], 'relu'), 4],
      [networkLayout([64, 256, 1024, 10], 'relu'), 3],
    ] as const) {
      const outputs = blockOutputs(net, T);
      const slices = firstLayerSlices(net, T, outputs);
      assert.ok(slices, `${T} threads: slices`);
      const blocks = gradientBlocks(net, outputs);
      const shares = blockShares(net, blocks, T, slices);
      const all = shares.flatMap((s) => [...s]).sort((a, b) => a - b);
      assert.deepEqual(all, [...blocks.keys()], `${T} threads: every block exactly once`);
      shares.forEach((share, t) => {
        for (const b of share) {
          const { layer, o0, o1 } = blocks[b];
          if (layer === 0)
            assert.ok(o0 >= slices[t].o0 && o1 <= slices[t].o1, `${T} threads: block ${o0} of thread ${t}`);
        }
      });
      // every first-layer block is somebody's: the slices hold all of them between them
      const first = blocks.filter((b) => b.layer === 0).length;
      assert.equal(shares.flatMap((s) => [...s]).filter((b) => blocks[b].layer === 0).length, first);
      const cost = (i: number) => (blocks[i].o1 - blocks[i].o0) * net.layers[blocks[i].layer].inputs;
      const loads = shares.map((s) => [...s].reduce((a, b) => a + cost(b), 0));
      const total = loads.reduce((a, b) => a + b);
      const largest = Math.max(...blocks.map((_, i) => cost(i)));
      for (const load of loads) assert.ok(load <= total / T + largest, `${T} threads: ${loads.join(', ')}`);
    }
  });
});

describe("the first layer's slices (its forward by output neurons)", () => {
  const net = networkLayout([784, 256, 128, 10], 'relu');
  it('cut the first layer into consecutive whole blocks, as even as they come', () => {
    const slices = (T: number) => firstLayerSlices(net, T, blockOutputs(net, T))?.map((s) => [s.o0, s.o1]);
    assert.deepEqual(slices(2), [
      [0, 128],
      [128, 256],
    ]);
    // 8 blocks of 32 for 3 threads: 2, 3 and 3
    assert.deepEqual(slices(3), [
      [0, 64],
      [64, 160],
      [160, 256],
    ]);
    assert.deepEqual(slices(4), [
      [0, 64],
      [64, 128],
      [128, 192],
      [192, 256],
    ]);
    // a short last block stays whole: 100 outputs in blocks of 32 (4 blocks), 2 threads
    assert.deepEqual(
      firstLayerSlices(networkLayout([50, 100, 10], 'relu'), 2, 32)?.map((s) => [s.o0, s.o1]),
      [
        [0, 64],
        [64, 100],
      ],
    );
  });

  it('are none on one thread, for a single layer, and where a slice would hold fewer than 64 outputs', () => {
    assert.equal(MIN_FIRST_LAYER_SLICE, 64);
    assert.equal(firstLayerSlices(net, 1, 32), null);
    // 8 threads: blocks of 16, two a thread (32 outputs)
    assert.equal(firstLayerSlices(net, 8, blockOutputs(net, 8)), null);
    assert.equal(firstLayerSlices(networkLayout([784, 256], 'relu'), 2, 32), null);
    assert.equal(firstLayerSlices(networkLayout([784, 96, 10], 'relu'), 2, 32), null);
  });

  it('start at the slice size GRADPOOL_FIRST_LAYER_SLICE gives, 64 without it', () => {
    assert.equal(firstLayerSliceMin(undefined), 64);
    assert.equal(firstLayerSliceMin(''), 64);
    assert.equal(firstLayerSliceMin('8'), 8);
    for (const bad of ['0', 'all', '-8', '2.5'])
      assert.throws(
        () => firstLayerSliceMin(bad),
        /GRADPOOL_FIRST_LAYER_SLICE must be (a whole number|≥ 1)/,
        bad,
      );
    // 16 threads: blocks of 8, two a thread (16 outputs)
    assert.equal(firstLayerSlices(net, 16, 8), null);
    assert.equal(firstLayerSlices(net, 16, 8, 16)?.length, 16);
    assert.equal(firstLayerSlices(net, 16, 8, 17), null);
  });

  it('are in the plan of the arena', () => {
    assert.deepEqual(planArena(net, 128, 2).firstLayer, firstLayerSlices(net, 2, 32));
    assert.equal(planArena(net, 128, 1).firstLayer, null);
  });
});

const SGD_SETTINGS = { ...defaultConfig(), momentum: 0.9, weightDecay: 0.001 } as unknown as Record<
  string,
  number
>;

describe('commands of several steps', () => {
  it('give the bytes and per-step stats of the same steps run one at a time', async () => {
    const dataset = syntheticDataset(256, 16, 36);
    const net = networkLayout([36, 20, 10], 'relu');
    const kernels = await resolveKernels('auto');
    const run = async (perCommand: number, threads: number) => {
      const pool = await StepPool.forNetwork({ net, dataset, threads, kernels, batchRows: 24 });
      try {
        initParams(net, 3, pool.params);
        pool.setStepScalars((_t, out, at) => sgd.stepScalars(SGD_SETTINGS, 0.1, 1, out, at));
        permutation(new Rng(5), pool.order, dataset.train.count);
        const stats = Array.from({ length: MAX_STEPS }, () => ({ loss: 0, correct: 0 }));
        const steps: { loss: number; correct: number }[] = [];
        for (let s = 0; s < 10; s += perCommand) {
          const n = Math.min(perCommand, 10 - s);
          await pool.trainSteps(s * 24, 24, n, stats, s);
          steps.push(...stats.slice(0, n).map((x) => ({ ...x })));
        }
        await assert.rejects(pool.trainSteps(0, 24, MAX_STEPS + 1, stats, 0), RangeError);
        return { params: pool.params.slice(), velocity: pool.state[0].slice(), steps };
      } finally {
        await pool.close();
      }
    };
    const one = await run(1, 1);
    assert.ok(one.steps.every((x) => x.loss > 0 && Number.isFinite(x.loss)));
    for (const [perCommand, threads] of [
      [4, 1],
      [10, 3],
      [3, 2],
    ]) {
      const r = await run(perCommand, threads);
      assert.deepEqual(r.steps, one.steps, `${perCommand} steps a command, ${threads} threads`);
      assert.deepEqual(new Uint8Array(r.params.buffer), new Uint8Array(one.params.buffer));
      assert.deepEqual(new Uint8Array(r.velocity.buffer), new Uint8Array(one.velocity.buffer));
    }
  });
});

describe("the cores' round trip", () => {
  // on one core every round trip would wait for a time slice
  it('passes a flag to a worker thread and back, every round answered', {
    skip: coreCount() < 2,
  }, async () => {
    // coreRoundTripNs throws where the worker did not answer each round
    const ns = await coreRoundTripNs(2000, 3);
    assert.ok(Number.isFinite(ns) && ns > 0, `${ns} ns`);
  });
});

describe('polling before sleeping', () => {
  it('polls only while every thread has a core, and obeys GRADPOOL_SPIN', () => {
    assert.equal(spinBudget(8, 16, undefined), DEFAULT_SPIN);
    assert.equal(spinBudget(16, 16, undefined), DEFAULT_SPIN);
    assert.equal(spinBudget(17, 16, undefined), 0);
    assert.equal(spinBudget(4, 2, undefined), 0);
    assert.equal(spinBudget(1, 16, '0'), 0);
    assert.equal(spinBudget(32, 16, '500'), 500);
    for (const bad of ['lots', '-1', '2.5', '1e3'])
      assert.throws(() => spinBudget(1, 16, bad), /GRADPOOL_SPIN must be (a whole number|≥ 0)/, bad);
  });
});

describe('scaling measurements', () => {
  it('default thread counts are powers of two up to the cores, then the cores', () => {
    assert.deepEqual(defaultThreadCounts(16), [1, 2, 4, 8, 16]);
    assert.deepEqual(defaultThreadCounts(12), [1, 2, 4, 8, 12]);
    assert.deepEqual(defaultThreadCounts(1), [1]);
  });

  it('reports speed-up and efficiency relative to the fewest threads, and a breakdown within the step', async () => {
    const r = await measureScaling({
      dataset: syntheticDataset(512, 64),
      threads: [2, 1, 2], // measured once each, fewest first
      hidden: [32],
      batchSize: 64,
      seconds: 0.3,
    });
    assert.deepEqual(
      r.rows.map((x) => x.threads),
      [1, 2],
    );
    const [a, b] = r.rows;
    assert.equal(a.speedup, 1);
    assert.equal(a.efficiency, 1);
    assert.ok(Math.abs(b.speedup - b.samplesPerSec / a.samplesPerSec) < 1e-12);
    assert.ok(Math.abs(b.efficiency - b.speedup / 2) < 1e-12);
    assert.equal(a.computeCost, 1);
    const computing = (x: typeof a) => x.breakdown.computeMs + x.breakdown.gradientsMs;
    assert.ok(Math.abs(b.computeCost - (2 * computing(b)) / computing(a)) < 1e-12);
    // efficiency splits exactly into the share spent computing and the cost of that computing
    const share = (x: typeof a) => computing(x) / x.stepMs;
    assert.ok(
      Math.abs(b.efficiency - share(b) / share(a) / b.computeCost) < 1e-9,
      `${b.efficiency} vs ${share(b) / share(a) / b.computeCost}`,
    );
    for (const x of r.rows) {
      assert.ok(
        Math.abs(x.samplesPerSec - (64 * 1000) / x.stepMs) / x.samplesPerSec < 1e-9,
        'samples/s = batch / step time',
      );
      // whole epochs of 512 / 64 = 8 steps, the same ones for each thread count
      assert.ok(x.steps > 0 && x.steps % 8 === 0, `${x.threads} threads: ${x.steps} steps`);
      const { computeMs, gradientsMs, waitMs, updateMs, otherMs } = x.breakdown;
      assert.ok(computeMs > 0 && gradientsMs > 0 && updateMs > 0 && waitMs >= 0 && otherMs >= 0);
      assert.ok(
        x.breakdown.waitMidMs >= 0 && x.breakdown.waitMidMs <= waitMs,
        'the wait between the phases is part of the wait',
      );
      assert.ok(
        computeMs + gradientsMs + waitMs + updateMs <= x.stepMs * 1.001,
        'phases fit inside the step',
      );
      assert.ok(
        Math.abs(overheadShare(x) - (waitMs + updateMs + otherMs) / x.stepMs) < 2e-3,
        'not computing = wait + update + other',
      );
    }
    assert.deepEqual(r.layers, [64, 32, 10]);
  });

  it('says when the baseline is not 1 thread, which rows run more threads than cores, and which split the first layer', () => {
    const row = (threads: number, samplesPerSec: number): ScalingRow => ({
      threads,
      samplesPerSec,
      speedup: 1,
      efficiency: 1,
      computeCost: 1,
      stepMs: 1,
      steps: 1,
      firstLayerSlices: threads === 2,
      breakdown: { computeMs: 0.5, gradientsMs: 0.4, waitMs: 0, waitMidMs: 0, updateMs: 0.1, otherMs: 0 },
    });
    const table = (threads: number[], cores: number) =>
      scalingTable({
        kernels: 'js',
        optimizer: 'sgd',
        dropout: 0,
        layers: [4, 2],
        batchSize: 8,
        rows: threads.map((t) => row(t, 1000 * t)),
        machine: { cpu: 'test', cores, node: 'v20' },
        ...(cores > 2 ? { coreRoundTripNs: { before: 48.4, after: 441.6 } } : {}),
      });
    const plain = table([1, 2], 2);
    assert.doesNotMatch(plain, /are against|more threads than/);
    assert.match(plain, /At 2 threads the first layer's forward went by output neurons/);
    assert.doesNotMatch(table([1, 4], 4), /by output neurons/);
    assert.match(
      table([2, 4], 4),
      /Speed-up and efficiency are against 2 threads, the fewest measured, not 1\./,
    );
    const over = table([1, 2, 4], 2);
    assert.match(over, /Rows above 2 threads run more threads than this machine has cores/);
    assert.doesNotMatch(over, /are against/);
    assert.match(plain, /efficiency = \(computing share ÷ the first row’s\) ÷ compute cost/);
    assert.doesNotMatch(plain, /A flag between/);
    assert.match(
      table([1, 4], 4),
      /A flag between two threads' cores and back \(JavaScript Atomics\): 48 ns before the rows, 442 ns after\./,
    );
  });

  it('gradpool bench --json prints one row per thread count; bad thread lists exit 2', () => {
    const r = runCli(['bench', '--threads', '1,2', '--hidden', '16', '--seconds', '0.3', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(
      out.rows.map((x: { threads: number }) => x.threads),
      [1, 2],
    );
    assert.ok(out.rows.every((x: { samplesPerSec: number }) => x.samplesPerSec > 0));
    assert.equal(out.machine.cores > 0, true);
    if (out.machine.cores >= 2) assert.ok(out.coreRoundTripNs.before > 0 && out.coreRoundTripNs.after > 0);
    // the kernels training uses, timed on each of the reference shapes, in consistent units
    assert.deepEqual(
      out.kernelSpeed.map((x: KernelSpeedRow) => [x.kernel, x.shape, x.variant]),
      KERNEL_SHAPES.map((s) => [s.kernel, s.shape, out.kernels]),
    );
    out.kernelSpeed.forEach((x: KernelSpeedRow, i: number) => {
      const gflops = KERNEL_SHAPES[i].flops / (x.meanUs * 1e3);
      assert.ok(x.gflops > 0 && Math.abs(x.gflops - gflops) / gflops < 1e-9, `${x.shape}: ${x.gflops}`);
    });
    const bad = runCli(['bench', '--threads', '1,0']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--threads must be ≥ 1, got 0/);
    for (const [args, message] of [
      [
        ['--hidden', '60000,60000'],
        /--hidden 60000,60000: network 784-60000-60000-10 has \d+ parameters; the limit is/,
      ],
      [['--hidden', '60000', '--batch-size', '8000'], /needs 4\.\d GiB of working memory/],
    ] as const) {
      const r = runCli(['bench', '--threads', '1', ...args]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /measuring|internal error/, 'refused before anything is timed');
    }
    const rounds = runCli(['bench', '--threads', '1', '--rounds', '0']);
    assert.equal(rounds.status, 2);
    assert.match(rounds.stderr, /--rounds must be ≥ 1, got 0/);
  });

  it("with several rounds keeps each thread count's fastest pass and rates the others against it", async () => {
    const seen: { threads: number; samplesPerSec: number }[] = [];
    const r = await measureScaling({
      dataset: syntheticDataset(512, 64),
      threads: [1, 2],
      hidden: [32],
      batchSize: 64,
      seconds: 0.2,
      rounds: 3,
      onRow: (x) => seen.push({ threads: x.threads, samplesPerSec: x.samplesPerSec }),
    });
    assert.deepEqual(
      seen.map((x) => x.threads),
      [1, 2, 1, 2, 1, 2],
    );
    const fastest = (t: number) =>
      Math.max(...seen.filter((x) => x.threads === t).map((x) => x.samplesPerSec));
    assert.deepEqual(
      r.rows.map((x) => x.samplesPerSec),
      [fastest(1), fastest(2)],
    );
    assert.ok(Math.abs(r.rows[1].speedup - fastest(2) / fastest(1)) < 1e-12);
    assert.ok(Math.abs(r.rows[1].efficiency - fastest(2) / fastest(1) / 2) < 1e-12);
  });
});

describe('kernel speed shapes', () => {
  it("count each product's operations from its B×I×O", () => {
    for (const s of KERNEL_SHAPES) {
      const [B, I, O] = (s.shape.match(/^(\d+)×(\d+)×(\d+)/) ?? []).slice(1).map(Number);
      assert.equal(s.flops, 2 * B * I * O, s.shape);
    }
  });
});
