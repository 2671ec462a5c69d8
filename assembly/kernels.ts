// WebAssembly SIMD (f32x4) kernels, compiled by AssemblyScript to dist/kernels.wasm. The
// module imports the arena as a shared memory; every pointer is a byte offset into it. The
// contract of each kernel is documented in src/nn/kernels/types.ts; the naive twins in
// src/nn/kernels/naive.ts are the reference the tests compare against.
//
// Dimension legend: B rows, I inputs, O outputs, C classes.
// No kernel allocates; each gets a scratch (`pack`) from its caller, one per thread. A·Wᵀ is
// dot products along the contiguous k over rows packed four at a time; dZᵀ·A and dZ·W are
// broadcasts of dz times contiguous rows, over dz packed the same way or, where dz is mostly
// zero (behind a relu), over lists of its nonzero entries. Skipping a zero, and which tile a
// row or output lands in, never changes a bit of any sum: see the kernels' comments.

// @ts-nocheck: AssemblyScript types (f32, usize, v128) are not TypeScript's.

// a·b + c; relaxed-SIMD fused multiply-add where the build enables it.
@inline
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/**
 * Lane 0 of madd(a, b, c). Relaxed SIMD lets a runtime compute madd fused or not, and V8
 * fuses it only on CPUs with FMA3: the host calls this to learn which arithmetic the build
 * has here (src/nn/kernels/wasm-module.ts), since the model bytes depend on it.
 */
export function maddProbe(a: f32, b: f32, c: f32): f32 {
  return f32x4.extract_lane(madd(f32x4.splat(a), f32x4.splat(b), f32x4.splat(c)), 0);
}

/** outputs per chunk of dz's columns packed by linearBackwardParams (types.ts: PACK_OUTPUTS) */
const PACK_OUTPUTS: i32 = 8;
const PACK_BYTES: usize = <usize>PACK_OUTPUTS << 2;

@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// a: I, w: I → Σ a·w (vector part then scalar tail)
@inline
function dot(a: usize, w: usize, I: i32): f32 {
  let acc = f32x4.splat(0);
  let k = 0;
  for (; k + 4 <= I; k += 4) acc = madd(v128.load(a + (<usize>k << 2)), v128.load(w + (<usize>k << 2)), acc);
  let s = hsum(acc);
  for (; k < I; k++) s += load<f32>(a + (<usize>k << 2)) * load<f32>(w + (<usize>k << 2));
  return s;
}

/**
 * out: B×O = a: B×I · wᵀ (w: O×I) + bias: O, out's rows ldo floats apart (≥ O; the floats
 * between are not written) — tiles of 4 rows × 2 outputs. Each tile's rows are
 * first interleaved into `pack` (4.25 × I floats, the caller's), so the inner loop reads them
 * through one pointer with constant offsets: a row stride known only at run time would cost an
 * address addition per row per step of k. Every output is summed in the same order in any
 * tile (four lanes over k, then the lanes, the scalar tail and the bias), so which tile a row
 * falls in never changes its bits.
 */
export function linearForward(
  out: usize,
  a: usize,
  w: usize,
  bias: usize,
  B: i32,
  I: i32,
  O: i32,
  pack: usize,
  ldo: i32,
): void {
  const rs = <usize>I << 2;
  const os = <usize>ldo << 2;
  const I4 = I & ~3;
  const pend = pack + (<usize>I4 << 4);
  /** after the packed tile: the byte offsets (in k) of its groups of 4 × 4 inputs that are not all zero */
  const groups = pend;
  let r = 0;
  for (; r + 4 <= B; r += 4) {
    const a0 = a + <usize>r * rs;
    const a1 = a0 + rs;
    const a2 = a1 + rs;
    const a3 = a2 + rs;
    let q = pack;
    let e = groups;
    for (let kb: usize = 0; q < pend; kb += 16) {
      const v0 = v128.load(a0 + kb), v1 = v128.load(a1 + kb), v2 = v128.load(a2 + kb), v3 = v128.load(a3 + kb);
      v128.store(q, v0);
      v128.store(q, v1, 16);
      v128.store(q, v2, 32);
      v128.store(q, v3, 48);
      store<u32>(e, <u32>kb);
      e += select<usize>(4, 0, v128.any_true(v128.or(v128.or(v0, v1), v128.or(v2, v3))));
      q += 64;
    }
    // Inputs with all-zero groups of 4×4 (half of MNIST's pixel groups, a tenth of
    // Fashion-MNIST's) go through the list of the groups with a nonzero, skipping the rest: for
    // finite w, a group of zeros adds ±0 to lanes that never hold −0, which changes no bit. The
    // list costs 3 % where nothing is skipped and breaks even at 3–5 % skipped (2-core EPYC):
    // a tile takes it from one group in 16.
    const kept = (e - groups) >> 2;
    const sparse = kept * 16 <= (<usize>I4 >> 2) * 15;
    const o0 = out + <usize>r * os;
    let o = 0;
    // the choice outside the loop over outputs, so each loop keeps its registers to itself
    if (sparse) {
      for (; o + 2 <= O; o += 2) {
        const w0 = w + <usize>o * rs;
        const w1 = w0 + rs;
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
        let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
        let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        for (let g = groups; g < e; g += 4) {
          const kb = <usize>load<u32>(g);
          const p = pack + (kb << 2);
          const x0 = v128.load(w0 + kb);
          const x1 = v128.load(w1 + kb);
          let v = v128.load(p);
          c00 = madd(v, x0, c00);
          c01 = madd(v, x1, c01);
          v = v128.load(p, 16);
          c10 = madd(v, x0, c10);
          c11 = madd(v, x1, c11);
          v = v128.load(p, 32);
          c20 = madd(v, x0, c20);
          c21 = madd(v, x1, c21);
          v = v128.load(p, 48);
          c30 = madd(v, x0, c30);
          c31 = madd(v, x1, c31);
        }
        finishTile(o0, a0, w0, bias, I, o, rs, os, c00, c01, c10, c11, c20, c21, c30, c31);
      }
    } else {
      for (; o + 2 <= O; o += 2) {
        const w0 = w + <usize>o * rs;
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
        let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
        let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let wk = w0;
        for (let p = pack; p < pend; p += 64) {
          const x0 = v128.load(wk);
          const x1 = v128.load(wk + rs);
          wk += 16;
          let v = v128.load(p);
          c00 = madd(v, x0, c00);
          c01 = madd(v, x1, c01);
          v = v128.load(p, 16);
          c10 = madd(v, x0, c10);
          c11 = madd(v, x1, c11);
          v = v128.load(p, 32);
          c20 = madd(v, x0, c20);
          c21 = madd(v, x1, c21);
          v = v128.load(p, 48);
          c30 = madd(v, x0, c30);
          c31 = madd(v, x1, c31);
        }
        finishTile(o0, a0, w0, bias, I, o, rs, os, c00, c01, c10, c11, c20, c21, c30, c31);
      }
    }
    for (; o < O; o++) {
      const wo = w + <usize>o * rs;
      const b = load<f32>(bias + (<usize>o << 2));
      for (let i = 0; i < 4; i++) store<f32>(o0 + <usize>i * os + (<usize>o << 2), dot(a0 + <usize>i * rs, wo, I) + b);
    }
  }
  for (; r < B; r++) {
    const ar = a + <usize>r * rs;
    for (let o = 0; o < O; o++) {
      store<f32>(out + <usize>r * os + (<usize>o << 2), dot(ar, w + <usize>o * rs, I) + load<f32>(bias + (<usize>o << 2)));
    }
  }
}

/**
 * Ends a forward tile: each accumulator's lanes summed, then the scalar tail of k (rows read in
 * place at a0), then the bias, into outputs o and o+1 of the 4 rows at out.
 */
@inline
function finishTile(
  out: usize, a0: usize, w0: usize, bias: usize, I: i32, o: i32, rs: usize, os: usize,
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128,
): void {
  const w1 = w0 + rs;
  const a1 = a0 + rs;
  const a2 = a1 + rs;
  const a3 = a2 + rs;
  let s00 = hsum(c00), s01 = hsum(c01), s10 = hsum(c10), s11 = hsum(c11);
  let s20 = hsum(c20), s21 = hsum(c21), s30 = hsum(c30), s31 = hsum(c31);
  for (let k = I & ~3; k < I; k++) {
    const kb = <usize>k << 2;
    const x0 = load<f32>(w0 + kb);
    const x1 = load<f32>(w1 + kb);
    const v0 = load<f32>(a0 + kb), v1 = load<f32>(a1 + kb), v2 = load<f32>(a2 + kb), v3 = load<f32>(a3 + kb);
    s00 += v0 * x0; s01 += v0 * x1;
    s10 += v1 * x0; s11 += v1 * x1;
    s20 += v2 * x0; s21 += v2 * x1;
    s30 += v3 * x0; s31 += v3 * x1;
  }
  const b0 = load<f32>(bias + (<usize>o << 2));
  const b1 = load<f32>(bias + (<usize>o << 2), 4);
  const p = out + (<usize>o << 2);
  store<f32>(p, s00 + b0); store<f32>(p, s01 + b1, 4);
  store<f32>(p + os, s10 + b0); store<f32>(p + os, s11 + b1, 4);
  store<f32>(p + 2 * os, s20 + b0); store<f32>(p + 2 * os, s21 + b1, 4);
  store<f32>(p + 3 * os, s30 + b0); store<f32>(p + 3 * os, s31 + b1, 4);
}

/**
 * Rows [o0, o1) of dw = dzᵀ·a and db = Σ_rows dz (dz: B×O, a: B×I), written at dw + (o−o0)·I and
 * db + (o−o0); each element sums over r = 0…B−1 in order. o0 is a multiple of 4 (see types.ts).
 * pack: scratch of PACK_OUTPUTS × (3B + 4) floats.
 *
 * Outputs go in chunks of PACK_OUTPUTS, whose columns of dz are first copied row by row into
 * `pack` (read in place, a column's values sit a power-of-two row stride apart and crowd a
 * few cache sets). Behind a relu most of dz is exactly zero (70 % after one epoch of
 * Fashion-MNIST), so a chunk whose dz is mostly zero skips its zero rows: a row with dz = ±0
 * adds ±0·a = ±0 (a finite) to an accumulator that never holds −0, which changes no bit, so
 * both loops give the same bytes and the choice is only about speed. (An infinite a would make
 * the full sum NaN; the trainer stops on the non-finite loss such a step has anyway.)
 * The last 1–3 outputs of a layer whose width is not a multiple of 4 keep their scalar
 * rounding (a product, then a sum) in a SIMD loop of their own.
 */
export function linearBackwardParams(dw: usize, db: usize, dz: usize, a: usize, B: i32, I: i32, O: i32, o0: i32, o1: i32, pack: usize): void {
  const rs = <usize>I << 2;
  const os = <usize>O << 2;
  const oFull = o0 + (((o1 - o0) >> 2) << 2);
  const lists = pack + <usize>B * PACK_BYTES;
  for (let c0 = o0; c0 < o1; ) {
    const tail = c0 >= oFull;
    const cEnd = tail ? o1 : min(c0 + PACK_OUTPUTS, oFull);
    copyColumns(pack, dz, c0, cEnd, B, os, tail);
    const nonzero = nonzeroLists(lists, pack, cEnd - c0, B, rs);
    if (tail) tailChunk(dw, a, B, I, o0, c0, cEnd, lists);
    // the two loops break even at 47 % nonzero (2-core EPYC, 128×784 blocks of 8): switch at 45 %
    else if (nonzero * 20 <= (cEnd - c0) * B * 9) sparseChunk(dw, a, B, I, o0, c0, cEnd, lists);
    else denseChunk(dw, a, B, I, o0, c0, cEnd, pack);
    const zend = pack + <usize>B * PACK_BYTES;
    for (let o = c0; o < cEnd; o++) {
      for (let kk = I & ~7; kk < I; kk++) store<f32>(dw + <usize>(o - o0) * rs + (<usize>kk << 2), columnDot(dz, a, o, kk, B, os, rs));
      let s: f32 = 0;
      for (let z = pack + (<usize>(o - c0) << 2); z < zend; z += PACK_BYTES) s += load<f32>(z);
      store<f32>(db + (<usize>(o - o0) << 2), s);
    }
    c0 = cEnd;
  }
}

/** dz's columns [c0, c1) copied to rows of PACK_BYTES at `pack`; by whole vectors unless `scalar` */
@inline
function copyColumns(pack: usize, dz: usize, c0: i32, c1: i32, B: i32, os: usize, scalar: bool): void {
  const chunkBytes = <usize>(c1 - c0) << 2;
  let zs = dz + (<usize>c0 << 2);
  let zp = pack;
  for (let r = 0; r < B; r++) {
    if (scalar) for (let j: usize = 0; j < chunkBytes; j += 4) store<f32>(zp + j, load<f32>(zs + j));
    else for (let j: usize = 0; j < chunkBytes; j += 16) v128.store(zp + j, v128.load(zs + j));
    zs += os;
    zp += PACK_BYTES;
  }
}

/** bytes of one output's list: a 16-byte header (the list's end), then 8 bytes a row */
@inline
function listStride(B: i32): usize {
  return (<usize>B << 3) + 16;
}

/**
 * One list for each of the n packed columns: the rows whose dz is not ±0, as (byte offset of
 * the row in a, dz); returns how many in all.
 */
function nonzeroLists(lists: usize, pack: usize, n: i32, B: i32, rs: usize): i32 {
  let total = 0;
  for (let j = 0; j < n; j++) {
    total += nonzeroList(lists + <usize>j * listStride(B), pack + (<usize>j << 2), PACK_BYTES, B, rs);
  }
  return total;
}

/**
 * The list at `list` of the n values at z (stride zs bytes) that are not ±0, in order, as
 * (i·step, value) pairs after a 16-byte header holding the list's end; returns its length.
 */
@inline
function nonzeroList(list: usize, z: usize, zs: usize, n: i32, step: usize): i32 {
  let e = list + 16;
  let off: usize = 0;
  const zend = z + <usize>n * zs;
  for (let zp = z; zp < zend; zp += zs) {
    const v = load<f32>(zp);
    store<u32>(e, <u32>off);
    store<f32>(e, v, 4);
    e += select<usize>(8, 0, v != 0);
    off += step;
  }
  store<usize>(list, e);
  return <i32>((e - list - 16) >> 3);
}

/** p[0..16) floats = Σ over the list's entries (offset, v) of v · at[offset + 0..16), in list order */
@inline
function listSum16(list: usize, at: usize, p: usize): void {
  const end = load<usize>(list);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  for (let e = list + 16; e < end; e += 8) {
    const x = at + <usize>load<u32>(e);
    const s = v128.load32_splat(e, 4);
    c0 = madd(s, v128.load(x), c0);
    c1 = madd(s, v128.load(x, 16), c1);
    c2 = madd(s, v128.load(x, 32), c2);
    c3 = madd(s, v128.load(x, 48), c3);
  }
  v128.store(p, c0); v128.store(p, c1, 16); v128.store(p, c2, 32); v128.store(p, c3, 48);
}

/** listSum16 for 8 floats */
@inline
function listSum8(list: usize, at: usize, p: usize): void {
  const end = load<usize>(list);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  for (let e = list + 16; e < end; e += 8) {
    const x = at + <usize>load<u32>(e);
    const s = v128.load32_splat(e, 4);
    c0 = madd(s, v128.load(x), c0);
    c1 = madd(s, v128.load(x, 16), c1);
  }
  v128.store(p, c0); v128.store(p, c1, 16);
}

/** A chunk from its nonzero rows: tiles of 1 output × 16 inputs, then one of 8 where I asks. */
function sparseChunk(dw: usize, a: usize, B: i32, I: i32, o0: i32, c0: i32, c1: i32, lists: usize): void {
  const rs = <usize>I << 2;
  const stride = listStride(B);
  const I8 = I & ~7;
  let k = 0;
  for (; k + 16 <= I8; k += 16) {
    const kb = <usize>k << 2;
    for (let o = c0; o < c1; o++) listSum16(lists + <usize>(o - c0) * stride, a + kb, dw + <usize>(o - o0) * rs + kb);
  }
  if (k < I8) {
    const kb = <usize>k << 2;
    for (let o = c0; o < c1; o++) listSum8(lists + <usize>(o - c0) * stride, a + kb, dw + <usize>(o - o0) * rs + kb);
  }
}

/**
 * The 1–3 outputs past a layer's last multiple of 4, from their nonzero rows, rounded as the
 * scalar columnDot rounds (multiply, then add: no fused multiply-add), 8 inputs at a time.
 */
function tailChunk(dw: usize, a: usize, B: i32, I: i32, o0: i32, c0: i32, c1: i32, lists: usize): void {
  const rs = <usize>I << 2;
  const stride = listStride(B);
  for (let k = 0; k + 8 <= I; k += 8) {
    const kb = <usize>k << 2;
    const at = a + kb;
    for (let o = c0; o < c1; o++) {
      const list = lists + <usize>(o - c0) * stride;
      const end = load<usize>(list);
      let c0v = f32x4.splat(0), c1v = f32x4.splat(0);
      for (let e = list + 16; e < end; e += 8) {
        const ar = at + <usize>load<u32>(e);
        const s = v128.load32_splat(e, 4);
        c0v = f32x4.add(c0v, f32x4.mul(s, v128.load(ar)));
        c1v = f32x4.add(c1v, f32x4.mul(s, v128.load(ar, 16)));
      }
      const p = dw + <usize>(o - o0) * rs + kb;
      v128.store(p, c0v); v128.store(p, c1v, 16);
    }
  }
}

/** A chunk over every row: tiles of 4 outputs × 8 inputs keep their accumulators in registers. */
function denseChunk(dw: usize, a: usize, B: i32, I: i32, o0: i32, c0: i32, c1: i32, pack: usize): void {
  const rs = <usize>I << 2;
  const zend = pack + <usize>B * PACK_BYTES;
  // k strips outside, output tiles inside: a strip of a (8 columns × B rows) is read from
  // L2 once and then served from L1 to every tile of the chunk
  for (let k = 0; k + 8 <= I; k += 8) {
    const kb = <usize>k << 2;
    for (let o = c0; o < c1; o += 4) {
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let ar = a + kb;
      // bounded by the pointer, not a row counter: one fewer addition per row
      for (let zr = pack + (<usize>(o - c0) << 2); zr < zend; zr += PACK_BYTES) {
        const x0 = v128.load(ar);
        const x1 = v128.load(ar, 16);
        let s = v128.load32_splat(zr);
        c00 = madd(s, x0, c00);
        c01 = madd(s, x1, c01);
        s = v128.load32_splat(zr, 4);
        c10 = madd(s, x0, c10);
        c11 = madd(s, x1, c11);
        s = v128.load32_splat(zr, 8);
        c20 = madd(s, x0, c20);
        c21 = madd(s, x1, c21);
        s = v128.load32_splat(zr, 12);
        c30 = madd(s, x0, c30);
        c31 = madd(s, x1, c31);
        ar += rs;
      }
      const p = dw + <usize>(o - o0) * rs + kb;
      v128.store(p, c00); v128.store(p, c01, 16);
      v128.store(p + rs, c10); v128.store(p + rs, c11, 16);
      v128.store(p + 2 * rs, c20); v128.store(p + 2 * rs, c21, 16);
      v128.store(p + 3 * rs, c30); v128.store(p + 3 * rs, c31, 16);
    }
  }
}

// Σ_r dz[r][o]·a[r][k], the scalar tail of linearBackwardParams
@inline
function columnDot(dz: usize, a: usize, o: i32, k: i32, B: i32, os: usize, rs: usize): f32 {
  let s: f32 = 0;
  for (let r = 0; r < B; r++) s += load<f32>(dz + <usize>r * os + (<usize>o << 2)) * load<f32>(a + <usize>r * rs + (<usize>k << 2));
  return s;
}

/**
 * da: B×I = dz: B×O · w: O×I — tiles of 4 rows × 8 inputs accumulate over the O outputs. Each
 * tile's rows of dz are first transposed into `pack` (4 × O floats, the caller's), four per
 * output, so the inner loop broadcasts them from one pointer with constant offsets. A tile
 * whose dz is mostly zero (behind a relu) instead sums each row over its nonzero outputs only,
 * which changes no bit (see linearBackwardParams). pack: TILE_ROWS × (2O + 4) floats.
 */
export function linearBackwardInput(da: usize, dz: usize, w: usize, B: i32, I: i32, O: i32, pack: usize): void {
  const rs = <usize>I << 2;
  const os = <usize>O << 2;
  const pend = pack + (<usize>O << 4);
  let r = 0;
  for (; r + 4 <= B; r += 4) {
    const z0 = dz + <usize>r * os;
    const d0 = da + <usize>r * rs;
    let k = 0;
    // the two loops break even at 57 % nonzero (2-core EPYC, 4×256×128): switch at 55 %
    if (nonzeroOutputs(pack, z0, O, rs) * 5 <= O * 11) {
      k = sparseRows(d0, w, I, O, pack);
    } else {
      packColumns(pack, z0, O, os);
      for (; k + 8 <= I; k += 8) {
        const kb = <usize>k << 2;
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
        let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
        let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let wo = w + kb;
        for (let zp = pack; zp < pend; zp += 16) {
          const x0 = v128.load(wo);
          const x1 = v128.load(wo, 16);
          wo += rs;
          let s = v128.load32_splat(zp);
          c00 = madd(s, x0, c00);
          c01 = madd(s, x1, c01);
          s = v128.load32_splat(zp, 4);
          c10 = madd(s, x0, c10);
          c11 = madd(s, x1, c11);
          s = v128.load32_splat(zp, 8);
          c20 = madd(s, x0, c20);
          c21 = madd(s, x1, c21);
          s = v128.load32_splat(zp, 12);
          c30 = madd(s, x0, c30);
          c31 = madd(s, x1, c31);
        }
        const p = d0 + kb;
        v128.store(p, c00); v128.store(p, c01, 16);
        v128.store(p + rs, c10); v128.store(p + rs, c11, 16);
        v128.store(p + 2 * rs, c20); v128.store(p + 2 * rs, c21, 16);
        v128.store(p + 3 * rs, c30); v128.store(p + 3 * rs, c31, 16);
      }
    }
    for (; k < I; k++) {
      for (let i = 0; i < 4; i++) store<f32>(d0 + <usize>i * rs + (<usize>k << 2), rowTimesColumn(z0 + <usize>i * os, w, k, O, rs));
    }
  }
  for (; r < B; r++) {
    for (let k = 0; k < I; k++) {
      store<f32>(da + <usize>r * rs + (<usize>k << 2), rowTimesColumn(dz + <usize>r * os, w, k, O, rs));
    }
  }
}

/**
 * For each of the 4 rows of dz at z (O wide), the outputs whose dz is not ±0, in order, as
 * (byte offset of the output's row of w, dz) pairs after a 16-byte header holding the list's
 * end; returns how many in all.
 */
function nonzeroOutputs(lists: usize, z: usize, O: i32, rs: usize): i32 {
  let total = 0;
  for (let i = 0; i < 4; i++) {
    total += nonzeroList(lists + <usize>i * listStride(O), z + <usize>i * (<usize>O << 2), 4, O, rs);
  }
  return total;
}

/** The 4 rows at d from their lists: tiles of 1 row × 16 inputs, then one of 8; returns where the vector part ends. */
function sparseRows(d: usize, w: usize, I: i32, O: i32, lists: usize): i32 {
  const rs = <usize>I << 2;
  const stride = listStride(O);
  const I8 = I & ~7;
  for (let i = 0; i < 4; i++) {
    const list = lists + <usize>i * stride;
    const di = d + <usize>i * rs;
    let k = 0;
    for (; k + 16 <= I8; k += 16) listSum16(list, w + (<usize>k << 2), di + (<usize>k << 2));
    if (k < I8) listSum8(list, w + (<usize>k << 2), di + (<usize>k << 2));
  }
  return I8;
}

/** pack[4o + i] = z[i·O + o] for the 4 rows at z (row stride os bytes): 4×4 transposes, then a scalar tail */
@inline
function packColumns(pack: usize, z: usize, O: i32, os: usize): void {
  let o = 0;
  for (; o + 4 <= O; o += 4) {
    const zo = z + (<usize>o << 2);
    const r0 = v128.load(zo), r1 = v128.load(zo + os), r2 = v128.load(zo + 2 * os), r3 = v128.load(zo + 3 * os);
    const lo01 = i32x4.shuffle(r0, r1, 0, 4, 1, 5), hi01 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
    const lo23 = i32x4.shuffle(r2, r3, 0, 4, 1, 5), hi23 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
    const q = pack + (<usize>o << 4);
    v128.store(q, i64x2.shuffle(lo01, lo23, 0, 2));
    v128.store(q, i64x2.shuffle(lo01, lo23, 1, 3), 16);
    v128.store(q, i64x2.shuffle(hi01, hi23, 0, 2), 32);
    v128.store(q, i64x2.shuffle(hi01, hi23, 1, 3), 48);
  }
  for (; o < O; o++) {
    const zo = z + (<usize>o << 2);
    const q = pack + (<usize>o << 4);
    store<f32>(q, load<f32>(zo));
    store<f32>(q, load<f32>(zo + os), 4);
    store<f32>(q, load<f32>(zo + 2 * os), 8);
    store<f32>(q, load<f32>(zo + 3 * os), 12);
  }
}

// Σ_o z[o]·w[o][k], the scalar tail of linearBackwardInput
@inline
function rowTimesColumn(z: usize, w: usize, k: i32, O: i32, rs: usize): f32 {
  let s: f32 = 0;
  for (let o = 0; o < O; o++) s += load<f32>(z + (<usize>o << 2)) * load<f32>(w + <usize>o * rs + (<usize>k << 2));
  return s;
}

/** x: n ← α(x) in place; act 0 relu, 1 tanh, 2 sigmoid */
export function activationForward(act: i32, x: usize, n: i32): void {
  if (act == 0) {
    const zero = f32x4.splat(0);
    let i = 0;
    // f32x4.max propagates NaN, so divergence stays visible
    for (; i + 4 <= n; i += 4) v128.store(x + (<usize>i << 2), f32x4.max(v128.load(x + (<usize>i << 2)), zero));
    for (; i < n; i++) {
      const p = x + (<usize>i << 2);
      store<f32>(p, Mathf.max(load<f32>(p), 0));
    }
  } else if (act == 1) {
    for (let i = 0; i < n; i++) {
      const p = x + (<usize>i << 2);
      store<f32>(p, <f32>Math.tanh(<f64>load<f32>(p)));
    }
  } else {
    for (let i = 0; i < n; i++) {
      const p = x + (<usize>i << 2);
      store<f32>(p, <f32>(1.0 / (1.0 + Math.exp(-<f64>load<f32>(p)))));
    }
  }
}

/** d: n ← d ⊙ α'(z), written through a = α(z) */
export function activationBackward(act: i32, d: usize, a: usize, n: i32): void {
  let i = 0;
  if (act == 0) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const off = <usize>i << 2;
      v128.store(d + off, v128.and(v128.load(d + off), f32x4.gt(v128.load(a + off), zero)));
    }
    for (; i < n; i++) {
      const off = <usize>i << 2;
      if (!(load<f32>(a + off) > 0)) store<f32>(d + off, 0);
    }
  } else {
    const one = f32x4.splat(1);
    for (; i + 4 <= n; i += 4) {
      const off = <usize>i << 2;
      const y = v128.load(a + off);
      const g = act == 1 ? f32x4.sub(one, f32x4.mul(y, y)) : f32x4.mul(y, f32x4.sub(one, y));
      v128.store(d + off, f32x4.mul(v128.load(d + off), g));
    }
    for (; i < n; i++) {
      const off = <usize>i << 2;
      const y = load<f32>(a + off);
      const g: f32 = act == 1 ? 1 - y * y : y * (1 - y);
      store<f32>(d + off, load<f32>(d + off) * g);
    }
  }
}

/** logits: B×C → softmax − onehot(labels) in place; labels: B floats; returns Σ −log p[label] */
export function softmaxCrossEntropy(logits: usize, labels: usize, B: i32, C: i32): f64 {
  let loss: f64 = 0;
  for (let r = 0; r < B; r++) {
    const row = logits + ((<usize>r * <usize>C) << 2);
    let max: f64 = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, <f64>load<f32>(row + (<usize>c << 2)));
    let sum: f64 = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(<f64>load<f32>(row + (<usize>c << 2)) - max);
    const label = <i32>load<f32>(labels + (<usize>r << 2));
    loss += Math.log(sum) + max - <f64>load<f32>(row + (<usize>label << 2));
    for (let c = 0; c < C; c++) {
      const p = row + (<usize>c << 2);
      store<f32>(p, <f32>(Math.exp(<f64>load<f32>(p) - max) / sum - (c == label ? 1.0 : 0.0)));
    }
  }
  return loss;
}

/**
 * SGD over n floats from (params, velocity) into (paramsOut, velocityOut), which may alias:
 * g = grad·invBatch + wd·w, v' = μ·v + g, w' = w − lr·v' (nesterov: w' = w − lr·(g + μ·v')),
 * float32 throughout, unfused in every build (the update's bits are the same in both)
 */
export function sgdUpdate(
  params: usize,
  velocity: usize,
  paramsOut: usize,
  velocityOut: usize,
  grad: usize,
  n: i32,
  lr: f64,
  momentum: f64,
  weightDecay: f64,
  invBatch: f64,
  nesterov: f64,
): void {
  const vlr = f32x4.splat(<f32>lr);
  const vmu = f32x4.splat(<f32>momentum);
  const vwd = f32x4.splat(<f32>weightDecay);
  const vinv = f32x4.splat(<f32>invBatch);
  const nag = nesterov != 0;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const off = <usize>j << 2;
    const w = v128.load(params + off);
    const g = f32x4.add(f32x4.mul(v128.load(grad + off), vinv), f32x4.mul(vwd, w));
    const v = f32x4.add(f32x4.mul(vmu, v128.load(velocity + off)), g);
    v128.store(velocityOut + off, v);
    const d = nag ? f32x4.add(g, f32x4.mul(vmu, v)) : v;
    v128.store(paramsOut + off, f32x4.sub(w, f32x4.mul(vlr, d)));
  }
  for (; j < n; j++) {
    const off = <usize>j << 2;
    const w = load<f32>(params + off);
    const g = load<f32>(grad + off) * <f32>invBatch + <f32>weightDecay * w;
    const v = <f32>momentum * load<f32>(velocity + off) + g;
    store<f32>(velocityOut + off, v);
    const d = nag ? g + <f32>momentum * v : v;
    store<f32>(paramsOut + off, w - <f32>lr * d);
  }
}

/**
 * Adam / AdamW over n floats in float32, PyTorch's formulas (equal to its values to float32
 * rounding, not bit for bit: torch's addcmul rounds (1−β₂)·g before ·g), unfused in every
 * build: g = grad·invBatch + wd·w (the term left out when wd is 0); w₀ = w·decay (w when 1); m' = β₁m + (1−β₁)g; v' = β₂v + (1−β₂)g·g;
 * w' = w₀ − stepSize·m' / (√v' · invBc2Sqrt + eps), invBc2Sqrt = 1/√(1 − β₂ᵗ) (a multiply:
 * a division costs as much as the rest of the update). Outputs may alias inputs.
 */
export function adamUpdate(
  params: usize,
  m: usize,
  v: usize,
  paramsOut: usize,
  mOut: usize,
  vOut: usize,
  grad: usize,
  n: i32,
  stepSize: f64,
  beta1: f64,
  beta2: f64,
  eps: f64,
  weightDecay: f64,
  decay: f64,
  invBc2Sqrt: f64,
  invBatch: f64,
): void {
  const b1 = <f32>beta1;
  const b2 = <f32>beta2;
  const c1 = <f32>(1 - beta1);
  const c2 = <f32>(1 - beta2);
  const vb1 = f32x4.splat(b1);
  const vb2 = f32x4.splat(b2);
  const vc1 = f32x4.splat(c1);
  const vc2 = f32x4.splat(c2);
  const veps = f32x4.splat(<f32>eps);
  const vwd = f32x4.splat(<f32>weightDecay);
  const vdecay = f32x4.splat(<f32>decay);
  const vbc2 = f32x4.splat(<f32>invBc2Sqrt);
  const vstep = f32x4.splat(<f32>stepSize);
  const vinv = f32x4.splat(<f32>invBatch);
  // Adam has no decoupled decay (decay 1) and AdamW no L2 term (weightDecay 0): the terms
  // that change nothing are skipped, as the update is bound by its instructions, not memory
  const l2 = weightDecay != 0;
  const decays = decay != 1;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const off = <usize>j << 2;
    const w = v128.load(params + off);
    const gb = f32x4.mul(v128.load(grad + off), vinv);
    const g = l2 ? f32x4.add(gb, f32x4.mul(vwd, w)) : gb;
    const m1 = f32x4.add(f32x4.mul(vb1, v128.load(m + off)), f32x4.mul(vc1, g));
    const v1 = f32x4.add(f32x4.mul(vb2, v128.load(v + off)), f32x4.mul(vc2, f32x4.mul(g, g)));
    v128.store(mOut + off, m1);
    v128.store(vOut + off, v1);
    const denom = f32x4.add(f32x4.mul(f32x4.sqrt(v1), vbc2), veps);
    const w0 = decays ? f32x4.mul(w, vdecay) : w;
    v128.store(paramsOut + off, f32x4.sub(w0, f32x4.mul(vstep, f32x4.div(m1, denom))));
  }
  for (; j < n; j++) {
    const off = <usize>j << 2;
    const w = load<f32>(params + off);
    const gb = load<f32>(grad + off) * <f32>invBatch;
    const g = l2 ? gb + <f32>weightDecay * w : gb;
    const m1 = b1 * load<f32>(m + off) + c1 * g;
    const v1 = b2 * load<f32>(v + off) + c2 * (g * g);
    store<f32>(mOut + off, m1);
    store<f32>(vOut + off, v1);
    const denom = Mathf.sqrt(v1) * <f32>invBc2Sqrt + <f32>eps;
    store<f32>(paramsOut + off, (decays ? w * <f32>decay : w) - <f32>stepSize * (m1 / denom));
  }
}
