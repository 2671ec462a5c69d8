// AssemblyScript's Math.exp, Math.log, Math.tanh and Math.expm1 over an f64 array, for
// compare.mjs to test native/src/as_math.c against (build.sh compiles it as the kernels are
// compiled: -O3, shrink level 0).
// @ts-nocheck: AssemblyScript types
export function apply(fn: i32, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const p = x + (<usize>i << 3);
    const v = load<f64>(p);
    store<f64>(p, fn == 0 ? Math.exp(v) : fn == 1 ? Math.log(v) : fn == 2 ? Math.tanh(v) : Math.expm1(v));
  }
}
