// The register-only peak (peak.h). Each chain is c = c·y + x: every step depends on the last
// one of its chain, so the compiler can hoist nothing out of the loop, and there are enough
// chains (24 zmm of 32, 12 ymm of 16, 24 q of 32) to keep the vector ports busy through the
// latency of a fused multiply-add (4 cycles) or of a multiply then an add (8). y < 1 keeps the
// values finite and away from subnormals.
#include <stdint.h>

#include "peak.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define PEAK_ATTR(TARGET) __attribute__((target(TARGET)))
#define PEAK_REG "x"
#else
#include <arm_neon.h>
#define PEAK_ATTR(TARGET)
#define PEAK_REG "w"
#endif

#define PEAK(NAME, TARGET, V, SET1, STEP, ADD, NCHAIN, VL)                                                             \
  PEAK_ATTR(TARGET) static double NAME(int64_t iterations) {                                                           \
    const V y = SET1(0.999f), x = SET1(0.001f);                                                                        \
    V c[NCHAIN];                                                                                                       \
    _Pragma("GCC unroll 32") for (int i = 0; i < NCHAIN; i++) c[i] = SET1(1.0f + 0.01f * (float)i);                    \
    for (int64_t n = 0; n < iterations; n++) {                                                                         \
      _Pragma("GCC unroll 32") for (int i = 0; i < NCHAIN; i++) c[i] = STEP(c[i], y, x);                               \
    }                                                                                                                  \
    V s = c[0];                                                                                                        \
    for (int i = 1; i < NCHAIN; i++) s = ADD(s, c[i]);                                                                 \
    __asm__ volatile("" : : PEAK_REG(s)); /* the chains' result is used, so the loop is not dead */                    \
    return (double)iterations * NCHAIN * VL * 2;                                                                       \
  }

#if defined(__x86_64__)
#define FMA512(c, y, x) _mm512_fmadd_ps(c, y, x)
#define MULADD512(c, y, x) _mm512_add_ps(_mm512_mul_ps(c, y), x)
#define FMA256(c, y, x) _mm256_fmadd_ps(c, y, x)
#define MULADD256(c, y, x) _mm256_add_ps(_mm256_mul_ps(c, y), x)

PEAK(peak_avx512_fused, "avx512f,avx512vl,avx512dq,fma", __m512, _mm512_set1_ps, FMA512, _mm512_add_ps, 24, 16)
PEAK(peak_avx512_unfused, "avx512f,avx512vl,avx512dq,fma", __m512, _mm512_set1_ps, MULADD512, _mm512_add_ps, 24, 16)
PEAK(peak_avx2_fused, "avx2,fma", __m256, _mm256_set1_ps, FMA256, _mm256_add_ps, 12, 8)
PEAK(peak_avx2_unfused, "avx2", __m256, _mm256_set1_ps, MULADD256, _mm256_add_ps, 12, 8)


double gp_peak_flops(gp_isa isa, int fused, int64_t iterations) {
  if (iterations <= 0) return 0;
  if (isa == GP_ISA_AVX512) return fused ? peak_avx512_fused(iterations) : peak_avx512_unfused(iterations);
  return fused ? peak_avx2_fused(iterations) : peak_avx2_unfused(iterations);
}
#else
// 24 of the 32 q registers
#define FMANEON(c, y, x) vfmaq_f32(x, c, y)
#define MULADDNEON(c, y, x) vaddq_f32(vmulq_f32(c, y), x)
PEAK(peak_neon_fused, "", float32x4_t, vdupq_n_f32, FMANEON, vaddq_f32, 24, 4)
PEAK(peak_neon_unfused, "", float32x4_t, vdupq_n_f32, MULADDNEON, vaddq_f32, 24, 4)

double gp_peak_flops(gp_isa isa, int fused, int64_t iterations) {
  (void)isa;
  if (iterations <= 0) return 0;
  return fused ? peak_neon_fused(iterations) : peak_neon_unfused(iterations);
}
#endif
