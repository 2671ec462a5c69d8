// gatherInputs of the native build: rows of a dataset's inputs (outside the arena) into the
// arena as float32, as src/nn/kernels/gather.ts does in JavaScript, float for float.
//
// A pixel p becomes (float)((double)p * (1.0 / 255.0)): JavaScript multiplies the byte by the
// f64 PIXEL_SCALE and rounds once on the store into a Float32Array, and so does this (the
// product of an integer below 256 and a double is one IEEE multiply in either, and cvtpd2ps
// rounds to nearest-even under the default MXCSR, as the store does; on arm64 fcvt under the
// default FPCR does the same). float32 features are copied as they are.
//
// Why native: the JavaScript loop spent about 14 % of a one-thread training step and of a
// prediction converting pixels (2.6 ns a pixel); this does 16 a few cycles.
#include "strict_fp.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <stdint.h>
#include <string.h>

#include "kernels.h"

#define GP_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq")))
#define GP_AVX2 __attribute__((target("avx2")))

static const double PIXEL_SCALE = 1.0 / 255.0;

// A row is checked where it is read, once (rows may be a SharedArrayBuffer that another thread
// rewrites): the gather stops at the first that is not one of the inputs' and returns its r
// (the rows before it written), else -1.

/** the inputs' row for output row r, or -1 where it is not one of the input_rows */
static inline int64_t row_of(const int32_t *rows, int64_t from, int32_t r, int64_t input_rows) {
  const int64_t row = rows ? (int64_t)rows[from + r] : from + r;
  return row >= 0 && row < input_rows ? row : -1;
}

/** the lines of the row PREFETCH_AHEAD rows on, so that its loads overlap this row's work */
enum { PREFETCH_AHEAD = 4 };
static inline void prefetch_row(const uint8_t *pixels, const int32_t *rows, int64_t from, int32_t r, int32_t B,
                                int32_t features, int64_t input_rows) {
  if (r + PREFETCH_AHEAD >= B) return;
  const int64_t row = row_of(rows, from, r + PREFETCH_AHEAD, input_rows);
  if (row < 0) return;
  const uint8_t *p = pixels + row * features;
  for (int32_t c = 0; c < features; c += 64) __builtin_prefetch(p + c);
}

static void pixels_tail(float *dst, const uint8_t *src, int32_t c, int32_t features) {
  for (; c < features; c++) dst[c] = (float)((double)src[c] * PIXEL_SCALE);
}

#if defined(__x86_64__)
/** one row of pixels into floats, 16 at a time */
GP_AVX512 static void pixels_row_avx512(float *d, const uint8_t *src, int32_t features) {
  const __m512d scale = _mm512_set1_pd(PIXEL_SCALE);
  int32_t c = 0;
  for (; c + 16 <= features; c += 16) {
    const __m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(src + c)));
    const __m512d lo = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(x)), scale);
    const __m512d hi = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(x, 1)), scale);
    _mm256_storeu_ps(d + c, _mm512_cvtpd_ps(lo));
    _mm256_storeu_ps(d + c + 8, _mm512_cvtpd_ps(hi));
  }
  pixels_tail(d, src, c, features);
}

/** one row of pixels into floats, 8 at a time */
GP_AVX2 static void pixels_row_avx2(float *d, const uint8_t *src, int32_t features) {
  const __m256d scale = _mm256_set1_pd(PIXEL_SCALE);
  int32_t c = 0;
  for (; c + 8 <= features; c += 8) {
    int64_t bytes;
    memcpy(&bytes, src + c, 8);
    const __m256i x = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(bytes));
    const __m256d lo = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(x)), scale);
    const __m256d hi = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(x, 1)), scale);
    _mm_storeu_ps(d + c, _mm256_cvtpd_ps(lo));
    _mm_storeu_ps(d + c + 4, _mm256_cvtpd_ps(hi));
  }
  pixels_tail(d, src, c, features);
}

#else
/** one row of pixels into floats, one at a time (GCC vectorises the loop) */
static void pixels_row_portable(float *d, const uint8_t *src, int32_t features) { pixels_tail(d, src, 0, features); }
#endif

/** the row loop of each: a call per row (784 pixels) costs nothing beside the row */
static inline int32_t gather_pixels(float *dst, const uint8_t *pixels, int64_t input_rows, const int32_t *rows,
                                    int64_t from, int32_t B, int32_t features,
                                    void (*row_into)(float *, const uint8_t *, int32_t)) {
  for (int32_t r = 0; r < B; r++) {
    prefetch_row(pixels, rows, from, r, B, features, input_rows);
    const int64_t row = row_of(rows, from, r, input_rows);
    if (row < 0) return r;
    row_into(dst + (int64_t)r * features, pixels + row * features, features);
  }
  return -1;
}

#if defined(__x86_64__)
static int32_t gather_pixels_avx512(float *dst, const uint8_t *pixels, int64_t input_rows, const int32_t *rows,
                                    int64_t from, int32_t B, int32_t features) {
  return gather_pixels(dst, pixels, input_rows, rows, from, B, features, pixels_row_avx512);
}

static int32_t gather_pixels_avx2(float *dst, const uint8_t *pixels, int64_t input_rows, const int32_t *rows,
                                  int64_t from, int32_t B, int32_t features) {
  return gather_pixels(dst, pixels, input_rows, rows, from, B, features, pixels_row_avx2);
}
#else
static int32_t gather_pixels_portable(float *dst, const uint8_t *pixels, int64_t input_rows, const int32_t *rows,
                                      int64_t from, int32_t B, int32_t features) {
  return gather_pixels(dst, pixels, input_rows, rows, from, B, features, pixels_row_portable);
}
#endif

static int32_t gather_features(float *dst, const float *features_in, int64_t input_rows, const int32_t *rows,
                               int64_t from, int32_t B, int32_t features) {
  const size_t bytes = (size_t)features * sizeof(float);
  for (int32_t r = 0; r < B; r++) {
    const int64_t row = row_of(rows, from, r, input_rows);
    if (row < 0) return r;
    memcpy(dst + (int64_t)r * features, features_in + row * features, bytes);
  }
  return -1;
}

void gp_gather_table(gp_isa isa, gp_kernel_table *table) {
#if defined(__x86_64__)
  table->gather_pixels = isa == GP_ISA_AVX512 ? gather_pixels_avx512 : gather_pixels_avx2;
#else
  (void)isa;
  table->gather_pixels = gather_pixels_portable;
#endif
  table->gather_features = gather_features;
}
