import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Kernels, kernelScratchFloats } from '../src/nn/kernels/types.js';
import { instantiateWasmKernels } from '../src/nn/kernels/wasm.js';
import { compileWasmVariant } from '../src/nn/kernels/wasm-module.js';
import { arena, FAST_KERNELS, fill, kernelsOn, worstRatio } from './helpers.js';

// Each fast kernel against its naive twin on the same inputs, on shapes that hit every tail
// of the SIMD tiles (1×1, 7×13, odd row counts) and the real layer 128×784×256. Float32
// sums of up to 784 products of values in [−1, 1] differ by order-of-summation rounding of
// about √n·2⁻²⁴·Σ|terms| ≈ 1e-5, so atol 1e-4 + rtol 1e-4 is loose for rounding yet tight
// for any wrong index.

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [5, 9, 3],
  [3, 17, 11],
  [9, 19, 22],
  [8, 784, 256],
  [128, 784, 256],
];
const ATOL = 1e-4;
const RTOL = 1e-4;

async function pair(fast: string) {
  const { memory, m } = arena(4_000_000);
  const naive = await kernelsOn('naive', memory);
  const k = await kernelsOn(fast, memory);
  return { m, naive, k };
}

function compare(m: Float32Array, a: number, b: number, n: number, what: string) {
  const w = worstRatio(m, a, m, b, n, ATOL, RTOL);
  assert.ok(w.worst <= 1, `${what}: element ${w.at} is ${w.got}, naive ${w.want}`);
}

/** One named wasm build on an arena of its own; null where this runtime cannot run it. */
async function wasmBuild(variant: 'simd' | 'relaxed'): Promise<{ m: Float32Array; k: Kernels } | null> {
  const { module } = await compileWasmVariant(variant);
  if (!module) return null;
  const { memory, m } = arena(1_000_000);
  return { m, k: await instantiateWasmKernels(memory, module) };
}

// Float32 emulation of one weight-gradient element summed over rows in order, each product
// rounded and then each sum (no fused multiply-add).
function roundedColumnSum(
  m: Float32Array,
  dz: number,
  a: number,
  B: number,
  I: number,
  O: number,
  o: number,
  k: number,
) {
  let s = 0;
  for (let r = 0; r < B; r++) s = Math.fround(s + Math.fround(m[dz + r * O + o] * m[a + r * I + k]));
  return s;
}

describe('the wasm weight gradient rounds as the sum in row order', () => {
  for (const variant of ['simd', 'relaxed'] as const) {
    it(`${variant} build: every element without fused multiply-add, the tails${variant === 'relaxed' ? ' only' : ''} with it`, async (t) => {
      const build = await wasmBuild(variant);
      if (!build) return t.skip(`the ${variant} build does not run here`);
      const { m, k } = build;
      // tiles of 16 and 8 inputs and a scalar tail of 5; chunks of 8 and 4 outputs, a tail of 2
      const [B, I, O] = [41, 45, 14];
      const a = 16384;
      const dz = a + B * I;
      const dw = dz + B * O;
      const pack = dw + O * I + O;
      fill(m, a, B * I, 11);
      fill(m, dz, B * O, 12);
      // outputs 0–7 mostly zero (the zero-skipping loop), 8–11 dense, 12–13 half zero
      for (let r = 0; r < B; r++)
        for (let o = 0; o < O; o++)
          if ((o < 8 && (r + o) % 5 !== 0) || (o >= 12 && r % 2)) m[dz + r * O + o] = 0;
      k.linearBackwardParams(dw, dw + O * I, dz, a, B, I, O, 0, O, pack);
      for (let o = 0; o < O; o++) {
        for (let kk = 0; kk < I; kk++) {
          if (variant === 'relaxed' && o < 12 && kk < 40) continue; // fused where the build fuses
          const want = roundedColumnSum(m, dz, a, B, I, O, o, kk);
          assert.equal(m[dw + o * I + kk], want, `dw[${o}][${kk}]`);
        }
      }
    });
  }
});

describe('the wasm forward rounds as four lanes over k, then the lanes, the tail and the bias', () => {
  it('simd build: every output of dense and mostly-zero inputs', async (t) => {
    const build = await wasmBuild('simd');
    if (!build) return t.skip('the simd build does not run here');
    const { m, k } = build;
    // a tile of mostly-zero rows (the loop over nonzero groups), a dense tile, 2 rows past them
    const [B, I, O] = [10, 51, 7];
    const a = 16384;
    const w = a + B * I;
    const bias = w + O * I;
    const out = bias + O;
    const pack = out + B * O;
    fill(m, a, pack - a, 41);
    for (let r = 0; r < 4; r++) for (let kk = 0; kk < 40; kk++) if (kk % 16 < 12) m[a + r * I + kk] = 0;
    k.linearForward(out, a, w, bias, B, I, O, pack);
    const f = Math.fround;
    for (let r = 0; r < B; r++) {
      for (let o = 0; o < O; o++) {
        const lanes = [0, 0, 0, 0];
        for (let kk = 0; kk < (I & ~3); kk++)
          lanes[kk % 4] = f(lanes[kk % 4] + f(m[a + r * I + kk] * m[w + o * I + kk]));
        let want = f(f(lanes[0] + lanes[1]) + f(lanes[2] + lanes[3]));
        for (let kk = I & ~3; kk < I; kk++) want = f(want + f(m[a + r * I + kk] * m[w + o * I + kk]));
        assert.equal(m[out + r * O + o], f(want + m[bias + o]), `out[${r}][${o}]`);
      }
    }
  });
});

describe('the wasm input gradient rounds as the sum in output order', () => {
  for (const variant of ['simd', 'relaxed'] as const) {
    it(`${variant} build: every element without fused multiply-add, the tails${variant === 'relaxed' ? ' only' : ''} with it`, async (t) => {
      const build = await wasmBuild(variant);
      if (!build) return t.skip(`the ${variant} build does not run here`);
      const { m, k } = build;
      // tiles of 16 and 8 inputs and a scalar tail of 5; a mostly-zero tile of rows (the
      // zero-skipping loop), a dense one, and 3 rows past the last tile
      const [B, I, O] = [11, 45, 13];
      const dz = 16384;
      const w = dz + B * O;
      const da = w + O * I;
      const pack = da + B * I;
      fill(m, dz, B * O, 21);
      fill(m, w, O * I, 22);
      for (let r = 0; r < B; r++)
        for (let o = 0; o < O; o++)
          if ((r < 4 && (r + o) % 6 !== 0) || (r >= 8 && o % 2)) m[dz + r * O + o] = 0;
      k.linearBackwardInput(da, dz, w, B, I, O, pack);
      for (let r = 0; r < B; r++) {
        for (let kk = 0; kk < I; kk++) {
          if (variant === 'relaxed' && r < 8 && kk < 40) continue; // fused where the build fuses
          let want = 0;
          for (let o = 0; o < O; o++)
            want = Math.fround(want + Math.fround(m[dz + r * O + o] * m[w + o * I + kk]));
          assert.equal(m[da + r * I + kk], want, `da[${r}][${kk}]`);
        }
      }
    });
  }
});

for (const fast of FAST_KERNELS) {
  describe(`${fast} kernels equal their naive twins`, () => {
    for (const [B, I, O] of SHAPES) {
      it(`linear forward and both backward products, ${B}×${I}×${O}`, async () => {
        const { m, naive, k } = await pair(fast);
        const a = 16384;
        const w = a + B * I;
        const bias = w + O * I;
        const dz = bias + O;
        const out1 = dz + B * O;
        const out2 = out1 + Math.max(B * O, O * I + O, B * I);
        // the kernels' scratch starts as NaN: what they read there, they wrote
        const pack = out2 + Math.max(B * O, O * I + O, B * I);
        fill(m, a, dz + B * O - a, B * 1000 + I);
        m.fill(Number.NaN, pack, pack + kernelScratchFloats([I, O], B));
        const run = (kk: Kernels, out: number) => kk.linearForward(out, a, w, bias, B, I, O, pack);
        run(naive, out1);
        run(k, out2);
        compare(m, out2, out1, B * O, 'forward');
        naive.linearBackwardParams(out1, out1 + O * I, dz, a, B, I, O, 0, O, pack);
        k.linearBackwardParams(out2, out2 + O * I, dz, a, B, I, O, 0, O, pack);
        compare(m, out2, out1, O * I + O, 'dW, db');
        // a block of outputs, as the parameter-parallel phase computes them
        const o0 = O >= 8 ? 4 : 0;
        const o1 = Math.min(O, o0 + 7);
        k.linearBackwardParams(out2, out2 + O * I, dz, a, B, I, O, o0, o1, pack);
        compare(m, out2, out1 + o0 * I, (o1 - o0) * I, 'dW of an output block');
        compare(m, out2 + O * I, out1 + O * I + o0, o1 - o0, 'db of an output block');
        naive.linearBackwardInput(out1, dz, w, B, I, O, pack);
        k.linearBackwardInput(out2, dz, w, B, I, O, pack);
        compare(m, out2, out1, B * I, 'dA');
      });
    }

    it('forward gives a row the same bits in a tile of rows as alone, so shard boundaries never change a sum', async () => {
      const { m, k } = await pair(fast);
      const [B, I, O] = [9, 37, 5];
      const a = 16384;
      const w = a + B * I;
      const bias = w + O * I;
      const tiled = bias + O;
      const alone = tiled + B * O;
      const pack = alone + B * O;
      fill(m, a, pack - a, 77);
      k.linearForward(tiled, a, w, bias, B, I, O, pack);
      for (let r = 0; r < B; r++) k.linearForward(alone + r * O, a + r * I, w, bias, 1, I, O, pack);
      assert.deepEqual(m.slice(tiled, tiled + B * O), m.slice(alone, alone + B * O));
    });

    it('forward writes a slice of a wider output in place: the bits of the whole forward, nothing between the rows', async () => {
      const { m, naive, k } = await pair(fast);
      // 13 rows: passes of 12/8/6/4 rows and a remainder; I = 37: a scalar tail of k; 30 outputs
      const [B, I, O] = [13, 37, 30];
      const a = 16384;
      const w = a + B * I;
      const bias = w + O * I;
      const whole = bias + O;
      const sliced = whole + B * O;
      const pack = sliced + B * O;
      fill(m, a, whole - a, 41);
      for (const kk of [naive, k]) {
        kk.linearForward(whole, a, w, bias, B, I, O, pack);
        m.fill(-7.25, sliced, sliced + B * O);
        // slices of 8 and of 12 from 0 and 8 (the kernels' tiles), and of 5 and 3, from anywhere
        for (const [o0, o1] of [
          [8, 20],
          [0, 8],
          [27, 30],
          [22, 27],
        ]) {
          kk.linearForward(sliced + o0, a, w + o0 * I, bias + o0, B, I, o1 - o0, pack, O);
        }
        for (let r = 0; r < B; r++) {
          for (let o = 0; o < O; o++) {
            const got = m[sliced + r * O + o];
            const want = o >= 20 && o < 22 ? -7.25 : m[whole + r * O + o];
            assert.ok(Object.is(got, want), `${kk.name}: row ${r} output ${o}: ${got}, want ${want}`);
          }
        }
      }
    });

    it('weight gradient of a mostly-zero dz (as behind a relu) skips its zero rows with the bits of the full sum', async () => {
      const { m, naive, k } = await pair(fast);
      // I = 45: tiles of 16 and 8 inputs and a scalar tail; O = 13: a chunk of 8, one of 4, a tail
      const [B, I, O] = [37, 45, 13];
      const extra = 3 * B;
      const a = 16384;
      const dz = a + (B + extra) * I;
      const sparse = dz + (B + extra) * O;
      const dense = sparse + O * I + O;
      const want = dense + O * I + O;
      const pack = want + O * I + O;
      fill(m, a, B * I, 5);
      fill(m, dz, (B + extra) * O, 6);
      for (let i = 0; i < B * O; i++) if (i % 7 !== 3) m[dz + i] = 0;
      m.fill(0, a + B * I, a + (B + extra) * I);
      // 15 % of the first B rows are nonzero: the zero-skipping loop
      k.linearBackwardParams(sparse, sparse + O * I, dz, a, B, I, O, 0, O, pack);
      // the same rows and 3B more whose inputs are 0, so they add ±0, and dz is 79 % nonzero: the full loop
      k.linearBackwardParams(dense, dense + O * I, dz, a, B + extra, I, O, 0, O, pack);
      assert.deepEqual(m.slice(sparse, sparse + O * I), m.slice(dense, dense + O * I));
      naive.linearBackwardParams(want, want + O * I, dz, a, B, I, O, 0, O, pack);
      compare(m, sparse, want, O * I + O, 'dW, db from the nonzero rows');
    });

    it('forward over mostly-zero inputs skips their zero groups with the bits of the full sum', async () => {
      const { m, naive, k } = await pair(fast);
      const [B, I, O] = [8, 48, 5];
      // 600 more inputs, so under 1 group in 16 is zero: the full loop
      const wide = I + 600;
      const a = 16384;
      const aWide = a + B * I;
      const w = aWide + B * wide;
      const wWide = w + O * I;
      const bias = wWide + O * wide;
      const sparse = bias + O;
      const dense = sparse + B * O;
      const want = dense + B * O;
      const pack = want + B * O;
      fill(m, a, B * I, 51);
      for (let r = 0; r < B; r++) for (let kk = 0; kk < I; kk++) if (kk % 16 >= 4) m[a + r * I + kk] = 0;
      fill(m, aWide, B * wide, 52);
      for (let r = 0; r < B; r++) m.copyWithin(aWide + r * wide, a + r * I, a + r * I + I);
      fill(m, w, O * I, 53);
      fill(m, bias, O, 54);
      m.fill(0, wWide, wWide + O * wide);
      for (let o = 0; o < O; o++) m.copyWithin(wWide + o * wide, w + o * I, w + o * I + I);
      // a quarter of the 4×4 groups nonzero: the loop over nonzero groups
      k.linearForward(sparse, a, w, bias, B, I, O, pack);
      // the same products and 600 more inputs whose weights are 0, so they add ±0
      k.linearForward(dense, aWide, wWide, bias, B, wide, O, pack);
      assert.deepEqual(m.slice(sparse, sparse + B * O), m.slice(dense, dense + B * O));
      naive.linearForward(want, a, w, bias, B, I, O, pack);
      compare(m, sparse, want, B * O, 'forward of mostly-zero inputs');
    });

    it('input gradient of a mostly-zero dz skips its zero outputs with the bits of the full sum', async () => {
      const { m, naive, k } = await pair(fast);
      const [B, I, O] = [9, 45, 13];
      const extra = 40;
      const wide = O + extra;
      const dz = 16384;
      const dzWide = dz + B * O;
      const w = dzWide + B * wide;
      const sparse = w + wide * I;
      const dense = sparse + B * I;
      const want = dense + B * I;
      const pack = want + B * I;
      fill(m, dz, B * O, 31);
      for (let i = 0; i < B * O; i++) if (i % 7 !== 2) m[dz + i] = 0;
      fill(m, dzWide, B * wide, 32);
      for (let r = 0; r < B; r++) m.copyWithin(dzWide + r * wide, dz + r * O, dz + r * O + O);
      fill(m, w, O * I, 33);
      m.fill(0, w + O * I, w + wide * I);
      // 14 % of dz nonzero: the zero-skipping loop
      k.linearBackwardInput(sparse, dz, w, B, I, O, pack);
      // the same products and 40 more outputs whose weights are 0, so they add ±0; 82 % nonzero: the full loop
      k.linearBackwardInput(dense, dzWide, w, B, I, wide, pack);
      assert.deepEqual(m.slice(sparse, sparse + B * I), m.slice(dense, dense + B * I));
      naive.linearBackwardInput(want, dz, w, B, I, O, pack);
      compare(m, sparse, want, B * I, 'dA from the nonzero outputs');
    });

    for (const act of [0, 1, 2]) {
      it(`activation ${['relu', 'tanh', 'sigmoid'][act]} forward and backward, and NaN stays NaN`, async () => {
        const { m, naive, k } = await pair(fast);
        const n = 1031;
        const x = 16384;
        const y = x + 2048;
        const d1 = y + 2048;
        const d2 = d1 + 2048;
        fill(m, x, n, 5 + act, -4, 4);
        m[x + 3] = Number.NaN;
        m.copyWithin(y, x, x + n);
        naive.activationForward(act, x, n);
        k.activationForward(act, y, n);
        assert.ok(Number.isNaN(m[y + 3]), 'NaN must propagate through the activation');
        m[x + 3] = 0;
        m[y + 3] = 0;
        compare(m, y, x, n, 'forward');
        fill(m, d1, n, 9, -1, 1);
        m.copyWithin(d2, d1, d1 + n);
        naive.activationBackward(act, d1, x, n);
        k.activationBackward(act, d2, x, n);
        compare(m, d2, d1, n, 'backward');
      });
    }

    it('softmax cross-entropy on 13 rows of 10 classes', async () => {
      const { m, naive, k } = await pair(fast);
      const B = 13;
      const C = 10;
      const l1 = 16384;
      const l2 = l1 + 256;
      const labels = l2 + 256;
      fill(m, l1, B * C, 21, -6, 6);
      m.copyWithin(l2, l1, l1 + B * C);
      for (let r = 0; r < B; r++) m[labels + r] = (r * 7) % C;
      const want = naive.softmaxCrossEntropy(l1, labels, B, C);
      const got = k.softmaxCrossEntropy(l2, labels, B, C);
      assert.ok(Math.abs(got - want) <= 1e-9 * B, `loss ${got} vs ${want}`);
      compare(m, l2, l1, B * C, 'softmax − onehot');
    });

    it('SGD update over a ragged length, in place and from one copy into the other', async () => {
      const { m, naive, k } = await pair(fast);
      const n = 1003;
      const [p1, v1, p2, v2, p3, v3, grad] = [0, 1, 2, 3, 4, 5, 6].map((i) => 16384 + i * 1024);
      fill(m, p1, 2048, 31);
      m.copyWithin(p2, p1, p1 + 2048);
      fill(m, grad, n, 41, -50, 50);
      naive.sgdUpdate(p1, v1, p1, v1, grad, n, 0.05, 0.9, 1e-3, 1 / 128, 0);
      const before = m.slice(p2, p2 + 2048);
      k.sgdUpdate(p2, v2, p3, v3, grad, n, 0.05, 0.9, 1e-3, 1 / 128, 0);
      compare(m, p3, p1, n, 'params');
      compare(m, v3, v1, n, 'velocity');
      assert.deepEqual(m.slice(p2, p2 + 2048), before, 'the source copy is untouched');
      k.sgdUpdate(p2, v2, p2, v2, grad, n, 0.05, 0.9, 1e-3, 1 / 128, 0);
      compare(m, p2, p1, 2048, 'in place');
    });

    it('gathers picked rows: every pixel value as float32(p / 255), float32 features bit for bit', async () => {
      const { m, k } = await pair(fast);
      const bits = new Uint32Array(m.buffer);
      const dst = 16384;
      // 784: whole vectors; 45: vectors then a tail (16 + 16 + 13, 8 × 5 + 5); 13: a tail only;
      // offset 1: rows that start off a word
      for (const [features, offset] of [
        [784, 0],
        [45, 0],
        [45, 1],
        [13, 0],
        [12, 1],
      ]) {
        const n = 11;
        const backing = new Uint8Array(new SharedArrayBuffer(offset + n * features + 3));
        for (let i = 0; i < backing.length; i++) backing[i] = (i * 73 + 11) & 255; // all 256 values
        const images = backing.subarray(offset, offset + n * features);
        const values = new Float32Array(new SharedArrayBuffer(n * features * 4));
        fill(values, 0, values.length, 51, -3, 3);
        values[3 * features + 5] = -0; // row 3: gathered with rows and without
        values[3 * features + 7] = Number.NaN;
        const floatBits = new Uint32Array(values.buffer);
        for (const rows of [Int32Array.from([10, 3, 0, 5, 7, 1, 2, 4, 6, 9, 8]), null]) {
          const [from, B] = rows ? [1, 9] : [2, 8];
          const row = (r: number) => (rows ? rows[from + r] : from + r);
          const end = dst + B * features;
          m.fill(-1, dst, end + 64);
          k.gatherInputs(dst, images, rows, from, B, features);
          for (let r = 0; r < B; r++)
            for (let c = 0; c < features; c++) {
              const want = Math.fround(images[row(r) * features + c] / 255);
              const got = m[dst + r * features + c];
              assert.equal(got, want, `${features}/${offset}: row ${r} pixel ${c}`);
            }
          k.gatherInputs(dst, values, rows, from, B, features);
          for (let r = 0; r < B; r++)
            for (let c = 0; c < features; c++)
              assert.equal(
                bits[dst + r * features + c],
                floatBits[row(r) * features + c],
                `${features}: row ${r} feature ${c}`,
              );
          assert.ok(
            m.subarray(end, end + 64).every((x) => x === -1),
            'nothing past the rows is written',
          );
        }
      }
    });
  });
}
