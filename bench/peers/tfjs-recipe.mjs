// TensorFlow.js on the reference recipe (784-256-128-10 relu, softmax-CE, SGD 0.05 momentum
// 0.9, batch 128), one thread: the JavaScript peer gradpool is compared with. Prints one JSON
// line {peer, backend, samplesPerSec, steps}. Usage: node tfjs-recipe.mjs <wasm|cpu> <seconds> <data spec>
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadDataset } from '../../dist/src/data/dataset.js';

const [backend = 'wasm', secondsArg = '5', spec = 'mnist'] = process.argv.slice(2);
await tf.setBackend(backend);
await tf.ready();
const data = await loadDataset(spec);
const B = 128;
const batches = Math.min(50, Math.floor(data.train.count / B));
const xs = [];
const ys = [];
for (let b = 0; b < batches; b++) {
  const x = new Float32Array(B * data.features);
  for (let i = 0; i < x.length; i++) x[i] = data.train.inputs[b * B * data.features + i] / 255;
  xs.push(tf.tensor2d(x, [B, data.features]));
  ys.push(tf.oneHot(tf.tensor1d(Array.from(data.train.targets.subarray(b * B, (b + 1) * B)), 'int32'), 10).cast('float32'));
}
const model = tfl.sequential({
  layers: [
    tfl.layers.dense({ inputShape: [data.features], units: 256, activation: 'relu' }),
    tfl.layers.dense({ units: 128, activation: 'relu' }),
    tfl.layers.dense({ units: 10, activation: 'softmax' }),
  ],
});
model.compile({ optimizer: tf.train.momentum(0.05, 0.9), loss: 'categoricalCrossentropy' });
let steps = 0;
for (let i = 0; i < 5; i++) await model.trainOnBatch(xs[i % batches], ys[i % batches]);
const start = performance.now();
const end = start + Number(secondsArg) * 1000;
while (performance.now() < end) {
  await model.trainOnBatch(xs[steps % batches], ys[steps % batches]);
  steps++;
}
const seconds = (performance.now() - start) / 1000;
console.log(JSON.stringify({ peer: 'tensorflow.js', backend, version: tf.version_core, samplesPerSec: (steps * B) / seconds, steps }));
