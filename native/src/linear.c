// The linear kernels of the native build (linearForward, linearBackwardParams,
// linearBackwardInput), for AVX-512 and AVX2 on x86-64 and NEON on arm64, each in two
// arithmetics: fused (madd is one rounding: = kernels-relaxed.wasm on a CPU with a fused
// multiply-add) and unfused (= kernels.wasm). The kernels are written once, in linear_impl.h,
// and included here once per (ISA, arithmetic) with that ISA's vector operations; on x86-64 each
// function carries its ISA's target attribute, so the rest of the addon stays baseline x86-64
// and the choice is made at run time (addon.c). NEON is part of every arm64 CPU.
//
// Must be compiled with -ffp-contract=off and without fast-math: GCC's default in GNU C mode
// would fuse the unfused builds' multiply and add (and the scalar tails of both), and the bits
// would no longer be wasm's.
#include "strict_fp.h"

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "linear.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

// Where the list walk beats the dense tile, in percent of nonzero dz (both give the same bits).
// The dense tiles share every load of a (or w) among 8 (or 4) outputs and stream it; the lists
// do not share, and reread rows from L1, which a row stride of a multiple of 512 bytes (I % 128
// == 0) crowds into a quarter of its sets or fewer. Break-even points measured on a Sapphire
// Rapids VM (AVX-512): weight gradient 128×784 → 45 %, 128×256 → 30 %; input gradient 4×256 → 55 %,
// 128×256 → 40 %, 128×784 → 45 %.
#ifndef PAR_SPARSE_PCT
#define PAR_SPARSE_PCT(I) ((I) % 128 == 0 ? 30 : 45)
#endif
#ifndef INP_SPARSE_PCT
#define INP_SPARSE_PCT(I, rows) ((I) % 128 == 0 && (rows) > 4 ? 35 : 45)
#endif

/** an entry of a list of nonzero dz (see linear_impl.h): the float offset of the row it multiplies, and its value */
typedef struct {
  uint32_t off;
  float v;
} gp_entry;

/**
 * Floats of scratch the caller provides at least: kernelScratchFloats' first two terms with
 * rows = B, sizes = {I, O} (its third, for the forward's 12 packed rows, is left out so that
 * the gradients' groups stay as they were measured).
 */
static size_t gp_scratch_floor(int32_t B, int32_t I, int32_t O) {
  const size_t rows = B > 1 ? (size_t)B : 1, size = (size_t)(I > O ? I : O);
  const size_t x = 8 * (3 * rows + 4), y = 4 * (2 * size + 4);
  return x > y ? x : y;
}

/** weight gradient: outputs whose lists are walked together, a multiple of 8 (8 … 32) */
static int gp_params_group(int32_t B, int32_t I, int32_t O) {
  const size_t lists = (gp_scratch_floor(B, I, O) - 8 * (size_t)B) / (2 * (size_t)B + 4); // ≥ 8
  const size_t n = lists < 32 ? lists : 32;
  return (int)(n & ~(size_t)7);
}

/** input gradient: tiles of 4 rows whose lists are walked together (1 … 4) */
static int gp_input_group(int32_t B, int32_t I, int32_t O) {
  const size_t tiles = gp_scratch_floor(B, I, O) / (4 * (2 * (size_t)O + 4)); // ≥ 1
  return (int)(tiles < 4 ? tiles : 4);
}

#if defined(__x86_64__)
#include <immintrin.h>

// the passes that make dz's lists take 8 outputs (or rows) at once, with AVX2, on both ISAs
#define GP_X86 1
#define Q __m128
#define QI __m128i
#define Q_ZERO() _mm_setzero_ps()
#define Q_LOAD(p) _mm_loadu_ps(p)
#define Q_STORE(p, x) _mm_storeu_ps(p, x)
#define Q_SET4(a, b, c, d) _mm_setr_ps(a, b, c, d)
#define Q_BITS(x) _mm_castps_si128(x)
#define QI_ZERO() _mm_setzero_si128()
#define QI_LOAD(p) _mm_loadu_si128((const __m128i *)(p))
#define QI_OR(x, y) _mm_or_si128(x, y)
#define QI_ANY(x) (!_mm_testz_si128(x, x))

/** x[j] lane i ← x[i] lane j: the 8×8 transpose */
static inline __attribute__((target("avx2"), always_inline)) void gp_transpose8(__m256 *x) {
  const __m256 t0 = _mm256_unpacklo_ps(x[0], x[1]), t1 = _mm256_unpackhi_ps(x[0], x[1]);
  const __m256 t2 = _mm256_unpacklo_ps(x[2], x[3]), t3 = _mm256_unpackhi_ps(x[2], x[3]);
  const __m256 t4 = _mm256_unpacklo_ps(x[4], x[5]), t5 = _mm256_unpackhi_ps(x[4], x[5]);
  const __m256 t6 = _mm256_unpacklo_ps(x[6], x[7]), t7 = _mm256_unpackhi_ps(x[6], x[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  x[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  x[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  x[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  x[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  x[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  x[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  x[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  x[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* ---- AVX-512: a zmm holds 4 rows × the 4 wasm lanes of the forward tile ---- */

#define AVX512_HELPER static inline __attribute__((target("avx512f,avx512vl,avx512dq"), always_inline))

AVX512_HELPER __m128 avx512_lane128(__m512 v, int i) {
  switch (i) {
  case 0: return _mm512_castps512_ps128(v);
  case 1: return _mm512_extractf32x4_ps(v, 1);
  case 2: return _mm512_extractf32x4_ps(v, 2);
  default: return _mm512_extractf32x4_ps(v, 3);
  }
}
/** lanes 4i … 4i+3 = x[i], i = 0…3 */
AVX512_HELPER __m512 avx512_rows(const float *x) {
  const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_loadu_ps(x)));
}
AVX512_HELPER __mmask16 avx512_mask(int m) { return (__mmask16)((1u << m) - 1); }
/**
 * Appends to the list at e (c entries so far) the lanes i < n of v that are not ±0 (NaN is
 * kept, as wasm's v != 0 keeps it), in lane order, with offsets offs[i]; returns the new length.
 * A compress, and a store masked to the entries kept, so it never writes past them.
 */
AVX512_HELPER uint32_t avx512_append8(gp_entry *e, uint32_t c, __m256 v, __m256i offs, int n) {
  const __mmask8 keep = _mm256_cmp_ps_mask(v, _mm256_setzero_ps(), _CMP_NEQ_UQ) & (__mmask8)((1u << n) - 1);
  const __m512i pairs = _mm512_or_si512(_mm512_cvtepu32_epi64(offs),
                                        _mm512_slli_epi64(_mm512_cvtepu32_epi64(_mm256_castps_si256(v)), 32));
  const int k = __builtin_popcount(keep);
  _mm512_mask_storeu_epi64(e + c, (__mmask8)((1u << k) - 1), _mm512_maskz_compress_epi64(keep, pairs));
  return c + (uint32_t)k;
}

#define VL 16
#define V __m512
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps(p, v)
#define V_LOADM(p, m) _mm512_maskz_loadu_ps(avx512_mask(m), p)
#define V_STOREM(p, v, m) _mm512_mask_storeu_ps(p, avx512_mask(m), v)
#define V_BCAST1(p) _mm512_set1_ps(*(p))
#define V_BCAST4(p) _mm512_broadcast_f32x4(_mm_loadu_ps(p))
#define V_BCAST4X(x) _mm512_broadcast_f32x4(x)
#define V_ADD(x, y) _mm512_add_ps(x, y)
#define V_MUL(x, y) _mm512_mul_ps(x, y)
#define V_FMA(x, y, c) _mm512_fmadd_ps(x, y, c)
#define V_SHUF(x, y, imm) _mm512_shuffle_ps(x, y, imm)
#define V_LANE128(v, i) avx512_lane128(v, i)
#define V_ROWS(x) avx512_rows(x)
#define M128_LOADN(p, m) _mm_maskz_loadu_ps((__mmask8)((1u << (m)) - 1), p)
#define M128_STOREN(p, x, m) _mm_mask_storeu_ps(p, (__mmask8)((1u << (m)) - 1), x)
#define Y_LOADN(p, m) _mm256_maskz_loadu_ps((__mmask8)((1u << (m)) - 1), p)
#define APPEND8(e, c, v, offs, n) avx512_append8(e, c, v, offs, n)
// forward: 3 tiles (12 rows) × 8 outputs = 24 zmm accumulators and 8 pointers into w, where 12
// rows are left; else 2 tiles (8 rows) × 8 outputs; 1 tile × 8 outputs where 4 rows or fewer
// are (12 outputs spill, and are no faster)
#define FWD_RMAX GP_FWD_RMAX_AVX512
#define FWD_NQ(R) 2
#define FWD_NQMAX 2
// weight gradient: 8 outputs × 3 zmm, or 4 × 6; input gradient: 4 rows × 6 zmm; lists: 2 × 4 zmm
// (weight gradient) or 2 × 8 (input gradient, whose lists of up to 16 rows reread rows of w)
#define PAR_K8 3
#define PAR_K4 6
#define INP_K 6
#define PAR_LIST_K 4
#define INP_LIST_K 8

#define TARGET "avx512f,avx512vl,avx512dq,fma"
#define FUSED 1
#define FN(x) CAT(x, _avx512_fused)
#include "linear_impl.h"
#undef FUSED
#undef FN
#define FUSED 0
#define FN(x) CAT(x, _avx512_unfused)
#include "linear_impl.h"
#undef FUSED
#undef FN
#undef TARGET

#undef VL
#undef V
#undef V_ZERO
#undef V_LOAD
#undef V_STORE
#undef V_LOADM
#undef V_STOREM
#undef V_BCAST1
#undef V_BCAST4
#undef V_BCAST4X
#undef V_ADD
#undef V_MUL
#undef V_FMA
#undef V_SHUF
#undef V_LANE128
#undef V_ROWS
#undef M128_LOADN
#undef M128_STOREN
#undef Y_LOADN
#undef APPEND8
#undef FWD_RMAX
#undef FWD_NQ
#undef FWD_NQMAX
#undef PAR_K8
#undef PAR_K4
#undef INP_K
#undef PAR_LIST_K
#undef INP_LIST_K

/* ---- AVX2: a ymm holds 2 rows × the 4 wasm lanes of the forward tile ---- */

#define AVX2_HELPER static inline __attribute__((target("avx2"), always_inline))

AVX2_HELPER __m128 avx2_lane128(__m256 v, int i) {
  return i == 0 ? _mm256_castps256_ps128(v) : _mm256_extractf128_ps(v, 1);
}
/** lanes 4i … 4i+3 = x[i], i = 0, 1 */
AVX2_HELPER __m256 avx2_rows(const float *x) { return _mm256_set_m128(_mm_set1_ps(x[1]), _mm_set1_ps(x[0])); }
AVX2_HELPER __m256i avx2_mask(int m) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
AVX2_HELPER __m128i avx2_mask4(int m) { return _mm_cmpgt_epi32(_mm_set1_epi32(m), _mm_setr_epi32(0, 1, 2, 3)); }
/**
 * AVX2 has no compress: for each 8-bit mask, the indices of its set bits in order (a byte each),
 * and how many there are. Filled once, when the addon is loaded.
 */
static uint64_t avx2_kept_lanes[256];
static uint8_t avx2_kept_count[256];
__attribute__((constructor)) static void avx2_kept_init(void) {
  for (int m = 0; m < 256; m++) {
    int k = 0;
    for (int i = 0; i < 8; i++)
      if (m >> i & 1) avx2_kept_lanes[m] |= (uint64_t)i << (8 * k++);
    avx2_kept_count[m] = (uint8_t)k;
  }
}
/**
 * avx512_append8 with a permute for the compress: the kept lanes moved to the front, all 8
 * entries stored, the length advanced past those kept, so it writes up to 8 entries past the
 * list's end (e + c + 8 must lie in the list's room: the callers pass n = 8 only where it does).
 * For n < 8, lane by lane.
 */
AVX2_HELPER uint32_t avx2_append8(gp_entry *e, uint32_t c, __m256 v, __m256i offs, int n) {
  if (n == 8) {
    const unsigned keep = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)&avx2_kept_lanes[keep]));
    const __m256 kv = _mm256_permutevar8x32_ps(v, idx);
    const __m256 ko = _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(offs, idx));
    const __m256 lo = _mm256_unpacklo_ps(ko, kv), hi = _mm256_unpackhi_ps(ko, kv); // entries 0 1 4 5, 2 3 6 7
    _mm256_storeu_ps((float *)(e + c), _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps((float *)(e + c + 4), _mm256_permute2f128_ps(lo, hi, 0x31));
    return c + avx2_kept_count[keep];
  }
  float x[8];
  uint32_t o[8];
  _mm256_storeu_ps(x, v);
  _mm256_storeu_si256((__m256i *)o, offs);
  for (int i = 0; i < n; i++) {
    e[c].off = o[i];
    e[c].v = x[i];
    c += x[i] != 0.0f;
  }
  return c;
}

#define VL 8
#define V __m256
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps(p, v)
#define V_LOADM(p, m) _mm256_maskload_ps(p, avx2_mask(m))
#define V_STOREM(p, v, m) _mm256_maskstore_ps(p, avx2_mask(m), v)
#define V_BCAST1(p) _mm256_broadcast_ss(p)
#define V_BCAST4(p) _mm256_broadcast_ps((const __m128 *)(p))
#define V_BCAST4X(x) _mm256_set_m128(x, x)
#define V_ADD(x, y) _mm256_add_ps(x, y)
#define V_MUL(x, y) _mm256_mul_ps(x, y)
#define V_FMA(x, y, c) _mm256_fmadd_ps(x, y, c)
#define V_SHUF(x, y, imm) _mm256_shuffle_ps(x, y, imm)
#define V_LANE128(v, i) avx2_lane128(v, i)
#define V_ROWS(x) avx2_rows(x)
#define M128_LOADN(p, m) _mm_maskload_ps(p, avx2_mask4(m))
#define M128_STOREN(p, x, m) _mm_maskstore_ps(p, avx2_mask4(m), x)
#define Y_LOADN(p, m) _mm256_maskload_ps(p, avx2_mask(m))
#define APPEND8(e, c, v, offs, n) avx2_append8(e, c, v, offs, n)
// 16 ymm registers: forward 6 rows (3 ymm) × 4 outputs; weight gradient 4 outputs × 3;
// input gradient 4 rows × 2 (× 3 spills accumulators); lists 2 × 4
#define FWD_RMAX GP_FWD_RMAX_AVX2
#define FWD_NQ(R) 1
#define FWD_NQMAX 1
#define PAR_K8 0
#define PAR_K4 3
#define INP_K 2
#define PAR_LIST_K 4
#define INP_LIST_K 4

#define TARGET "avx2,fma"
#define FUSED 1
#define FN(x) CAT(x, _avx2_fused)
#include "linear_impl.h"
#undef FUSED
#undef FN
#undef TARGET
// the unfused build runs on an AVX2 CPU without FMA3 too
#define TARGET "avx2"
#define FUSED 0
#define FN(x) CAT(x, _avx2_unfused)
#include "linear_impl.h"
#undef FUSED
#undef FN
#undef TARGET

void gp_linear_table(gp_isa isa, int fused, gp_kernel_table *table) {
  if (isa == GP_ISA_AVX512) {
    table->linear_forward = fused ? linear_forward_avx512_fused : linear_forward_avx512_unfused;
    table->linear_backward_params = fused ? linear_backward_params_avx512_fused : linear_backward_params_avx512_unfused;
    table->linear_backward_input = fused ? linear_backward_input_avx512_fused : linear_backward_input_avx512_unfused;
  } else {
    table->linear_forward = fused ? linear_forward_avx2_fused : linear_forward_avx2_unfused;
    table->linear_backward_params = fused ? linear_backward_params_avx2_fused : linear_backward_params_avx2_unfused;
    table->linear_backward_input = fused ? linear_backward_input_avx2_fused : linear_backward_input_avx2_unfused;
  }
}

#elif defined(__aarch64__)
#include <arm_neon.h>

/* ---- NEON: a q register holds 1 row × the 4 wasm lanes of the forward tile ---- */

#define GP_X86 0
#define Q float32x4_t
#define QI uint32x4_t
#define Q_ZERO() vdupq_n_f32(0.0f)
#define Q_LOAD(p) vld1q_f32(p)
#define Q_STORE(p, x) vst1q_f32(p, x)
#define Q_SET4(a, b, c, d) ((float32x4_t){a, b, c, d})
#define Q_BITS(x) vreinterpretq_u32_f32(x)
#define QI_ZERO() vdupq_n_u32(0)
#define QI_LOAD(p) vld1q_u32((const uint32_t *)(p))
#define QI_OR(x, y) vorrq_u32(x, y)
#define QI_ANY(x) (vmaxvq_u32(x) != 0)

/** the first m (≤ 4) floats at p, the rest zero */
static inline float32x4_t neon_loadm(const float *p, int m) {
  float x[4] = {0, 0, 0, 0};
  for (int i = 0; i < m; i++) x[i] = p[i];
  return vld1q_f32(x);
}
/** stores the first m (≤ 4) lanes of v at p */
static inline void neon_storem(float *p, float32x4_t v, int m) {
  float x[4];
  vst1q_f32(x, v);
  for (int i = 0; i < m; i++) p[i] = x[i];
}

#define VL 4
#define V float32x4_t
#define V_ZERO() vdupq_n_f32(0.0f)
#define V_LOAD(p) vld1q_f32(p)
#define V_STORE(p, v) vst1q_f32(p, v)
#define V_LOADM(p, m) neon_loadm(p, m)
#define V_STOREM(p, v, m) neon_storem(p, v, m)
#define V_BCAST1(p) vld1q_dup_f32(p)
#define V_BCAST4(p) vld1q_f32(p)
#define V_BCAST4X(x) (x)
#define V_ADD(x, y) vaddq_f32(x, y)
#define V_MUL(x, y) vmulq_f32(x, y)
#define V_FMA(x, y, c) vfmaq_f32(c, x, y)
// _mm_shuffle_ps(x, y, 0x88) = x0 x2 y0 y2 and (…, 0xDD) = x1 x3 y1 y3, the only two reduce4 takes
#define V_SHUF(x, y, imm) ((imm) == 0x88 ? vuzp1q_f32(x, y) : vuzp2q_f32(x, y))
#define V_LANE128(v, i) (v)
#define V_ROWS(x) vdupq_n_f32((x)[0])
#define M128_LOADN(p, m) neon_loadm(p, m)
#define M128_STOREN(p, x, m) neon_storem(p, x, m)
// 32 q registers: forward 4 rows × 4 outputs (16 accumulators); weight gradient 8 outputs × 2
// or 4 × 4; input gradient 4 rows × 4; lists 2 × 4 (weight gradient) or 2 × 8 (input gradient).
// Not tuned: no arm64 machine has measured them yet.
#define FWD_RMAX GP_FWD_RMAX_NEON
#define FWD_NQ(R) 1
#define FWD_NQMAX 1
#define PAR_K8 2
#define PAR_K4 4
#define INP_K 4
#define PAR_LIST_K 4
#define INP_LIST_K 8

#define FUSED 1
#define FN(x) CAT(x, _neon_fused)
#include "linear_impl.h"
#undef FUSED
#undef FN
#define FUSED 0
#define FN(x) CAT(x, _neon_unfused)
#include "linear_impl.h"
#undef FUSED
#undef FN

void gp_linear_table(gp_isa isa, int fused, gp_kernel_table *table) {
  (void)isa; // GP_ISA_NEON, the only one here
  table->linear_forward = fused ? linear_forward_neon_fused : linear_forward_neon_unfused;
  table->linear_backward_params = fused ? linear_backward_params_neon_fused : linear_backward_params_neon_unfused;
  table->linear_backward_input = fused ? linear_backward_input_neon_fused : linear_backward_input_neon_unfused;
}

#else
#error "the native kernels build for x86-64 (AVX-512, AVX2) and arm64 (NEON) only"
#endif

/** the forward's packed rows, 4·R floats per group of 4 inputs, and 15 to align them (a twin of kernelScratchFloats' bound) */
size_t gp_linear_forward_pack(gp_isa isa, int32_t B, int32_t I, int32_t O) {
  if (B <= 0 || O <= 0 || I < 4) return 0;
  const int rmax = isa == GP_ISA_AVX512 ? GP_FWD_RMAX_AVX512 : isa == GP_ISA_AVX2 ? GP_FWD_RMAX_AVX2 : GP_FWD_RMAX_NEON;
  const size_t R = (size_t)gp_forward_rows(rmax, B);
  return 15 + 4 * R * (size_t)(I >> 2);
}

size_t gp_linear_backward_params_pack(int32_t B, int32_t I, int32_t O, int32_t o0, int32_t o1) {
  if (o1 <= o0) return 0;
  return 8 * (size_t)B + (size_t)gp_params_group(B, I, O) * (2 * (size_t)B + 4);
}

size_t gp_linear_backward_input_pack(int32_t B, int32_t I, int32_t O) {
  if (B <= 0) return 0;
  const size_t rows = B < 4 ? (size_t)B : 4 * (size_t)gp_input_group(B, I, O);
  return rows * (2 * (size_t)O + 4);
}
