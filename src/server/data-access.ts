import { closeSync, createReadStream, existsSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { createGunzip } from 'node:zlib';
import { FASHION_MNIST_DIR, IDX_FILES } from '../data/dataset.js';
import { MNIST_TRAIN_COUNT } from '../data/mnist-package.js';
import { UsageError } from '../errors.js';

// What a job may read: the embedded datasets, and IDX folders under --data-root only
// (no '..', no NUL, no symlink that leads out), and how many inputs each has, found before
// anything is loaded so parameter caps apply first.

/** Resolves an `idx:` path inside the data root, or throws. */
export function checkDataSpec(spec: string, dataRoot: string | null): void {
  if (spec.includes('\0')) throw new UsageError('data: NUL in the dataset path');
  if (!spec.startsWith('idx:')) return;
  if (!dataRoot)
    throw new UsageError('data: idx: datasets are disabled; start the server with --data-root DIR');
  const raw = spec.slice(4);
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {}
  if ([raw, decoded].some((p) => p.split(/[\\/]/).includes('..')))
    throw new UsageError(`data: '..' is not allowed in ${spec}`);
  if (!existsSync(dataRoot)) throw new UsageError("data: the server's --data-root no longer exists");
  const root = realpathSync(dataRoot);
  const target = resolve(root, raw);
  if (!existsSync(target)) throw new UsageError(`data: ${spec} does not exist under the data root`);
  const real = realpathSync(target);
  const rel = relative(root, real);
  if (rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel))
    throw new UsageError(`data: ${spec} leads outside the data root`);
}

/** idx: paths in jobs are relative to the data root. */
export function resolveDataSpec(spec: string, dataRoot: string | null): string {
  return spec.startsWith('idx:') && dataRoot ? `idx:${resolve(realpathSync(dataRoot), spec.slice(4))}` : spec;
}

export interface DataShape {
  /** inputs per row */
  features: number;
  /** training rows, where this machine can tell (Fashion-MNIST may live only on queue workers) */
  trainRows: number | null;
}

/** Inputs per row and training rows of a dataset, reading at most an IDX header. */
export async function dataShape(spec: string): Promise<DataShape> {
  if (spec === 'mnist') return { features: 784, trainRows: MNIST_TRAIN_COUNT };
  const idx = spec.startsWith('idx:');
  if (!idx && spec !== 'fashion-mnist')
    throw new UsageError(`data: unknown dataset '${spec}': expected mnist, fashion-mnist or idx:DIR`);
  const dir = idx ? spec.slice(4) : process.env.FASHION_MNIST || FASHION_MNIST_DIR;
  for (const name of [IDX_FILES.trainImages, `${IDX_FILES.trainImages}.gz`]) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const head = name.endsWith('.gz') ? await gunzipHead(path, 16) : readHead(path, 16);
    if (head.length < 16) throw new UsageError(`data: ${path} is too short for an IDX header`);
    return { features: head.readUInt32BE(8) * head.readUInt32BE(12), trainRows: head.readUInt32BE(4) };
  }
  if (!idx) return { features: 784, trainRows: null };
  throw new UsageError(`data: ${dir} has no ${IDX_FILES.trainImages}`);
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
