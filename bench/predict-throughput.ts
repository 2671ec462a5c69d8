// Prediction throughput, gradpool's warm Predictor against onnxruntime-node on the same model
// (784-256-128-10 relu, seeded weights, exported by `gradpool export`'s encoder) and the same
// 10,000 MNIST test rows, threads matched, alternating rounds in one process (each timed run
// after an untimed one of the same engine): rows/s, median of the rounds.
// onnxruntime's intra-op pool spins between runs by default, which keeps a core busy while
// gradpool's run follows in the same process; --ort-no-spin turns that off
// (session.intra_op.allow_spinning 0).
// Usage: node dist/bench/predict-throughput.js [threads…] [--rounds N] [--ort-no-spin]

import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadDataset } from '../src/data/dataset.js';
import { encodeOnnx } from '../src/io/onnx-export.js';
import { initParams } from '../src/nn/init.js';
import { networkLayout } from '../src/nn/layout.js';
import { Predictor } from '../src/train/predictor.js';

const { values, positionals } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, 'ort-no-spin': { type: 'boolean', default: false } },
  allowPositionals: true,
});
const threadList = positionals.length ? positionals.map(Number) : [1, 2];
const rounds = Number(values.rounds);
const net = networkLayout([784, 256, 128, 10], 'relu');
const params = new Float32Array(net.size);
initParams(net, 1, params);
const model = { layout: net, params };
const data = await loadDataset('mnist');
const N = 10_000;
// 10,000 rows: the test split's 2,000 five times
const pixels = new Uint8Array(N * 784);
for (let i = 0; i < N; i++)
  pixels.set(data.test.inputs.subarray((i % 2000) * 784, ((i % 2000) + 1) * 784), i * 784);
const floats = Float32Array.from(pixels);
const onnx = encodeOnnx(model, 'bench');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`| threads | gradpool rows/s | onnxruntime-node rows/s | ratio |`);
console.log(`|---:|---:|---:|---:|`);
for (const threads of threadList) {
  const predictor = await Predictor.open(model, { threads, capacity: N });
  const session = await ort.InferenceSession.create(onnx, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    ...(values['ort-no-spin'] ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  });
  const input = new ort.Tensor('float32', floats, [N, 784]);
  const g: number[] = [];
  const o: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // each engine's idle threads spin a while after a run before they sleep (onnxruntime's
    // pool by default, gradpool's workers for GRADPOOL_SPIN polls): on a machine with as many
    // cores as threads, the other's first run would share its cores with them, so each timed
    // run follows an untimed one of its own
    await predictor.run(pixels, N);
    let t = performance.now();
    await predictor.run(pixels, N);
    g.push(N / ((performance.now() - t) / 1000));
    await session.run({ input });
    t = performance.now();
    await session.run({ input });
    o.push(N / ((performance.now() - t) / 1000));
  }
  await predictor.close();
  await session.release();
  const [gm, om] = [median(g), median(o)];
  console.log(
    `| ${threads} | ${Math.round(gm).toLocaleString('en-US')} | ${Math.round(om).toLocaleString('en-US')} | ${(gm / om).toFixed(2)} |`,
  );
}
