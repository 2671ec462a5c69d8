import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { loadDataset } from '../src/data/dataset.js';
import type { TablePreprocessing } from '../src/data/preprocessing.js';
import { loadModel, saveModel } from '../src/io/model-file.js';
import { type Activation, networkLayout } from '../src/nn/layout.js';
import { forward, gatherRows } from '../src/nn/mlp.js';
import type { Model } from '../src/nn/model.js';
import { batchPlan } from '../src/nn/scratch.js';
import { Predictor } from '../src/train/predictor.js';
import { saveTrainedModel } from '../src/train/save-result.js';
import { train } from '../src/train/trainer.js';
import { arena, classTable, kernelsOn, priceTable, runCli, tempDir } from './helpers.js';

// `gradpool export --format onnx` run by onnxruntime-node (an independent runtime): its
// probabilities on raw test rows against gradpool's own forward pass (the wasm kernels
// eval uses, then a float64 softmax).

/** gradpool's class probabilities for the first `n` test rows of mnist. */
async function gradpoolProbabilities(model: Model, images: Uint8Array, n: number): Promise<Float64Array> {
  const net = model.layout;
  const { memory, m } = arena(4_000_000);
  const k = await kernelsOn('wasm', memory);
  const params = 16384;
  m.set(model.params, params);
  const plan = batchPlan(net, n, params + net.size + 16, false);
  gatherRows(k, m, plan, 0, images, new Float32Array(n), net.sizes[0], null, 0, n);
  forward(k, net, params, plan, 0, n);
  const C = net.sizes[net.sizes.length - 1];
  const logits = plan.acts[plan.acts.length - 1];
  const out = new Float64Array(n * C);
  for (let r = 0; r < n; r++) {
    const row = Array.from(m.subarray(logits + r * C, logits + (r + 1) * C));
    const max = Math.max(...row);
    const sum = row.reduce((a, z) => a + Math.exp(z - max), 0);
    row.forEach((z, c) => {
      out[r * C + c] = Math.exp(z - max) / sum;
    });
  }
  return out;
}

/** A table's rows as records, column → text (no field of these tables is quoted). */
function recordsOf(table: string): Record<string, string>[] {
  const lines = table.trim().split('\n');
  const header = lines[0].split(',');
  return lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [header[i], v])));
}

/** onnxruntime's feeds for records: a number column as float64 [N, 1], a category as strings. */
function feedsOf(p: TablePreprocessing, records: readonly Record<string, string>[]) {
  return Object.fromEntries(
    p.inputs.map((c) => [
      c.name,
      c.kind === 'number'
        ? new ort.Tensor(
            'float64',
            Float64Array.from(records, (rec) => Number(rec[c.name])),
            [records.length, 1],
          )
        : new ort.Tensor(
            'string',
            records.map((rec) => rec[c.name]),
            [records.length, 1],
          ),
    ]),
  );
}

/** Input columns named as the graph's internal values were, or as its namespace is. */
const AWKWARD = ['x0', 'z0', 'a0', 'mean.0', 'feature.0', 'values', 'gradpool/x0', 'time'];

/** A class table over AWKWARD columns: `time` a timestamp near 1.7e9 whose seconds decide the class. */
function awkwardTable(n: number, seed: number): string {
  let x = seed;
  const rnd = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
  const rows = [[...AWKWARD, 'y'].join(',')];
  for (let i = 0; i < n; i++) {
    const offset = rnd() * 1000;
    const time = (1.7e9 + offset).toFixed(3);
    const numbers = Array.from({ length: 5 }, () => (rnd() * 2 - 1).toFixed(3));
    const colour = ['red', 'green', 'blue'][Math.floor(rnd() * 3)];
    const y = offset > 500 ? 'late' : 'early';
    rows.push([...numbers, colour, (rnd() * 10).toFixed(2), time, y].join(','));
  }
  return `${rows.join('\n')}\n`;
}

describe('ONNX export', () => {
  for (const activation of ['relu', 'tanh', 'sigmoid'] as Activation[]) {
    it(`a ${activation} mnist model: onnxruntime's probabilities equal gradpool's within 1e-5 on 500 test rows`, async (t) => {
      const dir = tempDir(t);
      const dataset = await loadDataset('mnist');
      const trained = await train(
        { hidden: [64, 32], activation, epochs: 1, lr: activation === 'sigmoid' ? 0.5 : 0.05, threads: 2 },
        { dataset },
      );
      const modelPath = join(dir, 'm.safetensors');
      saveModel(modelPath, trained.model, { data: 'mnist' });
      const onnxPath = join(dir, 'm.onnx');
      const r = runCli(['export', '--model', modelPath, '--format', 'onnx', '--out', onnxPath]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^wrote .*m\.onnx: ONNX opset 13, 784-64-32-10/);

      const n = 500;
      const images = (dataset.test.inputs as Uint8Array).subarray(0, n * 784);
      const session = await ort.InferenceSession.create(onnxPath);
      const input = new ort.Tensor('float32', Float32Array.from(images), [n, 784]);
      const { probabilities } = await session.run({ input });
      assert.deepEqual(probabilities.dims, [n, 10]);
      const want = await gradpoolProbabilities(loadModel(modelPath), images, n);
      const got = probabilities.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      assert.ok(worst <= 1e-5, `largest difference ${worst}`);
      // a wrong layout or a missing input scaling moves probabilities by far more than that
      // (sigmoid learns slowly at the default rate: 0.5 gives it confident classes in one epoch)
      assert.ok(want.some((p) => p > 0.3) && want.some((p) => p < 0.05), 'the model is not uniform');
      await session.release();
    });
  }

  for (const [kind, table, target] of [
    ['a classification', classTable, 'y'],
    ['a regression', priceTable, 'price'],
  ] as const) {
    it(`${kind} CSV model: the graph takes raw columns; onnxruntime gives gradpool predict's answers within 1e-5`, async (t) => {
      const dir = tempDir(t);
      const data = join(dir, 't.csv');
      writeFileSync(data, table(400));
      const trained = await train({
        data: `csv:${data}`,
        target: [target],
        hidden: [16],
        epochs: 4,
        threads: 2,
      });
      const modelPath = join(dir, 'm.safetensors');
      saveTrainedModel(modelPath, trained);
      const onnxPath = join(dir, 'm.onnx');
      const r = runCli(['export', '--model', modelPath, '--out', onnxPath]);
      assert.equal(r.status, 0, r.stderr);
      const model = loadModel(modelPath);
      const p = model.preprocessing as TablePreprocessing;
      const records = recordsOf(table(200, 77));
      const feeds = feedsOf(p, records);
      const session = await ort.InferenceSession.create(onnxPath);
      const out = await session.run(feeds);
      const predictor = await Predictor.open(model, { threads: 2 });
      const answers = await predictor.predictRecords(records, true);
      await predictor.close();
      await session.release();
      let worst = 0;
      if (p.target.task === 'classify') {
        const classes = p.target.classes;
        const got = out.probabilities.data as Float32Array;
        answers.forEach((a, i) => {
          const probabilities = (a as { probabilities: Record<string, number> }).probabilities;
          classes.forEach((c, k) => {
            worst = Math.max(worst, Math.abs(got[i * classes.length + k] - probabilities[c]));
          });
        });
        assert.ok(worst <= 1e-5, `largest probability difference ${worst}`);
      } else {
        const got = out.values.data as Float32Array;
        answers.forEach((a, i) => {
          const want = (a as { values: Record<string, number> }).values.price;
          worst = Math.max(worst, Math.abs(got[i] - want) / Math.abs(want));
        });
        assert.ok(worst <= 1e-5, `largest relative difference ${worst}`);
      }
      // a category the model never saw fails in the graph as in gradpool
      const unseen = { ...feeds };
      const category = p.inputs.find((c) => c.kind === 'category')!;
      unseen[category.name] = new ort.Tensor(
        'string',
        records.map(() => 'never-seen'),
        [records.length, 1],
      );
      const again = await ort.InferenceSession.create(onnxPath, { logSeverityLevel: 4 });
      await assert.rejects(again.run(unseen), /Unknown Category/);
      await again.release();
    });
  }

  it('a CSV model with columns named like the graph’s own values (x0, z0, mean.0, gradpool/x0 …) and a timestamp: onnxruntime agrees within 1e-5', async (t) => {
    const dir = tempDir(t);
    const data = join(dir, 'names.csv');
    writeFileSync(data, awkwardTable(400, 3));
    const trained = await train({ data: `csv:${data}`, target: ['y'], hidden: [16], epochs: 6, threads: 2 });
    const modelPath = join(dir, 'm.safetensors');
    saveTrainedModel(modelPath, trained);
    const onnxPath = join(dir, 'm.onnx');
    const r = runCli(['export', '--model', modelPath, '--out', onnxPath]);
    assert.equal(r.status, 0, r.stderr);
    const model = loadModel(modelPath);
    const p = model.preprocessing as TablePreprocessing;
    assert.deepEqual(
      p.inputs.map((c) => c.name),
      AWKWARD,
    );
    const records = recordsOf(awkwardTable(200, 9));
    const session = await ort.InferenceSession.create(onnxPath);
    const got = (await session.run(feedsOf(p, records))).probabilities.data as Float32Array;
    await session.release();
    const predictor = await Predictor.open(model, { threads: 2 });
    const answers = await predictor.predictRecords(records, true);
    await predictor.close();
    const classes = p.target.task === 'classify' ? p.target.classes : [];
    let worst = 0;
    answers.forEach((a, i) => {
      const probabilities = (a as { probabilities: Record<string, number> }).probabilities;
      classes.forEach((c, k) => {
        worst = Math.max(worst, Math.abs(got[i * classes.length + k] - probabilities[c]));
      });
    });
    assert.ok(worst <= 1e-5, `largest probability difference ${worst}`);
    // the class follows the time within its 1000 s: a time read as float32 (128 s apart) loses it
    const right = answers.filter((a, i) => 'class' in a && a.class === records[i].y).length;
    assert.ok(right / records.length > 0.8, `accuracy ${right / records.length}`);
  });

  it('a CSV model with a column named as the graph’s output: the export is refused with one line', async (t) => {
    const dir = tempDir(t);
    const data = join(dir, 'v.csv');
    writeFileSync(data, priceTable(200).replace('area,age,zone,price', 'values,age,zone,price'));
    const trained = await train({
      data: `csv:${data}`,
      target: ['price'],
      hidden: [4],
      epochs: 1,
      threads: 2,
    });
    const modelPath = join(dir, 'm.safetensors');
    saveTrainedModel(modelPath, trained);
    const out = join(dir, 'm.onnx');
    const r = runCli(['export', '--model', modelPath, '--out', out]);
    assert.equal(r.status, 2);
    assert.equal(
      r.stderr,
      "gradpool: column 'values' has the name of the ONNX graph's output 'values': rename the column and train again to export this model\n",
    );
    assert.equal(existsSync(out), false);
  });

  it('bad input: one line naming the flag, exit 2, nothing written', (t) => {
    const dir = tempDir(t);
    const model = join(dir, 'm.safetensors');
    saveModel(model, { layout: networkLayout([4, 3, 2], 'relu'), params: new Float32Array(23).fill(0.1) });
    const out = join(dir, 'm.onnx');
    const damaged = join(dir, 'damaged.safetensors');
    const bytes = readFileSync(model);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(damaged, bytes);
    for (const [args, message] of [
      [
        ['--model', model, '--format', 'tflite', '--out', out],
        /^gradpool: --format must be one of onnx, got 'tflite'\n$/,
      ],
      [
        ['--model', model, '--out', join(dir, 'no', 'm.onnx')],
        /^gradpool: --out .*: folder .* does not exist\n$/,
      ],
      [['--model', join(dir, 'none.safetensors'), '--out', out], /^gradpool: .*none\.safetensors/],
      [['--model', damaged, '--out', out], /checksum mismatch/],
      [['--model', model], /^gradpool: .*out/],
    ] as [string[], RegExp][]) {
      const r = runCli(['export', ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(existsSync(out), false);
    }
  });
});
