// The elementwise kernels of the native build: activationForward, activationBackward,
// softmaxCrossEntropy, sgdUpdate and adamUpdate of assembly/kernels.ts, float for float.
//
// How each keeps the wasm kernel's bits:
//  - relu is f32x4.max(x, 0), which gives NaN for NaN and +0 for −0 (x86's MAXPS gives one of
//    its operands instead): here x where x > 0 or x is NaN, else +0. Its backward keeps d
//    where a > 0 (ordered) and writes +0 elsewhere, as v128.and with f32x4.gt does.
//  - tanh and sigmoid, and softmaxCrossEntropy, are f64 through AssemblyScript's own Math.tanh,
//    Math.exp and Math.log (as_math.c), rounded to float32 where the wasm kernel rounds.
//    Both are also vectorised, in 8 (AVX-512) or 4 (AVX2) lanes of f64 doing the scalar
//    code's operations in its order: exp for sigmoid and the softmax is gp_as_exp's main path
//    (table lookups by gather), and lanes outside it (|x| < 2^-54, |x| >= 512, inf, NaN) are
//    recomputed by gp_as_exp; tanh computes every branch of gp_as_tanh and of the expm1 it
//    calls and keeps, lane by lane, the one the scalar code takes (valid for any double from a
//    float32: expm1's argument stays within ±40 there). Checked against the wasm kernels on
//    all 2^32 float32 inputs (native/dev-elementwise/compare.mjs range).
//    The softmax's log, max and sums stay scalar, in the wasm kernel's order.
//  - the float32 kernels (relu's backward, tanh's and sigmoid's, SGD, Adam) compute each
//    element by the formula of the wasm kernel, which is the same in its f32x4 loop and its
//    scalar tail; every operation is an IEEE one (sqrt and division included) so any vector
//    width gives the same bits. Constants are rounded from f64 where the wasm kernel rounds
//    them, (f32)(1 - beta1) included. Every element is read before its outputs are written,
//    so outputs may be the same arrays as inputs (exactly, not shifted).
//
// Never a fused multiply-add and never fast-math (strict_fp.h). The functions of each ISA carry
// its target attribute, so the file needs no -m flags; the rest is baseline x86-64. On arm64
// every kernel is its scalar form (the end of the file).
#include "strict_fp.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "as_math.h"
#include "kernels.h"


#define GP_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq")))
#define GP_AVX2 __attribute__((target("avx2")))
#define GP_INLINE static inline __attribute__((always_inline))

// ---------------------------------------------------------------------------------------------
// Scalars, as the wasm kernels' scalar tails compute them

/** f32.max(x, 0) */
GP_INLINE float relu1(float x) { return (x > 0.0f || x != x) ? x : 0.0f; }

/** f64.max: NaN if either is NaN, +0 for max(−0, +0) */
GP_INLINE double wasm_max(double a, double b) {
  if (a > b) return a;
  if (b > a) return b;
  if (a == b) return gp_as_double(gp_as_bits(a) & gp_as_bits(b)); // equal: ±0 only differ in sign
  return a + b;                                                       // a NaN
}

/** i32.trunc_sat_f32_s */
GP_INLINE int32_t trunc_sat_f32(float x) {
  if (x != x) return 0;
  if (x >= 2147483648.0f) return INT32_MAX;
  if (x <= -2147483648.0f) return INT32_MIN;
  return (int32_t)x;
}

#if defined(__x86_64__)
GP_INLINE float sqrt1(float x) { return _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x))); }
#else
GP_INLINE float sqrt1(float x) { return __builtin_sqrtf(x); }
#endif

GP_INLINE float tanh1(float x) { return (float)gp_as_tanh((double)x); }

GP_INLINE float sigmoid1(float x) { return (float)(1.0 / (1.0 + gp_as_exp(-(double)x))); }

/** d · α'(y) for tanh (act 1) or sigmoid */
GP_INLINE float backward1(int32_t act, float d, float y) {
  const float g = act == 1 ? 1 - y * y : y * (1 - y);
  return d * g;
}

/** The per-kernel constants, rounded from f64 as the wasm kernels round them. */
typedef struct {
  float lr, mu, wd, inv;
  int nag;
} sgd_consts;

GP_INLINE sgd_consts sgd_setup(double lr, double momentum, double weight_decay, double inv_batch, double nesterov) {
  sgd_consts k = {(float)lr, (float)momentum, (float)weight_decay, (float)inv_batch, nesterov != 0};
  return k;
}

GP_INLINE void sgd1(const sgd_consts *k, const float *params, const float *velocity, float *params_out,
                    float *velocity_out, const float *grad, int32_t j) {
  const float w = params[j];
  const float g = grad[j] * k->inv + k->wd * w;
  const float v = k->mu * velocity[j] + g;
  velocity_out[j] = v;
  const float d = k->nag ? g + k->mu * v : v;
  params_out[j] = w - k->lr * d;
}

typedef struct {
  float b1, b2, c1, c2, eps, wd, decay, bc2, step, inv;
  int l2, decays;
} adam_consts;

GP_INLINE adam_consts adam_setup(double step_size, double beta1, double beta2, double eps, double weight_decay,
                                 double decay, double inv_bc2_sqrt, double inv_batch) {
  adam_consts k;
  k.b1 = (float)beta1;
  k.b2 = (float)beta2;
  k.c1 = (float)(1 - beta1);
  k.c2 = (float)(1 - beta2);
  k.eps = (float)eps;
  k.wd = (float)weight_decay;
  k.decay = (float)decay;
  k.bc2 = (float)inv_bc2_sqrt;
  k.step = (float)step_size;
  k.inv = (float)inv_batch;
  k.l2 = weight_decay != 0;
  k.decays = decay != 1;
  return k;
}

GP_INLINE void adam1(const adam_consts *k, const float *params, const float *m, const float *v, float *params_out,
                     float *m_out, float *v_out, const float *grad, int32_t j) {
  const float w = params[j];
  const float gb = grad[j] * k->inv;
  const float g = k->l2 ? gb + k->wd * w : gb;
  const float m1 = k->b1 * m[j] + k->c1 * g;
  const float v1 = k->b2 * v[j] + k->c2 * (g * g);
  m_out[j] = m1;
  v_out[j] = v1;
  const float denom = sqrt1(v1) * k->bc2 + k->eps;
  params_out[j] = (k->decays ? w * k->decay : w) - k->step * (m1 / denom);
}

/** softmax − onehot of one row from its exps e[c] = exp(x[c] − max); returns −log p[label] */
GP_INLINE double softmax_row_finish(float *row, const double *e, int32_t C, int32_t label, double max) {
  double sum = 0;
  for (int32_t c = 0; c < C; c++) sum += e[c];
  const double loss = gp_as_log(sum) + max - (double)row[label];
  for (int32_t c = 0; c < C; c++) row[c] = (float)(e[c] / sum - (c == label ? 1.0 : 0.0));
  return loss;
}

GP_INLINE double row_max(const float *row, int32_t C) {
  double max = -INFINITY;
  for (int32_t c = 0; c < C; c++) max = wasm_max(max, (double)row[c]);
  return max;
}

// rows up to this wide keep their exps on the stack (the wasm kernel computes each twice)
#define SOFTMAX_STACK 256

/** rows wider than SOFTMAX_STACK: the wasm kernel's loops as they are */
static double softmax_row_wide(float *row, int32_t C, int32_t label, double max) {
  double sum = 0;
  for (int32_t c = 0; c < C; c++) sum += gp_as_exp((double)row[c] - max);
  const double loss = gp_as_log(sum) + max - (double)row[label];
  for (int32_t c = 0; c < C; c++) row[c] = (float)(gp_as_exp((double)row[c] - max) / sum - (c == label ? 1.0 : 0.0));
  return loss;
}

/** e[c] = exp((double)row[c] − max) for a row of C ≤ SOFTMAX_STACK logits: each ISA's own */
typedef void (*row_exps_fn)(double *e, const float *row, int32_t C, double max);

/** softmaxCrossEntropy's loop over the rows, with `exps` for the rows whose exps fit the stack */
static double softmax_rows(float *logits, const float *labels, int32_t B, int32_t C, row_exps_fn exps) {
  double loss = 0;
  double e[SOFTMAX_STACK];
  for (int32_t r = 0; r < B; r++) {
    float *row = logits + (size_t)r * (size_t)C;
    const double max = row_max(row, C);
    const int32_t label = trunc_sat_f32(labels[r]);
    if (C > SOFTMAX_STACK) {
      loss += softmax_row_wide(row, C, label, max);
      continue;
    }
    exps(e, row, C, max);
    loss += softmax_row_finish(row, e, C, label, max);
  }
  return loss;
}

// The constants of gp_as_exp's main path (as_math.c exp_lut)
#define EXP_INVLN2N (0x1.71547652b82fep0 * 128)
#define EXP_NEGLN2HIN (-0x1.62e42fefa0000p-8)
#define EXP_NEGLN2LON (-0x1.cf79abc9e3b3ap-47)
#define EXP_SHIFT 0x1.8p52
#define EXP_C2 0x1.ffffffffffdbdp-2
#define EXP_C3 0x1.555555555543cp-3
#define EXP_C4 0x1.55555cf172b91p-5
#define EXP_C5 0x1.1111167a4d017p-7

// The constants of gp_as_expm1 (as_math.c) and the bounds of tanh's and expm1's branches,
// which test the high word w of |x|: w > H is |x|'s bits > H·2^32 + 0xFFFFFFFF
#define EXPM1_LN2_HI 0x1.62e42feep-1
#define EXPM1_LN2_LO 0x1.a39ef35793c76p-33
#define EXPM1_INVLN2 0x1.71547652b82fep0
#define EXPM1_Q1 (-0x1.11111111110f4p-5)
#define EXPM1_Q2 0x1.a01a019fe5585p-10
#define EXPM1_Q3 (-0x1.4ce199eaadbb7p-14)
#define EXPM1_Q4 0x1.0cfca86e65239p-18
#define EXPM1_Q5 (-0x1.afdb76e09c32dp-23)
#define W_GT(h) ((int64_t)(((uint64_t)(h) << 32) | 0xFFFFFFFFu))
#define W_LT(h) ((int64_t)((uint64_t)(h) << 32))

#if defined(__x86_64__)
// ---------------------------------------------------------------------------------------------
// AVX-512

/**
 * gp_as_exp of 8 lanes: its main path (for 2^-54 <= |x| < 512, where abstop - 0x3C9 < 0x3F),
 * operation for operation; the mask says which lanes are outside it and need gp_as_exp.
 */
GP_AVX512 GP_INLINE __m512d exp8_main(__m512d x, __mmask8 *special) {
  const __m512d ax = _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(x), _mm512_set1_epi64(INT64_MAX)));
  *special = _mm512_cmp_pd_mask(ax, _mm512_set1_pd(0x1p-54), _CMP_LT_OQ) |
             _mm512_cmp_pd_mask(ax, _mm512_set1_pd(512.0), _CMP_NLT_UQ);
  const __m512d shift = _mm512_set1_pd(EXP_SHIFT);
  const __m512d z = _mm512_mul_pd(_mm512_set1_pd(EXP_INVLN2N), x);
  __m512d kd = _mm512_add_pd(z, shift);
  const __m512i ki = _mm512_castpd_si512(kd);
  kd = _mm512_sub_pd(kd, shift);
  const __m512d r = _mm512_add_pd(_mm512_add_pd(x, _mm512_mul_pd(kd, _mm512_set1_pd(EXP_NEGLN2HIN))),
                                  _mm512_mul_pd(kd, _mm512_set1_pd(EXP_NEGLN2LON)));
  const __m512i idx = _mm512_slli_epi64(_mm512_and_si512(ki, _mm512_set1_epi64(127)), 1);
  const __m512i top = _mm512_slli_epi64(ki, 45);
  const __m512d tail = _mm512_castsi512_pd(_mm512_i64gather_epi64(idx, (const void *)gp_as_exp_tab, 8));
  const __m512i sbits =
      _mm512_add_epi64(_mm512_i64gather_epi64(idx, (const void *)(gp_as_exp_tab + 1), 8), top);
  const __m512d r2 = _mm512_mul_pd(r, r);
  // tail + r + r2 * (C2 + r * C3) + r2 * r2 * (C4 + r * C5)
  const __m512d p23 = _mm512_add_pd(_mm512_set1_pd(EXP_C2), _mm512_mul_pd(r, _mm512_set1_pd(EXP_C3)));
  const __m512d p45 = _mm512_add_pd(_mm512_set1_pd(EXP_C4), _mm512_mul_pd(r, _mm512_set1_pd(EXP_C5)));
  const __m512d tmp = _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(tail, r), _mm512_mul_pd(r2, p23)),
                                    _mm512_mul_pd(_mm512_mul_pd(r2, r2), p45));
  const __m512d scale = _mm512_castsi512_pd(sbits);
  return _mm512_add_pd(scale, _mm512_mul_pd(scale, tmp));
}

/** gp_as_exp of 8 lanes */
GP_AVX512 GP_INLINE __m512d exp8(__m512d x) {
  __mmask8 special;
  __m512d e = exp8_main(x, &special);
  if (special) {
    double xs[8], es[8];
    _mm512_storeu_pd(xs, x);
    _mm512_storeu_pd(es, e);
    for (int l = 0; l < 8; l++)
      if (special & (1u << l)) es[l] = gp_as_exp(xs[l]);
    e = _mm512_loadu_pd(es);
  }
  return e;
}

/**
 * gp_as_expm1 of 8 lanes, for the arguments tanh gives it when |tanh's x| <= 20 (|a| <= 40,
 * so none of expm1's early returns but the tiny one, and k in -1…58, never 1024): every
 * branch computed, each lane given the one gp_as_expm1 takes for it.
 */
GP_AVX512 GP_INLINE __m512d expm1_8(__m512d a) {
  const __m512i ua = _mm512_castpd_si512(a);
  const __m512i ha = _mm512_and_si512(ua, _mm512_set1_epi64(INT64_MAX));
  const __m512i signbit = _mm512_set1_epi64(INT64_MIN);
  const __mmask8 neg = _mm512_cmplt_epi64_mask(ua, _mm512_setzero_si512());
  const __mmask8 red = _mm512_cmpgt_epi64_mask(ha, _mm512_set1_epi64(W_GT(0x3FD62E42)));  // hx > 0x3FD62E42
  const __mmask8 near = _mm512_cmplt_epi64_mask(ha, _mm512_set1_epi64(W_LT(0x3FF0A2B2))); // hx < 0x3FF0A2B2
  const __mmask8 tiny = _mm512_cmplt_epi64_mask(ha, _mm512_set1_epi64(W_LT(0x3C900000))); // hx < 0x3C900000
  // k = red ? (near ? 1 - (sign << 1) : i32(invln2 * x + copysign(0.5, x))) : 0, as a double
  const __m512d half = _mm512_castsi512_pd(
      _mm512_or_si512(_mm512_castpd_si512(_mm512_set1_pd(0.5)), _mm512_and_si512(ua, signbit)));
  const __m512d kr =
      _mm512_cvtepi32_pd(_mm512_cvttpd_epi32(_mm512_add_pd(_mm512_mul_pd(_mm512_set1_pd(EXPM1_INVLN2), a), half)));
  const __m512d ks = _mm512_mask_blend_pd(neg, _mm512_set1_pd(1), _mm512_set1_pd(-1));
  const __m512d t = _mm512_maskz_mov_pd(red, _mm512_mask_blend_pd(near, kr, ks));
  const __m512d hi = _mm512_sub_pd(a, _mm512_mul_pd(t, _mm512_set1_pd(EXPM1_LN2_HI)));
  const __m512d lo = _mm512_mul_pd(t, _mm512_set1_pd(EXPM1_LN2_LO));
  const __m512d xr = _mm512_sub_pd(hi, lo);
  const __m512d x = _mm512_mask_blend_pd(red, a, xr);
  const __m512d c = _mm512_maskz_mov_pd(red, _mm512_sub_pd(_mm512_sub_pd(hi, xr), lo));
  const __m512d hfx = _mm512_mul_pd(_mm512_set1_pd(0.5), x);
  const __m512d hxs = _mm512_mul_pd(x, hfx);
  const __m512d hxq = _mm512_mul_pd(hxs, hxs);
  // r1 = (1.0 + hxs * Q1) + hxq * ((Q2 + hxs * Q3) + hxq * (Q4 + hxs * Q5))
  const __m512d r1 = _mm512_add_pd(
      _mm512_add_pd(_mm512_set1_pd(1.0), _mm512_mul_pd(hxs, _mm512_set1_pd(EXPM1_Q1))),
      _mm512_mul_pd(hxq, _mm512_add_pd(_mm512_add_pd(_mm512_set1_pd(EXPM1_Q2), _mm512_mul_pd(hxs, _mm512_set1_pd(EXPM1_Q3))),
                                       _mm512_mul_pd(hxq, _mm512_add_pd(_mm512_set1_pd(EXPM1_Q4),
                                                                        _mm512_mul_pd(hxs, _mm512_set1_pd(EXPM1_Q5)))))));
  const __m512d tt = _mm512_sub_pd(_mm512_set1_pd(3.0), _mm512_mul_pd(r1, hfx));
  const __m512d e = _mm512_mul_pd(hxs, _mm512_div_pd(_mm512_sub_pd(r1, tt), _mm512_sub_pd(_mm512_set1_pd(6.0), _mm512_mul_pd(x, tt))));
  // k == 0: x - (x * e - hxs)
  const __m512d r_k0 = _mm512_sub_pd(x, _mm512_sub_pd(_mm512_mul_pd(x, e), hxs));
  // e = x * (e - c) - c; e -= hxs
  const __m512d e2 = _mm512_sub_pd(_mm512_sub_pd(_mm512_mul_pd(x, _mm512_sub_pd(e, c)), c), hxs);
  // k == -1: 0.5 * (x - e) - 0.5
  const __m512d r_km1 = _mm512_sub_pd(_mm512_mul_pd(_mm512_set1_pd(0.5), _mm512_sub_pd(x, e2)), _mm512_set1_pd(0.5));
  // k == 1: x < -0.25 ? -2.0 * (e - (x + 0.5)) : 1.0 + 2.0 * (x - e)
  const __m512d r_k1a = _mm512_mul_pd(_mm512_set1_pd(-2.0), _mm512_sub_pd(e2, _mm512_add_pd(x, _mm512_set1_pd(0.5))));
  const __m512d r_k1b = _mm512_add_pd(_mm512_set1_pd(1.0), _mm512_mul_pd(_mm512_set1_pd(2.0), _mm512_sub_pd(x, e2)));
  const __m512d r_k1 = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, _mm512_set1_pd(-0.25), _CMP_LT_OQ), r_k1b, r_k1a);
  // twopk = 2^k by its bits (0x3FF + k) << 52; y = 2^-k by (0x3FF - k) << 52
  const __m512i k64 = _mm512_cvttpd_epi64(t);
  const __m512d twopk = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(k64, _mm512_set1_epi64(0x3FF)), 52));
  const __m512d ymk = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_sub_epi64(_mm512_set1_epi64(0x3FF), k64), 52));
  // k < 0 || k > 56: (x - e + 1.0) * twopk - 1.0
  const __m512d r_big =
      _mm512_sub_pd(_mm512_mul_pd(_mm512_add_pd(_mm512_sub_pd(x, e2), _mm512_set1_pd(1.0)), twopk), _mm512_set1_pd(1.0));
  // (x + (k < 20 ? (1 - y) - e : 1 - (e + y))) * twopk
  const __m512d ylt = _mm512_sub_pd(_mm512_sub_pd(_mm512_set1_pd(1), ymk), e2);
  const __m512d yge = _mm512_sub_pd(_mm512_set1_pd(1), _mm512_add_pd(e2, ymk));
  const __m512d r_mid = _mm512_mul_pd(
      _mm512_add_pd(x, _mm512_mask_blend_pd(_mm512_cmp_pd_mask(t, _mm512_set1_pd(20), _CMP_LT_OQ), yge, ylt)), twopk);
  __m512d r = _mm512_mask_blend_pd(
      _mm512_cmp_pd_mask(t, _mm512_setzero_pd(), _CMP_LT_OQ) | _mm512_cmp_pd_mask(t, _mm512_set1_pd(56), _CMP_GT_OQ), r_mid,
      r_big);
  r = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(t, _mm512_set1_pd(1), _CMP_EQ_OQ), r, r_k1);
  r = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(t, _mm512_set1_pd(-1), _CMP_EQ_OQ), r, r_km1);
  r = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(t, _mm512_setzero_pd(), _CMP_EQ_OQ), r, r_k0);
  return _mm512_mask_blend_pd(tiny, r, a); // hx < 0x3C900000: x
}

/** gp_as_tanh of 8 lanes: its branches by w, all computed, one division shared */
GP_AVX512 GP_INLINE __m512d tanh8(__m512d xv) {
  const __m512i signbit = _mm512_set1_epi64(INT64_MIN);
  const __m512i u = _mm512_andnot_si512(signbit, _mm512_castpd_si512(xv));
  const __m512d y = _mm512_castsi512_pd(u);
  const __mmask8 big = _mm512_cmpgt_epi64_mask(u, _mm512_set1_epi64(W_GT(0x40340000))); // w > 0x40340000
  const __mmask8 b = _mm512_cmpgt_epi64_mask(u, _mm512_set1_epi64(W_GT(0x3FE193EA)));   // w > 0x3FE193EA
  const __mmask8 cc = _mm512_cmpgt_epi64_mask(u, _mm512_set1_epi64(W_GT(0x3FD058AE)));  // w > 0x3FD058AE
  const __mmask8 d = _mm512_cmpge_epi64_mask(u, _mm512_set1_epi64(W_LT(0x00100000)));   // w >= 0x00100000
  // expm1(2 * y) where w > 0x3FD058AE, else expm1(-2 * y)
  const __m512d a = _mm512_mask_blend_pd(cc, _mm512_mul_pd(_mm512_set1_pd(-2), y), _mm512_mul_pd(_mm512_set1_pd(2), y));
  const __m512d t = expm1_8(_mm512_mask_blend_pd(big, a, _mm512_setzero_pd()));
  const __m512d t2 = _mm512_add_pd(t, _mm512_set1_pd(2));
  // big: 1 - 0 / y; b: 1 - 2 / (t + 2); cc: t / (t + 2); d: -t / (t + 2)
  __m512d num = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(t), signbit));
  num = _mm512_mask_blend_pd(cc, num, t);
  num = _mm512_mask_blend_pd(b, num, _mm512_set1_pd(2));
  num = _mm512_mask_blend_pd(big, num, _mm512_setzero_pd());
  const __m512d q = _mm512_div_pd(num, _mm512_mask_blend_pd(big, t2, y));
  __m512d r = _mm512_mask_blend_pd(b, q, _mm512_sub_pd(_mm512_set1_pd(1), q));
  r = _mm512_mask_blend_pd(d, y, r); // w < 0x00100000: y
  // copysign(t, x)
  return _mm512_castsi512_pd(
      _mm512_or_si512(_mm512_castpd_si512(r), _mm512_and_si512(_mm512_castpd_si512(xv), signbit)));
}

GP_AVX512 GP_INLINE __m512 relu16(__m512 x) {
  // keep x where !(x <= 0): x > 0 or NaN
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NLE_UQ), x);
}

GP_AVX512 static void activation_forward_avx512(int32_t act, float *x, int32_t n) {
  int32_t i = 0;
  if (act == 0) {
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, relu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
      const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
      _mm512_mask_storeu_ps(x + i, m, relu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
  } else if (act == 1) {
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm512_cvtpd_ps(tanh8(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)))));
    for (; i < n; i++) x[i] = tanh1(x[i]);
  } else {
    const __m512d one = _mm512_set1_pd(1.0);
    for (; i + 8 <= n; i += 8) {
      const __m512d xd = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
      const __m512d e = exp8(_mm512_xor_pd(xd, _mm512_set1_pd(-0.0))); // −x
      _mm256_storeu_ps(x + i, _mm512_cvtpd_ps(_mm512_div_pd(one, _mm512_add_pd(one, e))));
    }
    for (; i < n; i++) x[i] = sigmoid1(x[i]);
  }
}

GP_AVX512 static void activation_backward_avx512(int32_t act, float *d, const float *a, int32_t n) {
  int32_t i = 0;
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1);
  if (act == 0) {
    for (; i + 16 <= n; i += 16) {
      const __mmask16 keep = _mm512_cmp_ps_mask(_mm512_loadu_ps(a + i), zero, _CMP_GT_OQ);
      _mm512_storeu_ps(d + i, _mm512_maskz_mov_ps(keep, _mm512_loadu_ps(d + i)));
    }
    for (; i < n; i++)
      if (!(a[i] > 0)) d[i] = 0;
  } else {
    const int is_tanh = act == 1;
    for (; i + 16 <= n; i += 16) {
      const __m512 y = _mm512_loadu_ps(a + i);
      const __m512 g = is_tanh ? _mm512_sub_ps(one, _mm512_mul_ps(y, y)) : _mm512_mul_ps(y, _mm512_sub_ps(one, y));
      _mm512_storeu_ps(d + i, _mm512_mul_ps(_mm512_loadu_ps(d + i), g));
    }
    for (; i < n; i++) d[i] = backward1(act, d[i], a[i]);
  }
}

GP_AVX512 static void row_exps_avx512(double *e, const float *row, int32_t C, double max) {
  const __m512d vmax = _mm512_set1_pd(max);
  int32_t c = 0;
  for (; c + 8 <= C; c += 8)
    _mm512_storeu_pd(e + c, exp8(_mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(row + c)), vmax)));
  for (; c < C; c++) e[c] = gp_as_exp((double)row[c] - max);
}

static double softmax_cross_entropy_avx512(float *logits, const float *labels, int32_t B, int32_t C) {
  return softmax_rows(logits, labels, B, C, row_exps_avx512);
}

GP_AVX512 static void sgd_update_avx512(const float *params, const float *velocity, float *params_out,
                                        float *velocity_out, const float *grad, int32_t n, double lr,
                                        double momentum, double weight_decay, double inv_batch, double nesterov) {
  const sgd_consts k = sgd_setup(lr, momentum, weight_decay, inv_batch, nesterov);
  const __m512 vlr = _mm512_set1_ps(k.lr), vmu = _mm512_set1_ps(k.mu), vwd = _mm512_set1_ps(k.wd),
               vinv = _mm512_set1_ps(k.inv);
  int32_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 w = _mm512_loadu_ps(params + j);
    const __m512 g = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(grad + j), vinv), _mm512_mul_ps(vwd, w));
    const __m512 v = _mm512_add_ps(_mm512_mul_ps(vmu, _mm512_loadu_ps(velocity + j)), g);
    const __m512 d = k.nag ? _mm512_add_ps(g, _mm512_mul_ps(vmu, v)) : v;
    _mm512_storeu_ps(velocity_out + j, v);
    _mm512_storeu_ps(params_out + j, _mm512_sub_ps(w, _mm512_mul_ps(vlr, d)));
  }
  for (; j < n; j++) sgd1(&k, params, velocity, params_out, velocity_out, grad, j);
}

GP_AVX512 static void adam_update_avx512(const float *params, const float *m, const float *v, float *params_out,
                                         float *m_out, float *v_out, const float *grad, int32_t n,
                                         double step_size, double beta1, double beta2, double eps,
                                         double weight_decay, double decay, double inv_bc2_sqrt, double inv_batch) {
  const adam_consts k = adam_setup(step_size, beta1, beta2, eps, weight_decay, decay, inv_bc2_sqrt, inv_batch);
  const __m512 vb1 = _mm512_set1_ps(k.b1), vb2 = _mm512_set1_ps(k.b2), vc1 = _mm512_set1_ps(k.c1),
               vc2 = _mm512_set1_ps(k.c2), veps = _mm512_set1_ps(k.eps), vwd = _mm512_set1_ps(k.wd),
               vdecay = _mm512_set1_ps(k.decay), vbc2 = _mm512_set1_ps(k.bc2), vstep = _mm512_set1_ps(k.step),
               vinv = _mm512_set1_ps(k.inv);
  int32_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 w = _mm512_loadu_ps(params + j);
    const __m512 gb = _mm512_mul_ps(_mm512_loadu_ps(grad + j), vinv);
    const __m512 g = k.l2 ? _mm512_add_ps(gb, _mm512_mul_ps(vwd, w)) : gb;
    const __m512 m1 = _mm512_add_ps(_mm512_mul_ps(vb1, _mm512_loadu_ps(m + j)), _mm512_mul_ps(vc1, g));
    const __m512 v1 =
        _mm512_add_ps(_mm512_mul_ps(vb2, _mm512_loadu_ps(v + j)), _mm512_mul_ps(vc2, _mm512_mul_ps(g, g)));
    const __m512 denom = _mm512_add_ps(_mm512_mul_ps(_mm512_sqrt_ps(v1), vbc2), veps);
    const __m512 w0 = k.decays ? _mm512_mul_ps(w, vdecay) : w;
    const __m512 out = _mm512_sub_ps(w0, _mm512_mul_ps(vstep, _mm512_div_ps(m1, denom)));
    _mm512_storeu_ps(m_out + j, m1);
    _mm512_storeu_ps(v_out + j, v1);
    _mm512_storeu_ps(params_out + j, out);
  }
  for (; j < n; j++) adam1(&k, params, m, v, params_out, m_out, v_out, grad, j);
}

// ---------------------------------------------------------------------------------------------
// AVX2

/** exp8_main for 4 lanes; the mask's low 4 bits say which lanes need gp_as_exp */
GP_AVX2 GP_INLINE __m256d exp4_main(__m256d x, int *special) {
  const __m256d ax = _mm256_castsi256_pd(_mm256_and_si256(_mm256_castpd_si256(x), _mm256_set1_epi64x(INT64_MAX)));
  *special = _mm256_movemask_pd(_mm256_or_pd(_mm256_cmp_pd(ax, _mm256_set1_pd(0x1p-54), _CMP_LT_OQ),
                                             _mm256_cmp_pd(ax, _mm256_set1_pd(512.0), _CMP_NLT_UQ)));
  const __m256d shift = _mm256_set1_pd(EXP_SHIFT);
  const __m256d z = _mm256_mul_pd(_mm256_set1_pd(EXP_INVLN2N), x);
  __m256d kd = _mm256_add_pd(z, shift);
  const __m256i ki = _mm256_castpd_si256(kd);
  kd = _mm256_sub_pd(kd, shift);
  const __m256d r = _mm256_add_pd(_mm256_add_pd(x, _mm256_mul_pd(kd, _mm256_set1_pd(EXP_NEGLN2HIN))),
                                  _mm256_mul_pd(kd, _mm256_set1_pd(EXP_NEGLN2LON)));
  const __m256i idx = _mm256_slli_epi64(_mm256_and_si256(ki, _mm256_set1_epi64x(127)), 1);
  const __m256i top = _mm256_slli_epi64(ki, 45);
  const __m256d tail =
      _mm256_castsi256_pd(_mm256_i64gather_epi64((const long long *)gp_as_exp_tab, idx, 8));
  const __m256i sbits =
      _mm256_add_epi64(_mm256_i64gather_epi64((const long long *)(gp_as_exp_tab + 1), idx, 8), top);
  const __m256d r2 = _mm256_mul_pd(r, r);
  const __m256d p23 = _mm256_add_pd(_mm256_set1_pd(EXP_C2), _mm256_mul_pd(r, _mm256_set1_pd(EXP_C3)));
  const __m256d p45 = _mm256_add_pd(_mm256_set1_pd(EXP_C4), _mm256_mul_pd(r, _mm256_set1_pd(EXP_C5)));
  const __m256d tmp = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(tail, r), _mm256_mul_pd(r2, p23)),
                                    _mm256_mul_pd(_mm256_mul_pd(r2, r2), p45));
  const __m256d scale = _mm256_castsi256_pd(sbits);
  return _mm256_add_pd(scale, _mm256_mul_pd(scale, tmp));
}

GP_AVX2 GP_INLINE __m256d exp4(__m256d x) {
  int special;
  __m256d e = exp4_main(x, &special);
  if (special) {
    double xs[4], es[4];
    _mm256_storeu_pd(xs, x);
    _mm256_storeu_pd(es, e);
    for (int l = 0; l < 4; l++)
      if (special & (1 << l)) es[l] = gp_as_exp(xs[l]);
    e = _mm256_loadu_pd(es);
  }
  return e;
}

/** expm1_8 for 4 lanes (masks as all-ones lanes) */
GP_AVX2 GP_INLINE __m256d expm1_4(__m256d a) {
  const __m256i ua = _mm256_castpd_si256(a);
  const __m256i ha = _mm256_and_si256(ua, _mm256_set1_epi64x(INT64_MAX));
  const __m256i signbit = _mm256_set1_epi64x(INT64_MIN);
  const __m256d neg = _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_setzero_si256(), ua));
  const __m256d red = _mm256_castsi256_pd(_mm256_cmpgt_epi64(ha, _mm256_set1_epi64x(W_GT(0x3FD62E42))));
  const __m256d near = _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_set1_epi64x(W_LT(0x3FF0A2B2)), ha));
  const __m256d tiny = _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_set1_epi64x(W_LT(0x3C900000)), ha));
  const __m256d half = _mm256_castsi256_pd(
      _mm256_or_si256(_mm256_castpd_si256(_mm256_set1_pd(0.5)), _mm256_and_si256(ua, signbit)));
  const __m256d kr =
      _mm256_cvtepi32_pd(_mm256_cvttpd_epi32(_mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(EXPM1_INVLN2), a), half)));
  const __m256d ks = _mm256_blendv_pd(_mm256_set1_pd(1), _mm256_set1_pd(-1), neg);
  const __m256d t = _mm256_and_pd(red, _mm256_blendv_pd(kr, ks, near));
  const __m256d hi = _mm256_sub_pd(a, _mm256_mul_pd(t, _mm256_set1_pd(EXPM1_LN2_HI)));
  const __m256d lo = _mm256_mul_pd(t, _mm256_set1_pd(EXPM1_LN2_LO));
  const __m256d xr = _mm256_sub_pd(hi, lo);
  const __m256d x = _mm256_blendv_pd(a, xr, red);
  const __m256d c = _mm256_and_pd(red, _mm256_sub_pd(_mm256_sub_pd(hi, xr), lo));
  const __m256d hfx = _mm256_mul_pd(_mm256_set1_pd(0.5), x);
  const __m256d hxs = _mm256_mul_pd(x, hfx);
  const __m256d hxq = _mm256_mul_pd(hxs, hxs);
  const __m256d r1 = _mm256_add_pd(
      _mm256_add_pd(_mm256_set1_pd(1.0), _mm256_mul_pd(hxs, _mm256_set1_pd(EXPM1_Q1))),
      _mm256_mul_pd(hxq, _mm256_add_pd(_mm256_add_pd(_mm256_set1_pd(EXPM1_Q2), _mm256_mul_pd(hxs, _mm256_set1_pd(EXPM1_Q3))),
                                       _mm256_mul_pd(hxq, _mm256_add_pd(_mm256_set1_pd(EXPM1_Q4),
                                                                        _mm256_mul_pd(hxs, _mm256_set1_pd(EXPM1_Q5)))))));
  const __m256d tt = _mm256_sub_pd(_mm256_set1_pd(3.0), _mm256_mul_pd(r1, hfx));
  const __m256d e = _mm256_mul_pd(hxs, _mm256_div_pd(_mm256_sub_pd(r1, tt), _mm256_sub_pd(_mm256_set1_pd(6.0), _mm256_mul_pd(x, tt))));
  const __m256d r_k0 = _mm256_sub_pd(x, _mm256_sub_pd(_mm256_mul_pd(x, e), hxs));
  const __m256d e2 = _mm256_sub_pd(_mm256_sub_pd(_mm256_mul_pd(x, _mm256_sub_pd(e, c)), c), hxs);
  const __m256d r_km1 = _mm256_sub_pd(_mm256_mul_pd(_mm256_set1_pd(0.5), _mm256_sub_pd(x, e2)), _mm256_set1_pd(0.5));
  const __m256d r_k1a = _mm256_mul_pd(_mm256_set1_pd(-2.0), _mm256_sub_pd(e2, _mm256_add_pd(x, _mm256_set1_pd(0.5))));
  const __m256d r_k1b = _mm256_add_pd(_mm256_set1_pd(1.0), _mm256_mul_pd(_mm256_set1_pd(2.0), _mm256_sub_pd(x, e2)));
  const __m256d r_k1 = _mm256_blendv_pd(r_k1b, r_k1a, _mm256_cmp_pd(x, _mm256_set1_pd(-0.25), _CMP_LT_OQ));
  const __m256i k64 = _mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(t));
  const __m256d twopk = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(k64, _mm256_set1_epi64x(0x3FF)), 52));
  const __m256d ymk = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_sub_epi64(_mm256_set1_epi64x(0x3FF), k64), 52));
  const __m256d r_big =
      _mm256_sub_pd(_mm256_mul_pd(_mm256_add_pd(_mm256_sub_pd(x, e2), _mm256_set1_pd(1.0)), twopk), _mm256_set1_pd(1.0));
  const __m256d ylt = _mm256_sub_pd(_mm256_sub_pd(_mm256_set1_pd(1), ymk), e2);
  const __m256d yge = _mm256_sub_pd(_mm256_set1_pd(1), _mm256_add_pd(e2, ymk));
  const __m256d r_mid = _mm256_mul_pd(
      _mm256_add_pd(x, _mm256_blendv_pd(yge, ylt, _mm256_cmp_pd(t, _mm256_set1_pd(20), _CMP_LT_OQ))), twopk);
  __m256d r = _mm256_blendv_pd(r_mid, r_big,
                               _mm256_or_pd(_mm256_cmp_pd(t, _mm256_setzero_pd(), _CMP_LT_OQ),
                                            _mm256_cmp_pd(t, _mm256_set1_pd(56), _CMP_GT_OQ)));
  r = _mm256_blendv_pd(r, r_k1, _mm256_cmp_pd(t, _mm256_set1_pd(1), _CMP_EQ_OQ));
  r = _mm256_blendv_pd(r, r_km1, _mm256_cmp_pd(t, _mm256_set1_pd(-1), _CMP_EQ_OQ));
  r = _mm256_blendv_pd(r, r_k0, _mm256_cmp_pd(t, _mm256_setzero_pd(), _CMP_EQ_OQ));
  return _mm256_blendv_pd(r, a, tiny);
}

/** tanh8 for 4 lanes */
GP_AVX2 GP_INLINE __m256d tanh4(__m256d xv) {
  const __m256i signbit = _mm256_set1_epi64x(INT64_MIN);
  const __m256i u = _mm256_andnot_si256(signbit, _mm256_castpd_si256(xv));
  const __m256d y = _mm256_castsi256_pd(u);
  const __m256d big = _mm256_castsi256_pd(_mm256_cmpgt_epi64(u, _mm256_set1_epi64x(W_GT(0x40340000))));
  const __m256d b = _mm256_castsi256_pd(_mm256_cmpgt_epi64(u, _mm256_set1_epi64x(W_GT(0x3FE193EA))));
  const __m256d cc = _mm256_castsi256_pd(_mm256_cmpgt_epi64(u, _mm256_set1_epi64x(W_GT(0x3FD058AE))));
  const __m256d d = _mm256_castsi256_pd(_mm256_cmpgt_epi64(u, _mm256_set1_epi64x(W_GT(0x000FFFFF))));
  const __m256d a = _mm256_blendv_pd(_mm256_mul_pd(_mm256_set1_pd(-2), y), _mm256_mul_pd(_mm256_set1_pd(2), y), cc);
  const __m256d t = expm1_4(_mm256_andnot_pd(big, a));
  const __m256d t2 = _mm256_add_pd(t, _mm256_set1_pd(2));
  __m256d num = _mm256_castsi256_pd(_mm256_xor_si256(_mm256_castpd_si256(t), signbit));
  num = _mm256_blendv_pd(num, t, cc);
  num = _mm256_blendv_pd(num, _mm256_set1_pd(2), b);
  num = _mm256_andnot_pd(big, num);
  const __m256d q = _mm256_div_pd(num, _mm256_blendv_pd(t2, y, big));
  __m256d r = _mm256_blendv_pd(q, _mm256_sub_pd(_mm256_set1_pd(1), q), b);
  r = _mm256_blendv_pd(y, r, d);
  return _mm256_castsi256_pd(
      _mm256_or_si256(_mm256_castpd_si256(r), _mm256_and_si256(_mm256_castpd_si256(xv), signbit)));
}

GP_AVX2 GP_INLINE __m256 relu8(__m256 x) {
  // zero where x <= 0 (ordered): +0 for ±0 and negatives, x for x > 0 and NaN
  return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LE_OQ), x);
}

GP_AVX2 static void activation_forward_avx2(int32_t act, float *x, int32_t n) {
  int32_t i = 0;
  if (act == 0) {
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, relu8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) x[i] = relu1(x[i]);
  } else if (act == 1) {
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(x + i, _mm256_cvtpd_ps(tanh4(_mm256_cvtps_pd(_mm_loadu_ps(x + i)))));
    for (; i < n; i++) x[i] = tanh1(x[i]);
  } else {
    const __m256d one = _mm256_set1_pd(1.0);
    for (; i + 4 <= n; i += 4) {
      const __m256d xd = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
      const __m256d e = exp4(_mm256_xor_pd(xd, _mm256_set1_pd(-0.0))); // −x
      _mm_storeu_ps(x + i, _mm256_cvtpd_ps(_mm256_div_pd(one, _mm256_add_pd(one, e))));
    }
    for (; i < n; i++) x[i] = sigmoid1(x[i]);
  }
}

GP_AVX2 static void activation_backward_avx2(int32_t act, float *d, const float *a, int32_t n) {
  int32_t i = 0;
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1);
  if (act == 0) {
    for (; i + 8 <= n; i += 8) {
      const __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(a + i), zero, _CMP_GT_OQ);
      _mm256_storeu_ps(d + i, _mm256_and_ps(_mm256_loadu_ps(d + i), keep));
    }
    for (; i < n; i++)
      if (!(a[i] > 0)) d[i] = 0;
  } else {
    const int is_tanh = act == 1;
    for (; i + 8 <= n; i += 8) {
      const __m256 y = _mm256_loadu_ps(a + i);
      const __m256 g = is_tanh ? _mm256_sub_ps(one, _mm256_mul_ps(y, y)) : _mm256_mul_ps(y, _mm256_sub_ps(one, y));
      _mm256_storeu_ps(d + i, _mm256_mul_ps(_mm256_loadu_ps(d + i), g));
    }
    for (; i < n; i++) d[i] = backward1(act, d[i], a[i]);
  }
}

GP_AVX2 static void row_exps_avx2(double *e, const float *row, int32_t C, double max) {
  const __m256d vmax = _mm256_set1_pd(max);
  int32_t c = 0;
  for (; c + 4 <= C; c += 4)
    _mm256_storeu_pd(e + c, exp4(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(row + c)), vmax)));
  for (; c < C; c++) e[c] = gp_as_exp((double)row[c] - max);
}

static double softmax_cross_entropy_avx2(float *logits, const float *labels, int32_t B, int32_t C) {
  return softmax_rows(logits, labels, B, C, row_exps_avx2);
}

GP_AVX2 static void sgd_update_avx2(const float *params, const float *velocity, float *params_out,
                                    float *velocity_out, const float *grad, int32_t n, double lr, double momentum,
                                    double weight_decay, double inv_batch, double nesterov) {
  const sgd_consts k = sgd_setup(lr, momentum, weight_decay, inv_batch, nesterov);
  const __m256 vlr = _mm256_set1_ps(k.lr), vmu = _mm256_set1_ps(k.mu), vwd = _mm256_set1_ps(k.wd),
               vinv = _mm256_set1_ps(k.inv);
  int32_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 w = _mm256_loadu_ps(params + j);
    const __m256 g = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(grad + j), vinv), _mm256_mul_ps(vwd, w));
    const __m256 v = _mm256_add_ps(_mm256_mul_ps(vmu, _mm256_loadu_ps(velocity + j)), g);
    const __m256 d = k.nag ? _mm256_add_ps(g, _mm256_mul_ps(vmu, v)) : v;
    _mm256_storeu_ps(velocity_out + j, v);
    _mm256_storeu_ps(params_out + j, _mm256_sub_ps(w, _mm256_mul_ps(vlr, d)));
  }
  for (; j < n; j++) sgd1(&k, params, velocity, params_out, velocity_out, grad, j);
}

GP_AVX2 static void adam_update_avx2(const float *params, const float *m, const float *v, float *params_out,
                                     float *m_out, float *v_out, const float *grad, int32_t n, double step_size,
                                     double beta1, double beta2, double eps, double weight_decay, double decay,
                                     double inv_bc2_sqrt, double inv_batch) {
  const adam_consts k = adam_setup(step_size, beta1, beta2, eps, weight_decay, decay, inv_bc2_sqrt, inv_batch);
  const __m256 vb1 = _mm256_set1_ps(k.b1), vb2 = _mm256_set1_ps(k.b2), vc1 = _mm256_set1_ps(k.c1),
               vc2 = _mm256_set1_ps(k.c2), veps = _mm256_set1_ps(k.eps), vwd = _mm256_set1_ps(k.wd),
               vdecay = _mm256_set1_ps(k.decay), vbc2 = _mm256_set1_ps(k.bc2), vstep = _mm256_set1_ps(k.step),
               vinv = _mm256_set1_ps(k.inv);
  int32_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 w = _mm256_loadu_ps(params + j);
    const __m256 gb = _mm256_mul_ps(_mm256_loadu_ps(grad + j), vinv);
    const __m256 g = k.l2 ? _mm256_add_ps(gb, _mm256_mul_ps(vwd, w)) : gb;
    const __m256 m1 = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + j)), _mm256_mul_ps(vc1, g));
    const __m256 v1 =
        _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + j)), _mm256_mul_ps(vc2, _mm256_mul_ps(g, g)));
    const __m256 denom = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(v1), vbc2), veps);
    const __m256 w0 = k.decays ? _mm256_mul_ps(w, vdecay) : w;
    const __m256 out = _mm256_sub_ps(w0, _mm256_mul_ps(vstep, _mm256_div_ps(m1, denom)));
    _mm256_storeu_ps(m_out + j, m1);
    _mm256_storeu_ps(v_out + j, v1);
    _mm256_storeu_ps(params_out + j, out);
  }
  for (; j < n; j++) adam1(&k, params, m, v, params_out, m_out, v_out, grad, j);
}

#else
// ---------------------------------------------------------------------------------------------
// Elsewhere (arm64): the scalar kernels above over every element, which are the wasm kernels'
// scalar tails (and the same bits as their vector loops). GCC vectorises what it can of these
// loops; they are a small part of a step beside the linear kernels.

static void activation_forward_portable(int32_t act, float *x, int32_t n) {
  if (act == 0)
    for (int32_t i = 0; i < n; i++) x[i] = relu1(x[i]);
  else if (act == 1)
    for (int32_t i = 0; i < n; i++) x[i] = tanh1(x[i]);
  else
    for (int32_t i = 0; i < n; i++) x[i] = sigmoid1(x[i]);
}

static void activation_backward_portable(int32_t act, float *d, const float *a, int32_t n) {
  if (act == 0) {
    for (int32_t i = 0; i < n; i++)
      if (!(a[i] > 0)) d[i] = 0;
  } else {
    for (int32_t i = 0; i < n; i++) d[i] = backward1(act, d[i], a[i]);
  }
}

static void row_exps_portable(double *e, const float *row, int32_t C, double max) {
  for (int32_t c = 0; c < C; c++) e[c] = gp_as_exp((double)row[c] - max);
}

static double softmax_cross_entropy_portable(float *logits, const float *labels, int32_t B, int32_t C) {
  return softmax_rows(logits, labels, B, C, row_exps_portable);
}

static void sgd_update_portable(const float *params, const float *velocity, float *params_out, float *velocity_out,
                                const float *grad, int32_t n, double lr, double momentum, double weight_decay,
                                double inv_batch, double nesterov) {
  const sgd_consts k = sgd_setup(lr, momentum, weight_decay, inv_batch, nesterov);
  for (int32_t j = 0; j < n; j++) sgd1(&k, params, velocity, params_out, velocity_out, grad, j);
}

static void adam_update_portable(const float *params, const float *m, const float *v, float *params_out, float *m_out,
                                 float *v_out, const float *grad, int32_t n, double step_size, double beta1,
                                 double beta2, double eps, double weight_decay, double decay, double inv_bc2_sqrt,
                                 double inv_batch) {
  const adam_consts k = adam_setup(step_size, beta1, beta2, eps, weight_decay, decay, inv_bc2_sqrt, inv_batch);
  for (int32_t j = 0; j < n; j++) adam1(&k, params, m, v, params_out, m_out, v_out, grad, j);
}
#endif

// ---------------------------------------------------------------------------------------------

void gp_elementwise_table(gp_isa isa, gp_kernel_table *table) {
#if defined(__x86_64__)
  if (isa == GP_ISA_AVX512) {
    table->activation_forward = activation_forward_avx512;
    table->activation_backward = activation_backward_avx512;
    table->softmax_cross_entropy = softmax_cross_entropy_avx512;
    table->sgd_update = sgd_update_avx512;
    table->adam_update = adam_update_avx512;
  } else {
    table->activation_forward = activation_forward_avx2;
    table->activation_backward = activation_backward_avx2;
    table->softmax_cross_entropy = softmax_cross_entropy_avx2;
    table->sgd_update = sgd_update_avx2;
    table->adam_update = adam_update_avx2;
  }
#else
  (void)isa;
  table->activation_forward = activation_forward_portable;
  table->activation_backward = activation_backward_portable;
  table->softmax_cross_entropy = softmax_cross_entropy_portable;
  table->sgd_update = sgd_update_portable;
  table->adam_update = adam_update_portable;
#endif
}
