import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from '../src/data/dataset.js';
import { IMAGE_PREPROCESSING } from '../src/data/preprocessing.js';
import { sharedSplit } from '../src/data/split.js';
import { jsKernels } from '../src/nn/kernels/js.js';
import { naiveKernels } from '../src/nn/kernels/naive.js';
import { loadNativeAddon, NATIVE_ISAS, type NativeIsa, nativeKernels } from '../src/nn/kernels/native.js';
import type { Floats, Kernels } from '../src/nn/kernels/types.js';
import { instantiateWasmKernels } from '../src/nn/kernels/wasm.js';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const CLI = join(ROOT, 'dist/src/cli/main.js');

export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

/** A float32 arena in a shared wasm memory, so every kernel set can run on it. */
export function arena(floats: number): { memory: WebAssembly.Memory; m: Float32Array } {
  const pages = Math.ceil((floats * 4 + 65536) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  return { memory, m: new Float32Array(memory.buffer) };
}

/** Every native variant this machine runs, as `native avx512 fused`: each is tested on its own. */
export const NATIVE_VARIANTS: readonly string[] = (() => {
  const load = loadNativeAddon();
  if (!load.addon) return [];
  const fma = load.addon.cpu().fma;
  return NATIVE_ISAS.filter((isa) => load.isas.includes(isa)).flatMap((isa) =>
    fma ? [`native ${isa} fused`, `native ${isa}`] : [`native ${isa}`],
  );
})();

export const FAST_KERNELS: readonly string[] = ['js', 'wasm', ...NATIVE_VARIANTS];

/** naive, js, wasm (its fastest build here) or one of NATIVE_VARIANTS over `memory` */
export async function kernelsOn(name: string, memory: WebAssembly.Memory): Promise<Kernels> {
  const m = new Float32Array(memory.buffer);
  if (name === 'naive') return naiveKernels(m);
  if (name === 'js') return jsKernels(m);
  const native = /^native (avx512|avx2|neon)( fused)?$/.exec(name);
  if (native) return nativeKernels(memory, { isa: native[1] as NativeIsa, fused: Boolean(native[2]) });
  return instantiateWasmKernels(memory);
}

/** Deterministic pseudo-random fill in [lo, hi), independent of the library's Rng. */
export function fill(m: Floats, at: number, n: number, seed: number, lo = -1, hi = 1): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    m[at + i] = lo + ((hi - lo) * x) / 4294967296;
  }
}

/** max |a−b| / (atol + rtol·|b|) over n values: ≤ 1 means within tolerance. */
export function worstRatio(
  a: Floats,
  ai: number,
  b: Floats | number[],
  bi: number,
  n: number,
  atol: number,
  rtol: number,
) {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < n; i++) {
    const ratio = Math.abs(a[ai + i] - b[bi + i]) / (atol + rtol * Math.abs(b[bi + i]));
    if (!(ratio <= worst)) {
      worst = ratio;
      at = i;
    }
  }
  return { worst, at, got: a[ai + at], want: b[bi + at] };
}

/** A small synthetic dataset: class c lights up pixel block c, plus seeded noise. */
export function syntheticDataset(trainCount: number, testCount: number, features = 64, seed = 7): Dataset {
  const make = (count: number, s: number) => {
    const images = new Uint8Array(count * features);
    const labels = new Uint8Array(count);
    let x = s;
    for (let i = 0; i < count; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const c = x % 10;
      labels[i] = c;
      for (let p = 0; p < features; p++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        const on = Math.floor((p * 10) / features) === c;
        images[i * features + p] = (on ? 150 : 0) + (x >>> 25);
      }
    }
    return sharedSplit(images, labels, count);
  };
  return {
    spec: 'synthetic',
    task: 'classify',
    features,
    outputs: 10,
    preprocessing: IMAGE_PREPROCESSING,
    train: make(trainCount, seed),
    test: make(testCount, seed + 1),
  };
}

/** An IDX folder of `trainCount` + `testCount` side×side images like syntheticDataset's, raw files. */
export function writeIdxFolder(dir: string, trainCount: number, testCount: number, side = 28): void {
  const d = syntheticDataset(trainCount, testCount, side * side);
  mkdirSync(dir, { recursive: true });
  const header = (magic: number, dims: number[]) => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.writeUInt32BE(magic, 0);
    for (const [i, n] of dims.entries()) b.writeUInt32BE(n, 4 + 4 * i);
    return b;
  };
  const write = (name: string, split: Dataset['train']) => {
    const [images, labels] =
      name === 'train'
        ? ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']
        : ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
    writeFileSync(
      join(dir, images),
      Buffer.concat([header(0x0803, [split.count, side, side]), split.inputs as Uint8Array]),
    );
    writeFileSync(
      join(dir, labels),
      Buffer.concat([header(0x0801, [split.count]), Uint8Array.from(split.targets)]),
    );
  };
  write('train', d.train);
  write('test', d.test);
}

export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gradpool-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The Node that child processes run on: this one, or GRADPOOL_TEST_NODE (an arm64 Node under
 * qemu-user, which the kernel cannot start by its path: scripts/test-arm64-emulated.sh).
 */
export const NODE = process.env.GRADPOOL_TEST_NODE || process.execPath;

/** The CLI in a child process; `nodeArgs` go to node itself (V8 flags, for instance). */
export function runCli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): CliResult {
  const r = spawnSync(NODE, [...nodeArgs, CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `gradpool train --resume CKPT …resumeArgs` and `gradpool train …straightArgs` into `dir`;
 * asserts both succeed and write byte-identical models.
 */
export function assertResumeEqualsStraight(
  dir: string,
  ckpt: string,
  resumeArgs: string[],
  straightArgs: string[],
) {
  const resumed = join(dir, 'resumed.safetensors');
  const straight = join(dir, 'straight.safetensors');
  for (const args of [
    ['train', '--resume', ckpt, ...resumeArgs, '--out', resumed],
    ['train', ...straightArgs, '--out', straight],
  ]) {
    const r = runCli(args);
    assert.equal(r.status, 0, r.stderr);
  }
  assert.ok(readFileSync(resumed).equals(readFileSync(straight)), 'resumed and uninterrupted models differ');
}

/** A seeded stream of numbers in [0, 1) (an LCG: tables for tests, not statistics). */
function uniforms(seed: number): () => number {
  let x = seed;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
}

/**
 * The largest relative difference between the analytic gradient at m[grad + j] and central
 * finite differences of `loss` in each of the `size` parameters at m[0 …], with where it is.
 */
export function worstFiniteDifference(m: Floats, size: number, grad: number, loss: () => number, h = 1e-5) {
  let worst = 0;
  let where = '';
  for (let j = 0; j < size; j++) {
    const saved = m[j];
    m[j] = saved + h;
    const up = loss();
    m[j] = saved - h;
    const down = loss();
    m[j] = saved;
    const numeric = (up - down) / (2 * h);
    const analytic = m[grad + j];
    const rel = Math.abs(numeric - analytic) / Math.max(1e-3, Math.abs(numeric) + Math.abs(analytic));
    if (rel > worst) {
      worst = rel;
      where = `param ${j}: analytic ${analytic}, numeric ${numeric}`;
    }
  }
  return { worst, where };
}

/** A classification table: two numbers, a category, a class that depends on all three. */
export function classTable(n: number, seed = 3): string {
  const rnd = uniforms(seed);
  const rows = ['a,b,colour,y'];
  for (let i = 0; i < n; i++) {
    const a = rnd() * 100;
    const b = rnd() * 2 - 1;
    const colour = ['red', 'green', 'blue'][Math.floor(rnd() * 3)];
    const y = a / 100 + b + (colour === 'red' ? 0.5 : 0) > 0.7 ? 'high' : 'low';
    rows.push(`${a.toFixed(3)},${b.toFixed(4)},${colour},${y}`);
  }
  return `${rows.join('\n')}\n`;
}

/** A regression table: price in the hundreds from two numbers and a category. */
export function priceTable(n: number, seed = 5): string {
  const rnd = uniforms(seed);
  const rows = ['area,age,zone,price'];
  for (let i = 0; i < n; i++) {
    const area = 30 + rnd() * 170;
    const age = rnd() * 50;
    const zone = rnd() < 0.5 ? 'north' : 'south';
    const price = 50 + 2.5 * area - 1.5 * age + (zone === 'north' ? 40 : 0) + (rnd() - 0.5) * 10;
    rows.push(`${area.toFixed(2)},${age.toFixed(1)},${zone},${price.toFixed(2)}`);
  }
  return `${rows.join('\n')}\n`;
}

/**
 * A copy of the built project in `dir` whose native addon is `addon` (a file's bytes, or
 * undefined for none), to run the CLI where the addon is missing or broken.
 */
export function projectWithAddon(dir: string, addon: Buffer | undefined): string {
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  if (addon) {
    mkdirSync(join(dir, 'native/build/Release'), { recursive: true });
    writeFileSync(join(dir, 'native/build/Release/gradpool_native.node'), addon);
  }
  return join(dir, 'dist/src/cli/main.js');
}
