import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stratifiedSplit } from '../src/data/validation-split.js';
import { UsageError } from '../src/errors.js';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { loadModel } from '../src/io/model-file.js';
import { dropoutDraw, unitHash } from '../src/nn/dropout.js';
import { naiveKernels } from '../src/nn/kernels/naive.js';
import { networkLayout } from '../src/nn/layout.js';
import { forwardBackward, forwardLoss, gatherRows } from '../src/nn/mlp.js';
import { batchPlan } from '../src/nn/scratch.js';
import { saveTrainedModel } from '../src/train/save-result.js';
import { TrainingInterrupted, type TrainResult, train } from '../src/train/trainer.js';
import { fill, runCli, syntheticDataset, tempDir, writeIdxFolder } from './helpers.js';

// The training recipes: Adam/AdamW, schedules, dropout, the validation split, early stopping
// and the kept epoch, each held to the promise that the bytes depend on the seed and the
// settings, never on --threads or an interruption.

const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const hash = (r: Pick<TrainResult, 'model' | 'optimizerState'>) => {
  const h = createHash('sha256').update(bytes(r.model.params));
  for (const s of r.optimizerState) h.update(bytes(s));
  return h.digest('hex');
};

const dataset = syntheticDataset(300, 60);
// 300 rows less a 0.2 validation split: 240 train, batch 40, 6 steps an epoch
const recipe = {
  hidden: [24, 12],
  epochs: 3,
  batchSize: 40,
  optimizer: 'adamw' as const,
  lr: 0.01,
  weightDecay: 0.05,
  lrSchedule: 'cosine' as const,
  warmupSteps: 4,
  lrMin: 0.001,
  dropout: 0.3,
  validationSplit: 0.2,
  seed: 4,
};

describe('recipes train the same bytes on any thread count', () => {
  for (const [what, settings] of [
    ['AdamW, warm-up + cosine, dropout 0.3, a validation split', recipe],
    [
      'Adam with L2, onecycle, tanh',
      {
        ...recipe,
        optimizer: 'adam',
        lrSchedule: 'onecycle',
        warmupSteps: undefined,
        lrMin: undefined,
        activation: 'tanh',
      },
    ],
    [
      'SGD with Nesterov, step decay, sigmoid, dropout 0.5',
      {
        ...recipe,
        optimizer: 'sgd',
        nesterov: true,
        lr: 0.1,
        lrSchedule: 'step',
        lrStepSize: 1,
        lrGamma: 0.5,
        warmupSteps: 2,
        lrMin: undefined,
        dropout: 0.5,
        activation: 'sigmoid',
      },
    ],
  ] as const) {
    it(`${what}: --threads 1, 2, 3`, async () => {
      const runs = [];
      for (const threads of [1, 2, 3]) runs.push(await train({ ...settings, threads } as never, { dataset }));
      for (const r of runs.slice(1)) {
        assert.equal(hash(r), hash(runs[0]));
        assert.deepEqual(
          r.metrics.map((m) => [m.trainLoss, m.valLoss, m.testLoss, m.lr]),
          runs[0].metrics.map((m) => [m.trainLoss, m.valLoss, m.testLoss, m.lr]),
        );
      }
      assert.ok(runs[0].metrics.every((m) => Number.isFinite(m.trainLoss) && m.valLoss !== undefined));
    });
  }

  it('a run interrupted mid-epoch and resumed on other threads equals the uninterrupted one', async (t) => {
    const dir = tempDir(t);
    const straight = await train({ ...recipe, keep: 'last', threads: 2 }, { dataset });
    for (const [step, before, after] of [
      [4, 1, 3],
      [9, 3, 1],
    ]) {
      const path = join(dir, `c${step}.safetensors`);
      await assert.rejects(
        train(
          { ...recipe, keep: 'last', threads: before },
          { dataset, checkpoint: { path }, stopAfterStep: step },
        ),
        TrainingInterrupted,
      );
      const c = loadCheckpoint(path);
      assert.equal(c.optimizerState.length, 2, 'AdamW checkpoints both moments');
      const resumed = await train({ threads: after }, { dataset, resume: c });
      assert.equal(hash(resumed), hash(straight), `resumed after step ${step}`);
      assert.deepEqual(
        resumed.metrics,
        straight.metrics.map((m, i) => ({
          ...m,
          samplesPerSec: resumed.metrics[i].samplesPerSec,
          seconds: resumed.metrics[i].seconds,
        })),
      );
    }
  });

  it('a resume that changes the optimizer, the schedule or the dropout is refused, naming the setting', async (t) => {
    const path = join(tempDir(t), 'c.safetensors');
    await assert.rejects(
      train({ ...recipe, threads: 1 }, { dataset, checkpoint: { path }, stopAfterStep: 3 }),
    );
    const c = loadCheckpoint(path);
    for (const [change, field] of [
      [{ optimizer: 'adam' }, 'optimizer'],
      [{ lrSchedule: 'step' }, 'lrSchedule'],
      [{ dropout: 0.1 }, 'dropout'],
      [{ epochs: 5 }, 'epochs'], // cosine spans the run: more epochs would change every rate
    ] as const) {
      await assert.rejects(
        train(change as never, { dataset, resume: c }),
        (e: unknown) => e instanceof UsageError && e.field === field,
        field,
      );
    }
  });
});

describe('resuming from the command line', () => {
  it('a resume that changes the optimizer: one line naming the flag, exit 2, the checkpoint untouched', (t) => {
    const dir = tempDir(t);
    writeIdxFolder(join(dir, 'data'), 200, 40, 8);
    const ckpt = join(dir, 'run.ckpt');
    const common = [
      '--data',
      `idx:${join(dir, 'data')}`,
      '--hidden',
      '16',
      '--batch-size',
      '20',
      '--threads',
      '1',
    ];
    const first = runCli([
      'train',
      ...common,
      '--optimizer',
      'adamw',
      '--epochs',
      '1',
      '--checkpoint',
      ckpt,
      '--out',
      join(dir, 'a.safetensors'),
    ]);
    assert.equal(first.status, 0, first.stderr);
    const before = readFileSync(ckpt);
    const r = runCli([
      'train',
      '--resume',
      ckpt,
      '--optimizer',
      'adam',
      '--epochs',
      '2',
      '--out',
      join(dir, 'b.safetensors'),
    ]);
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr,
      `gradpool: --resume: --optimizer is "adam" but the checkpoint was trained with "adamw"\n`,
    );
    assert.ok(readFileSync(ckpt).equals(before));
    assert.equal(existsSync(join(dir, 'b.safetensors')), false);
  });
});

describe('dropout masks', () => {
  it('keep units at the rate 1 − p, within binomial bounds, independently across steps', () => {
    const p = 0.3;
    const draw = dropoutDraw(p, 9, new Int32Array(0));
    let kept = 0;
    let both = 0;
    const n = 200 * 500;
    for (let row = 0; row < 200; row++) {
      for (let unit = 0; unit < 500; unit++) {
        const a = unitHash(9, 17, row, 1, unit) >= draw.threshold;
        const b = unitHash(9, 18, row, 1, unit) >= draw.threshold;
        kept += a ? 1 : 0;
        both += a && b ? 1 : 0;
      }
    }
    // five standard deviations: a false alarm about once in 3.5 million runs
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(kept - n * (1 - p)) <= 5 * sd, `kept ${kept} of ${n}`);
    const q = (1 - p) ** 2;
    assert.ok(Math.abs(both - n * q) <= 5 * Math.sqrt(n * q * (1 - q)), `kept in both steps: ${both}`);
    assert.equal(draw.scale, Math.fround(1 / 0.7));
  });

  it('backpropagate through a fixed mask: gradients equal finite differences of the masked loss', () => {
    const net = networkLayout([6, 9, 7, 4], 'tanh');
    const B = 5;
    const m = new Float64Array(8192);
    const k = naiveKernels(m);
    const plan = batchPlan(net, B, 1024, true, true);
    const params = 16;
    const grad = 512;
    fill(m, params, net.size, 3, -0.8, 0.8);
    const images = new Uint8Array(B * 6).map((_, i) => (i * 37) % 256);
    const labels = new Float32Array([0, 3, 1, 2, 3]);
    const order = new Int32Array([4, 2, 0, 1, 3]);
    const draw = dropoutDraw(0.4, 11, order);
    draw.step = 5;
    const result = new Float64Array(2);
    const loss = () => {
      gatherRows(k, m, plan, 0, images, labels, 6, order, 0, B);
      return forwardLoss(k, m, net, params, plan, 0, B, result, undefined, 0, draw);
    };
    gatherRows(k, m, plan, 0, images, labels, 6, order, 0, B);
    forwardBackward(k, m, net, params, grad, plan, B, result, draw);
    const dropped = Array.from(m.subarray(plan.masks[1], plan.masks[1] + B * 9)).filter(
      (f) => f === 0,
    ).length;
    assert.ok(dropped > 0 && dropped < B * 9, `the mask drops some units (${dropped} of ${B * 9})`);
    const h = 1e-6;
    for (let i = 0; i < net.size; i++) {
      const w = m[params + i];
      m[params + i] = w + h;
      const up = loss();
      m[params + i] = w - h;
      const down = loss();
      m[params + i] = w;
      const numeric = (up - down) / (2 * h);
      assert.ok(
        Math.abs(numeric - m[grad + i]) <= 1e-6 + 1e-5 * Math.abs(numeric),
        `parameter ${i}: ${m[grad + i]} vs ${numeric}`,
      );
    }
  });
});

describe('the validation split', () => {
  it('is disjoint from the training rows, covers the split, and is stratified to within one row per class', () => {
    const labels = new Uint8Array(1003).map((_, i) => ((i * 7919) % 13 === 0 ? 9 : i % 5));
    const { train: t, validation: v } = stratifiedSplit(labels, 1003, 0.17, 3);
    assert.equal(v.length, Math.round(1003 * 0.17));
    const all = [...t, ...v].sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: 1003 }, (_, i) => i),
    );
    for (const c of new Set(labels)) {
      const inClass = labels.filter((l) => l === c).length;
      const held = [...v].filter((r) => labels[r] === c).length;
      assert.ok(Math.abs(held - inClass * 0.17) < 1, `class ${c}: ${held} of ${inClass}`);
    }
    const again = stratifiedSplit(labels, 1003, 0.17, 3);
    assert.deepEqual(again.validation, v, 'seeded');
    assert.notDeepEqual(stratifiedSplit(labels, 1003, 0.17, 4).validation, v, 'another seed, other rows');
  });
});

describe('early stopping and the kept epoch', () => {
  // few rows, a wide layer and a high rate: the validation loss turns up within a few epochs
  const small = syntheticDataset(120, 40, 64, 21);
  const overfit = {
    hidden: [256],
    epochs: 40,
    batchSize: 16,
    optimizer: 'adam' as const,
    lr: 0.02,
    validationSplit: 0.5,
    earlyStopping: 3,
    seed: 2,
    threads: 2,
  };

  it('stops once the validation loss has not improved for N epochs and writes the best epoch', async (t) => {
    const r = await train(overfit, { dataset: small });
    const { outcome, metrics } = r;
    assert.equal(outcome.stopped, 'early-stopping');
    assert.ok(outcome.lastEpoch < overfit.epochs, `stopped at epoch ${outcome.lastEpoch}`);
    assert.equal(outcome.lastEpoch - outcome.keptEpoch, overfit.earlyStopping);
    const losses = metrics.map((m) => m.valLoss as number);
    assert.equal(
      Math.min(...losses),
      losses[outcome.keptEpoch - 1],
      'the kept epoch has the lowest validation loss',
    );
    assert.equal(outcome.kept, 'best');
    // the written model evaluates, by an independent float64 forward pass over the
    // validation rows, to the loss the log reports for the kept epoch, and not the last's
    const { validation } = stratifiedSplit(small.train.targets, small.train.count, 0.5, overfit.seed);
    const path = join(tempDir(t), 'kept.safetensors');
    saveTrainedModel(path, r);
    const written = loadModel(path);
    assert.equal(written.metadata?.keptEpoch, String(outcome.keptEpoch));
    const loss = float64Loss(written.params, written.layout.sizes, validation);
    const kept = metrics[outcome.keptEpoch - 1].valLoss as number;
    assert.ok(Math.abs(loss - kept) <= 1e-5 * kept, `${loss} vs the kept epoch's ${kept}`);
    assert.ok(Math.abs(loss - losses[losses.length - 1]) > 1e-3, 'the last epoch is not the one kept');
  });

  it('--keep last writes the last epoch; resuming where it stopped trains nothing more', async (t) => {
    const path = join(tempDir(t), 'c.safetensors');
    const r = await train(
      { ...overfit, keep: 'last' },
      { dataset: small, checkpoint: { path, atEpochEnd: true } },
    );
    assert.equal(r.outcome.keptEpoch, r.outcome.lastEpoch);
    const again = await train({}, { dataset: small, resume: loadCheckpoint(path) });
    assert.equal(again.outcome.lastEpoch, r.outcome.lastEpoch);
    assert.equal(again.outcome.stopped, 'early-stopping');
    assert.deepEqual(bytes(again.model.params), bytes(r.model.params));
  });

  function float64Loss(params: Float32Array, sizes: readonly number[], rows: Int32Array): number {
    const net = networkLayout(sizes, 'relu');
    const m = new Float64Array(1 << 20);
    const k = naiveKernels(m);
    m.set(params, 16);
    const plan = batchPlan(net, rows.length, 16 + net.size + 16, false);
    gatherRows(k, m, plan, 0, small.train.inputs, small.train.targets, sizes[0], rows, 0, rows.length);
    return forwardLoss(k, m, net, 16, plan, 0, rows.length, new Float64Array(2)) / rows.length;
  }
});
