import { closeSync, createReadStream, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { DataError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { MNIST_TRAIN_COUNT } from './mnist-package.js';
import { IDX_FILES, parseDataSpec } from './spec.js';
import { CLASSES } from './split.js';

// What "can this run?" needs to know of a dataset: inputs per row, classes, training rows.
// Known from a loaded dataset, or read from a spec before anything is loaded (at most an IDX
// header), so the server refuses an impossible job at submission.

export interface DataShape {
  /** inputs per row */
  readonly features: number;
  /** outputs of the model */
  readonly classes: number;
  /** training rows, where this machine can tell (Fashion-MNIST may live only on queue workers) */
  readonly trainRows: number | null;
}

export function shapeOf(dataset: Dataset): DataShape {
  return { features: dataset.features, classes: dataset.classes, trainRows: dataset.train.count };
}

/** The shape of the dataset `spec` names, reading at most an IDX header. */
export async function dataShape(spec: string): Promise<DataShape> {
  const source = parseDataSpec(spec);
  if (source.kind === 'mnist') return { features: 784, classes: CLASSES, trainRows: MNIST_TRAIN_COUNT };
  for (const name of [IDX_FILES.trainImages, `${IDX_FILES.trainImages}.gz`]) {
    const path = join(source.dir, name);
    if (!existsSync(path)) continue;
    const head = name.endsWith('.gz') ? await gunzipHead(path, 16) : readHead(path, 16);
    if (head.length < 16) throw new DataError(`${path} is too short for an IDX header`);
    return {
      features: head.readUInt32BE(8) * head.readUInt32BE(12),
      classes: CLASSES,
      trainRows: head.readUInt32BE(4),
    };
  }
  // Fashion-MNIST's shape is known; whether it is installed is the runner's business
  if (source.kind === 'fashion-mnist') return { features: 784, classes: CLASSES, trainRows: null };
  throw new DataError(`${source.dir} has no ${IDX_FILES.trainImages}`);
}

function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

function gunzipHead(path: string, n: number): Promise<Buffer> {
  return new Promise((done) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const input = createReadStream(path);
    const gunzip = createGunzip();
    const finish = () => {
      input.destroy();
      gunzip.destroy();
      done(Buffer.concat(chunks).subarray(0, n));
    };
    gunzip.on('data', (c: Buffer) => {
      chunks.push(c);
      total += c.length;
      if (total >= n) finish();
    });
    gunzip.on('error', finish);
    gunzip.on('end', finish);
    input.pipe(gunzip);
  });
}
