// The native build of the Kernels contract (src/nn/kernels/types.ts). Every pointer is into
// the arena (the shared WebAssembly.Memory); sizes and offsets are as in that contract.
// Each kernel computes exactly what assembly/kernels.ts computes, float for float: the same
// sum for every output in the same order (see the comments there), with a multiply-add
// fused only in the fused table and only where the wasm kernel calls madd. Compiled with
// -ffp-contract=off and no fast-math, so the compiler never fuses or reorders on its own.
#ifndef GRADPOOL_KERNELS_H
#define GRADPOOL_KERNELS_H

#include <stdint.h>

// AVX2 and AVX-512 on x86-64, NEON on arm64 (an addon holds the kernels of its architecture only)
typedef enum { GP_ISA_AVX2 = 0, GP_ISA_AVX512 = 1, GP_ISA_NEON = 2 } gp_isa;

typedef struct {
  void (*linear_forward)(float *out, const float *a, const float *w, const float *bias, int32_t B, int32_t I,
                         int32_t O, int32_t ldo, float *pack);
  void (*linear_backward_params)(float *dw, float *db, const float *dz, const float *a, int32_t B, int32_t I,
                                 int32_t O, int32_t o0, int32_t o1, float *pack);
  void (*linear_backward_input)(float *da, const float *dz, const float *w, int32_t B, int32_t I, int32_t O,
                                float *pack);
  void (*activation_forward)(int32_t act, float *x, int32_t n);
  void (*activation_backward)(int32_t act, float *d, const float *a, int32_t n);
  double (*softmax_cross_entropy)(float *logits, const float *labels, int32_t B, int32_t C);
  void (*sgd_update)(const float *params, const float *velocity, float *params_out, float *velocity_out,
                     const float *grad, int32_t n, double lr, double momentum, double weight_decay,
                     double inv_batch, double nesterov);
  void (*adam_update)(const float *params, const float *m, const float *v, float *params_out, float *m_out,
                      float *v_out, const float *grad, int32_t n, double step_size, double beta1, double beta2,
                      double eps, double weight_decay, double decay, double inv_bc2_sqrt, double inv_batch);
  // gatherInputs: rows `rows[from + r]` (or from + r without rows) of B × features inputs held
  // outside the arena, of input_rows rows, into dst; pixels scaled by 1/255, features copied.
  // Returns -1, or the first r whose row is not one of the inputs' (rows before it written).
  int32_t (*gather_pixels)(float *dst, const uint8_t *pixels, int64_t input_rows, const int32_t *rows, int64_t from,
                           int32_t B, int32_t features);
  int32_t (*gather_features)(float *dst, const float *features_in, int64_t input_rows, const int32_t *rows,
                             int64_t from, int32_t B, int32_t features);
} gp_kernel_table;

// linear.c: fills the three linear_* entries for an ISA and arithmetic (fused: 1 = the
// wasm-relaxed-simd build's fused multiply-add, 0 = wasm-simd's multiply then add).
void gp_linear_table(gp_isa isa, int fused, gp_kernel_table *table);

// elementwise.c: fills the other five entries (no multiply-add is fused in any wasm build of
// these, so they do not depend on the arithmetic).
void gp_elementwise_table(gp_isa isa, gp_kernel_table *table);

// gather.c: fills the two gather_* entries.
void gp_gather_table(gp_isa isa, gp_kernel_table *table);

#endif
