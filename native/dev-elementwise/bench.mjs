// Rough speeds of the five elementwise kernels: native (harness bench, each ISA) against the
// wasm simd build, best of --reps calls on the same inputs (harness.c: bench).
//   node native/dev-elementwise/bench.mjs [--n=65536] [--reps=50]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const OUT = process.env.GPEW ?? '/tmp/gpew';
const opt = (name, dflt) => {
  const a = process.argv.slice(2).find((s) => s.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
};
const n = Number(opt('n', 65536));
const reps = Number(opt('reps', 50));
const memory = new WebAssembly.Memory({ initial: 2048, maximum: 65536, shared: true });
const X = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(`${OUT}/kernels.wasm`)), {
  env: { memory, abort: () => {} },
}).exports;
const base = 65536 / 4;
const arr = (i) => new Float32Array(memory.buffer, (base + i * (n + 64)) * 4, n);
const ptr = (i) => (base + i * (n + 64)) * 4;
const init = (i) => {
  const a = arr(i);
  for (let j = 0; j < n; j++) a[j] = Math.fround(((j * 7919) % 2003 - 1001) / 300);
};
for (let i = 0; i < 7; i++) init(i);
for (let j = 0; j < n; j++) arr(2)[j] = j % 10;
const calls = {
  relu: () => X.activationForward(0, ptr(0), n),
  tanh: () => X.activationForward(1, ptr(0), n),
  sigmoid: () => X.activationForward(2, ptr(0), n),
  relu_bwd: () => X.activationBackward(0, ptr(0), ptr(1), n),
  tanh_bwd: () => X.activationBackward(1, ptr(0), ptr(1), n),
  softmax10: () => X.softmaxCrossEntropy(ptr(0), ptr(2), Math.floor(n / 10), 10),
  sgd: () => X.sgdUpdate(ptr(0), ptr(1), ptr(0), ptr(1), ptr(3), n, 0.01, 0.9, 0, 1 / 128, 0),
  sgd_nag: () => X.sgdUpdate(ptr(0), ptr(1), ptr(0), ptr(1), ptr(3), n, 0.01, 0.9, 1e-4, 1 / 128, 1),
  adam: () => X.adamUpdate(ptr(0), ptr(1), ptr(2), ptr(0), ptr(1), ptr(2), ptr(3), n, 1e-3, 0.9, 0.999, 1e-8, 0, 1, 1.2, 1 / 128),
  adamw: () =>
    X.adamUpdate(ptr(0), ptr(1), ptr(2), ptr(0), ptr(1), ptr(2), ptr(3), n, 1e-3, 0.9, 0.999, 1e-8, 0, 0.9999, 1.2, 1 / 128),
};
const reset = new Set(['relu', 'tanh', 'sigmoid', 'softmax10']);
console.log(`n = ${n} floats, best of ${reps}; ns per float (speed-up over wasm)`);
for (const [k, f] of Object.entries(calls)) {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
    if (reset.has(k)) init(0);
  }
  const wasm = (best * 1e6) / n;
  const cols = [`wasm ${wasm.toFixed(2)}`];
  for (const isa of ['avx512', 'avx2']) {
    const s = Number(execFileSync(`${OUT}/harness`, ['bench', isa, k, String(n), String(reps)]).toString());
    const ns = (s * 1e9) / n;
    cols.push(`${isa} ${ns.toFixed(2)} (${(wasm / ns).toFixed(1)}×)`);
  }
  console.log(`${k.padEnd(10)} ${cols.join('  ')}`);
}
