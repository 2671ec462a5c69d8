// What the linear kernels of linear.c read and write of their scratch (`pack`), in floats, so
// the addon can check it lies in the arena. Each is at most kernelScratchFloats(sizes, rows) of
// src/nn/kernels/types.ts for any rows ≥ B and sizes holding I and O, which is at least
// S = max(8·(3B + 4), 4·(2·max(I, O) + 4)) (and 12·max(I, O) + 16, for the forward alone);
// the kernels use what S allows:
//   forward         15 + 4·R·(I >> 2), R = the first pass's rows (gp_forward_rows: ≤ 12 on
//                   AVX-512, ≤ 6 on AVX2, 4 on NEON), the 15: the rows start on a 64-byte line;
//                   ≤ 12·I + 16
//   weight gradient 8B + n·(2B + 4): dz's columns for the dense tile and the lists of n outputs,
//                   n = the multiple of 8 (8 … 32) that S holds
//   input gradient  4g·(2O + 4): the lists of g tiles of 4 rows, g (1 … 4) as S holds
//                   (B < 4: B lists)
// and 0 where the kernel has nothing to do.
#ifndef GRADPOOL_LINEAR_H
#define GRADPOOL_LINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

/**
 * The rows of the forward's next pass over W, with `left` rows to go, in a build that takes at
 * most `rmax` (12 on AVX-512, 6 on AVX2). AVX-512: 12, but never leaving a lone tile of 4 for a
 * pass of its own (16 go as 8 + 8), else 8, else 4 (12 against 8: +10–19 % on a dense
 * 128×784×256, Sapphire Rapids). AVX2: 6, 12 accumulators, as many as its 16 registers hold
 * beside the rows, and more than the 10 chains that keep two FMA units of latency 5 busy (Zen 2);
 * but 8 go as 4 + 4; else 4 (6 against 4: +24 % on a dense 128×784×256, Zen 2). NEON: 4, the
 * wasm kernel's tile (not measured on an arm64 machine). A pass of 4 or fewer rows takes 4, the
 * missing ones as zeros. No later pass of a call takes more than its first.
 */
#define GP_FWD_RMAX_AVX512 12
#define GP_FWD_RMAX_AVX2 6
#define GP_FWD_RMAX_NEON 4
static inline int gp_forward_rows(int rmax, int left) {
  if (rmax >= 12) {
    const int tiles = (left + 3) / 4;
    return tiles >= 3 && tiles != 4 ? 12 : tiles >= 2 ? 8 : 4;
  }
  if (rmax >= 6) return left > 4 && left != 8 ? 6 : 4;
  return 4;
}

size_t gp_linear_forward_pack(gp_isa isa, int32_t B, int32_t I, int32_t O);
size_t gp_linear_backward_params_pack(int32_t B, int32_t I, int32_t O, int32_t o0, int32_t o1);
size_t gp_linear_backward_input_pack(int32_t B, int32_t I, int32_t O);

#endif
