// The ceiling of one core for the kernels' arithmetic: multiply-adds on f32x4 registers
// only, no memory traffic, enough independent chains to hide latency. `npm run bench`
// reports it beside the kernels, so their GFLOP/s read as a fraction of what the core can do.

// @ts-nocheck: AssemblyScript types (f32, v128) are not TypeScript's.

@inline
function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** n rounds of 12 independent multiply-adds (96 FLOP a round); returns a lane so none is dead. */
export function peakMadd(n: i32, seed: f32): f32 {
  const x = f32x4.splat(seed);
  const y = f32x4.splat(0.999);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(1), c2 = f32x4.splat(2), c3 = f32x4.splat(3);
  let c4 = f32x4.splat(4), c5 = f32x4.splat(5), c6 = f32x4.splat(6), c7 = f32x4.splat(7);
  let c8 = f32x4.splat(8), c9 = f32x4.splat(9), c10 = f32x4.splat(10), c11 = f32x4.splat(11);
  for (let i = 0; i < n; i++) {
    c0 = madd(y, x, c0); c1 = madd(y, x, c1); c2 = madd(y, x, c2); c3 = madd(y, x, c3);
    c4 = madd(y, x, c4); c5 = madd(y, x, c5); c6 = madd(y, x, c6); c7 = madd(y, x, c7);
    c8 = madd(y, x, c8); c9 = madd(y, x, c9); c10 = madd(y, x, c10); c11 = madd(y, x, c11);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(c0, c1), f32x4.add(c2, c3)), f32x4.add(f32x4.add(c4, c5), f32x4.add(c6, c7)));
  return f32x4.extract_lane(f32x4.add(s, f32x4.add(f32x4.add(c8, c9), f32x4.add(c10, c11))), 0);
}
