// Development check: the native linear kernels give the bits of the wasm build of their
// arithmetic (fused = dist/kernels-relaxed.wasm, unfused = dist/kernels.wasm), for every ISA
// this CPU runs, on odd shapes, inputs with exact zeros (and whole zero rows), and every way
// the pool splits a call: by rows (forward, input gradient) and by blocks of outputs (weight
// gradient). It also checks that no kernel writes outside its outputs or its scratch, with the
// scratch exactly kernelScratchFloats of the call and on an odd address.
//
//   node native/test-bits.mjs            (from the repository root, after npm run build:wasm)
//   GRADPOOL_DIST=... points at another built dist/.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--experimental-wasm-relaxed-simd');
const here = new URL('.', import.meta.url);
const dist = process.env.GRADPOOL_DIST ?? new URL('../dist/', here).pathname;
const addon = createRequire(import.meta.url)(new URL('build/Release/gradpool_native.node', here).pathname);

const memory = new WebAssembly.Memory({ initial: 1024, maximum: 1024, shared: true }); // 64 MiB
const f = new Float32Array(memory.buffer);
const u = new Uint32Array(memory.buffer);

function wasmKernels(file) {
  const mod = new WebAssembly.Module(readFileSync(`${dist}/${file}`));
  const x = new WebAssembly.Instance(mod, { env: { memory, abort: () => { throw new Error('abort'); } } }).exports;
  return {
    x,
    linearForward: (out, a, w, bias, B, I, O, pack, ldo = O) => x.linearForward(out * 4, a * 4, w * 4, bias * 4, B, I, O, pack * 4, ldo),
    linearBackwardParams: (dw, db, dz, a, B, I, O, o0, o1, pack) =>
      x.linearBackwardParams(dw * 4, db * 4, dz * 4, a * 4, B, I, O, o0, o1, pack * 4),
    linearBackwardInput: (da, dz, w, B, I, O, pack) => x.linearBackwardInput(da * 4, dz * 4, w * 4, B, I, O, pack * 4),
  };
}
const simd = wasmKernels('kernels.wasm');
const relaxed = wasmKernels('kernels-relaxed.wasm');
const probe = 1 + 2 ** -12;
if (relaxed.x.maddProbe(probe, probe, -1) === 2 ** -11) throw new Error('kernels-relaxed.wasm is not fused here');

const cpu = addon.cpu();
const variants = [];
for (const isa of ['avx512', 'avx2']) {
  if (isa === 'avx512' ? !cpu.avx512 : !cpu.avx2) continue;
  for (const fused of [true, false]) {
    if (fused && !cpu.fma) continue;
    variants.push({ name: `${isa}${fused ? ' fused' : ''}`, k: addon.bind(f, isa, fused), ref: fused ? relaxed : simd });
  }
}
console.log('cpu', cpu, '\nvariants', variants.map((v) => v.name).join(', '));

// the contract's scratch size, from the build under test
const { kernelScratchFloats: scratch } = await import(`${dist}/src/nn/kernels/types.js`);

let seed = 12345;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
/** n floats at `at`: a fraction `zeros` exact zeros (a few −0), the rest in ±scale; rows listed in zeroRows all zero */
function fillSparse(at, rows, cols, zeros, scale, zeroRows = []) {
  for (let i = 0; i < rows * cols; i++) {
    const z = rnd() < zeros;
    f[at + i] = z ? (rnd() < 0.05 ? -0 : 0) : (rnd() - 0.5) * 2 * scale;
  }
  for (const r of zeroRows) if (r < rows) f.fill(0, at + r * cols, at + (r + 1) * cols);
}

// canaries: a NaN pattern around every range a kernel may write
const CANARY = 0x7fc0dead;
const GUARD = 24;
function guard(at, n) {
  u.fill(CANARY, at - GUARD, at);
  u.fill(CANARY, at + n, at + n + GUARD);
}
function guardIntact(at, n) {
  for (let i = at - GUARD; i < at; i++) if (u[i] !== CANARY) return false;
  for (let i = at + n; i < at + n + GUARD; i++) if (u[i] !== CANARY) return false;
  return true;
}

// shapes: B × I × O
const SIZES = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100];
const ROWS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 33];
const shapes = [
  [128, 784, 256], [128, 256, 128], [128, 128, 10], [8, 784, 256], [4, 784, 256], [4, 256, 128], [5, 784, 100],
  [33, 785, 33], [16, 783, 17], [9, 100, 257], [128, 17, 31], [1, 784, 10], [7, 1, 1], [1, 1, 1], [3, 5, 7],
  [128, 33, 33], [16, 1000, 9], [6, 24, 40], [2, 7, 2], [64, 784, 256],
];
for (let i = 0; i < 60; i++) {
  shapes.push([ROWS[Math.floor(rnd() * ROWS.length)], SIZES[Math.floor(rnd() * SIZES.length)], SIZES[Math.floor(rnd() * SIZES.length)]]);
}
const ZEROS = [0.4, 0, 0.7, 0.95, 0.4, 0.3, 0.55];

const stats = {};
const bump = (key, cases, floats, diff) => {
  const s = (stats[key] ??= { cases: 0, floats: 0, differing: 0 });
  s.cases += cases;
  s.floats += floats;
  s.differing += diff;
};
let guardFailures = 0;
const failures = [];

function diffCount(a, b, n) {
  let d = 0;
  for (let i = 0; i < n; i++) if (u[a + i] !== u[b + i]) d++;
  return d;
}

for (let si = 0; si < shapes.length; si++) {
  const [B, I, O] = shapes[si];
  const zA = ZEROS[si % ZEROS.length];
  const zZ = ZEROS[(si + 3) % ZEROS.length];
  // odd offsets everywhere: the kernels may assume nothing but 4-byte alignment
  let at = 1024 + 3;
  const take = (n) => { const p = at; at += n + 2 * GUARD + 5; return p; };
  const a = take(B * I), w = take(O * I), bias = take(O), dz = take(B * O);
  const maxOut = Math.max(B * O, B * I, O * I + O);
  const ref = take(maxOut), got = take(maxOut);
  const pack = take(scratch([I, O], B) + 64);
  fillSparse(a, B, I, zA, 1, B > 2 ? [1, B - 1] : []);
  // every third shape: a third of the inputs zero in every row (MNIST's borders: the forward skips those groups)
  if (si % 3 === 0) for (let r = 0; r < B; r++) f.fill(0, a + r * I + Math.floor(I / 3), a + r * I + Math.floor((2 * I) / 3));
  fillSparse(w, O, I, 0.02, 0.1);
  fillSparse(bias, 1, O, 0.1, 0.5);
  fillSparse(dz, B, O, zZ, 0.01, B > 3 ? [2] : []);
  const shape = `${B}×${I}×${O}`;

  for (const { name, k, ref: wasm } of variants) {
    // forward
    wasm.linearForward(ref, a, w, bias, B, I, O, pack);
    for (const split of [B, 16, 8, 5, 4, 1].filter((s, i, l) => s <= B && l.indexOf(s) === i)) {
      u.fill(0, got, got + B * O);
      guard(got, B * O);
      let ok = true;
      for (let r = 0; r < B; r += split) {
        const n = Math.min(split, B - r);
        const need = scratch([I, O], n);
        guard(pack, need);
        k.linearForward(got + r * O, a + r * I, w, bias, n, I, O, pack);
        ok &&= guardIntact(pack, need);
      }
      ok &&= guardIntact(got, B * O);
      if (!ok) { guardFailures++; failures.push(`${name} forward ${shape} split ${split}: wrote outside`); }
      const d = diffCount(ref, got, B * O);
      if (d) failures.push(`${name} forward ${shape} split ${split}: ${d} floats differ`);
      bump(`${name} linearForward`, 1, B * O, d);
    }
    // input gradient
    // The reference is wasm with the same split: a call's rows past its last tile of 4 are
    // rowTimesColumn, unfused, so wasm-relaxed's own bits depend on where a call's rows start.
    for (const split of [B, 16, 8, 5, 4, 1].filter((s, i, l) => s <= B && l.indexOf(s) === i)) {
      for (let r = 0; r < B; r += split) {
        wasm.linearBackwardInput(ref + r * I, dz + r * O, w, Math.min(split, B - r), I, O, pack);
      }
      if (split === B) u.copyWithin(got, ref, ref + B * I); // keep the whole-call bits to compare splits with
      else bump(`(wasm ${name.endsWith('fused') ? 'relaxed' : 'simd'} input, split vs whole)`, 1, B * I, diffCount(ref, got, B * I));
      u.fill(0, got, got + B * I);
      guard(got, B * I);
      let ok = true;
      for (let r = 0; r < B; r += split) {
        const n = Math.min(split, B - r);
        const need = scratch([I, O], n);
        guard(pack, need);
        k.linearBackwardInput(got + r * I, dz + r * O, w, n, I, O, pack);
        ok &&= guardIntact(pack, need);
      }
      ok &&= guardIntact(got, B * I);
      if (!ok) { guardFailures++; failures.push(`${name} input ${shape} split ${split}: wrote outside`); }
      const d = diffCount(ref, got, B * I);
      if (d) failures.push(`${name} input ${shape} split ${split}: ${d} floats differ`);
      bump(`${name} linearBackwardInput`, 1, B * I, d);
    }
    // weight gradient: dw at ref, db right after it
    wasm.linearBackwardParams(ref, ref + O * I, dz, a, B, I, O, 0, O, pack);
    const cut = 4 * Math.floor((rnd() * O) / 4);
    const splits = [[0, O]];
    for (const blk of [4, 8, 12]) {
      if (blk >= O) continue;
      const s = [];
      for (let o0 = 0; o0 < O; o0 += blk) s.push([o0, Math.min(O, o0 + blk)]);
      splits.push(s);
    }
    if (cut > 0 && cut < O) splits.push([[0, cut], [cut, O]]);
    for (let sp of splits) {
      if (!Array.isArray(sp[0])) sp = [sp];
      u.fill(0, got, got + O * I + O);
      guard(got, O * I + O);
      let ok = true;
      for (const [o0, o1] of sp) {
        const need = scratch([I, O], B);
        guard(pack, need);
        k.linearBackwardParams(got + o0 * I, got + O * I + o0, dz, a, B, I, O, o0, o1, pack);
        ok &&= guardIntact(pack, need);
      }
      ok &&= guardIntact(got, O * I + O);
      if (!ok) { guardFailures++; failures.push(`${name} params ${shape} ${JSON.stringify(sp)}: wrote outside`); }
      const d = diffCount(ref, got, O * I + O);
      if (d) failures.push(`${name} params ${shape} split ${JSON.stringify(sp).slice(0, 40)}: ${d} floats differ`);
      bump(`${name} linearBackwardParams`, 1, O * I + O, d);
    }
  }
}

console.log(`${shapes.length} shapes (zeros in a and dz from {0, 30, 40, 55, 70, 95} %, whole zero rows, zero input columns),`);
console.log('forward and input gradient × row splits {B, 16, 8, 5, 4, 1}, weight gradient × output blocks {O, 4, 8, 12, two parts}:');
for (const [key, s] of Object.entries(stats)) {
  console.log(`  ${key.padEnd(36)} ${String(s.cases).padStart(4)} runs  ${String(s.floats).padStart(9)} floats  ${s.differing} differ`);
}
console.log(`writes outside outputs or scratch: ${guardFailures}`);
for (const line of failures.slice(0, 20)) console.log('  FAIL', line);
process.exit(failures.length ? 1 : 0);
