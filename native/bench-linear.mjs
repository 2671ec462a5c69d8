// Development benchmark: GFLOP/s of the native linear kernels (each ISA, fused) against
// wasm-relaxed-simd on the reference recipe's shapes, and the register-only peaks. GFLOP/s count
// the dense product (2·B·I·O) even where the kernel skips zeros, so a sparse path shows as a
// higher figure. Median (and range) of interleaved rounds; one thread.
//
//   node native/bench-linear.mjs [rounds=7] [ms per measurement=40]
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--experimental-wasm-relaxed-simd');
const here = new URL('.', import.meta.url);
const dist = process.env.GRADPOOL_DIST ?? new URL('../dist/', here).pathname;
const addon = createRequire(import.meta.url)(new URL('build/Release/gradpool_native.node', here).pathname);
const ROUNDS = Number(process.argv[2] ?? 7);
const MS = Number(process.argv[3] ?? 40);

const memory = new WebAssembly.Memory({ initial: 512, maximum: 512, shared: true }); // 32 MiB
const f = new Float32Array(memory.buffer);
const instance = (file, imports = {}) => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(`${dist}/${file}`)), imports).exports;
const wx = instance('kernels-relaxed.wasm', { env: { memory, abort() {} } });
const wasm = {
  linearForward: (out, a, w, bias, B, I, O, pack, ldo = O) => wx.linearForward(out * 4, a * 4, w * 4, bias * 4, B, I, O, pack * 4, ldo),
  linearBackwardParams: (dw, db, dz, a, B, I, O, o0, o1, pack) =>
    wx.linearBackwardParams(dw * 4, db * 4, dz * 4, a * 4, B, I, O, o0, o1, pack * 4),
  linearBackwardInput: (da, dz, w, B, I, O, pack) => wx.linearBackwardInput(da * 4, dz * 4, w * 4, B, I, O, pack * 4),
};
const peakWasm = instance('peak-relaxed.wasm');

const cpu = addon.cpu();
const impls = [];
if (cpu.avx512) impls.push(['native avx512 fused', addon.bind(f, 'avx512', true)]);
if (cpu.avx2 && cpu.fma) impls.push(['native avx2 fused', addon.bind(f, 'avx2', true)]);
if (cpu.avx512) impls.push(['native avx512 unfused', addon.bind(f, 'avx512', false)]);
impls.push(['wasm relaxed', wasm]);

let seed = 7;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const fillAt = (at, n, zeros, scale) => {
  for (let i = 0; i < n; i++) f[at + i] = rnd() < zeros ? 0 : (rnd() - 0.5) * 2 * scale;
};

// one layout big enough for every case: 128 × 784 × 256, every buffer on a 64-byte line as the
// trainer's arena places them (src/nn/scratch.ts: ALIGN)
const A = 1024, W = A + 128 * 784, BIAS = W + 256 * 784, DZ = BIAS + 256, DZS = DZ + 128 * 256;
const OUT = DZS + 128 * 256, PACK = OUT + 256 * 784 + 256;
// MNIST-like a (a third of the inputs zero in every row, half of the rest zero), relu-like dz
fillAt(A, 128 * 784, 0.5, 1);
for (let r = 0; r < 128; r++) f.fill(0, A + r * 784, A + r * 784 + 261);
fillAt(W, 256 * 784, 0, 0.05);
fillAt(BIAS, 256, 0, 0.1);
fillAt(DZ, 128 * 256, 0, 0.01);
fillAt(DZS, 128 * 256, 0.7, 0.01);

const AD = PACK + 8192; // a without zeros: every group of inputs multiplied (the forward's dense loop)
fillAt(AD, 128 * 784, 0, 1);
const cases = [
  ['forward 784→256, 128 rows, dense a', 2 * 128 * 784 * 256, (k) => k.linearForward(OUT, AD, W, BIAS, 128, 784, 256, PACK)],
  ['forward 784→256, 128 rows', 2 * 128 * 784 * 256, (k) => k.linearForward(OUT, A, W, BIAS, 128, 784, 256, PACK)],
  ['forward 784→256, 8 rows', 2 * 8 * 784 * 256, (k) => k.linearForward(OUT, A, W, BIAS, 8, 784, 256, PACK)],
  ['forward 784→256, 4 rows', 2 * 4 * 784 * 256, (k) => k.linearForward(OUT, A, W, BIAS, 4, 784, 256, PACK)],
  ['weight grad 128×784, 256 out, dense dz', 2 * 128 * 784 * 256,
    (k) => k.linearBackwardParams(OUT, OUT + 256 * 784, DZ, A, 128, 784, 256, 0, 256, PACK)],
  ['weight grad 128×784, 256 out, 70 % zero dz', 2 * 128 * 784 * 256,
    (k) => k.linearBackwardParams(OUT, OUT + 256 * 784, DZS, A, 128, 784, 256, 0, 256, PACK)],
  ['input grad 4×256, 128 out, dense dz', 2 * 4 * 256 * 128, (k) => k.linearBackwardInput(OUT, DZ, W, 4, 256, 128, PACK)],
  ['input grad 4×256, 128 out, 70 % zero dz', 2 * 4 * 256 * 128, (k) => k.linearBackwardInput(OUT, DZS, W, 4, 256, 128, PACK)],
  ['input grad 128×256, 128 out, 70 % zero dz', 2 * 128 * 256 * 128,
    (k) => k.linearBackwardInput(OUT, DZS, W, 128, 256, 128, PACK)],
];

/** calls per measurement so one lasts about MS */
function calibrate(fn) {
  let n = 1;
  for (;;) {
    const t = performance.now();
    for (let i = 0; i < n; i++) fn();
    const dt = performance.now() - t;
    if (dt > MS / 4) return Math.max(1, Math.round((n * MS) / dt));
    n *= 4;
  }
}
const gflops = (flops, n, ms) => (flops * n) / ms / 1e6;

const rows = [];
for (const [label, flops, run] of cases) for (const [name, k] of impls) rows.push({ label, name, flops, fn: () => run(k) });
const peakIters = 2e6;
if (cpu.avx512) rows.push({ label: 'register-only peak', name: 'native avx512 fused', peak: () => addon.peak('avx512', true, peakIters) });
if (cpu.avx2 && cpu.fma) rows.push({ label: 'register-only peak', name: 'native avx2 fused', peak: () => addon.peak('avx2', true, peakIters) });
if (cpu.avx512) rows.push({ label: 'register-only peak', name: 'native avx512 unfused', peak: () => addon.peak('avx512', false, peakIters) });
// peakMadd: 12 f32x4 multiply-adds a round = 96 FLOP
rows.push({ label: 'register-only peak', name: 'wasm relaxed', peak: () => (peakWasm.peakMadd(peakIters, 1.0001), 96 * peakIters) });

for (const r of rows) {
  if (r.peak) r.fn = r.peak;
  r.n = r.peak ? 1 : calibrate(r.fn);
  r.samples = [];
}
for (let round = 0; round < ROUNDS; round++) {
  for (const r of rows) {
    const t = performance.now();
    let done = 0;
    for (let i = 0; i < r.n; i++) {
      const x = r.fn();
      if (r.peak) done += x;
    }
    const dt = performance.now() - t;
    r.samples.push(r.peak ? done / dt / 1e6 : gflops(r.flops, r.n, dt));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${cpus()[0].model}, ${cpus().length} cores, Node ${process.version}; GFLOP/s, median [min–max] of ${ROUNDS} interleaved rounds`);
let last = '';
for (const r of rows) {
  if (r.label !== last) console.log(r.label);
  last = r.label;
  const s = r.samples;
  console.log(`  ${r.name.padEnd(24)} ${median(s).toFixed(1).padStart(7)}  [${Math.min(...s).toFixed(1)}–${Math.max(...s).toFixed(1)}]`);
}
