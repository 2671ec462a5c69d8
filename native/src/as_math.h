// AssemblyScript's own f64 Math.exp, Math.log, Math.expm1 and Math.tanh (assemblyscript 0.28,
// std/assembly/math.ts and std/assembly/util/math.ts, as compiled at shrink level 0: exp and
// log are the table-based exp_lut and log_lut), ported operation for operation so that they
// give the bits the WebAssembly kernels get, which glibc's exp, log and tanh do not (they
// differ in the last bits). Only +, −, ×, ÷ and bit reinterpretation: compile with
// -ffp-contract=off and without fast-math, or the port is no longer exact.
#ifndef GRADPOOL_AS_MATH_H
#define GRADPOOL_AS_MATH_H

#include <stdint.h>
#include <string.h>

static inline uint64_t gp_as_bits(double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static inline double gp_as_double(uint64_t u) {
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/** NativeMath.exp (exp_lut) */
double gp_as_exp(double x);
/** NativeMath.log (log_lut) */
double gp_as_log(double x);
/** NativeMath.expm1 */
double gp_as_expm1(double x);
/** NativeMath.tanh (calls expm1) */
double gp_as_tanh(double x);

/**
 * exp_lut's table (EXP_DATA_TAB: 2^(i/128) as pairs tail, scale bits), for a vectorised
 * exp that has to compute exactly what gp_as_exp does.
 */
extern const uint64_t gp_as_exp_tab[256];

#endif
