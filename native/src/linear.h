// What the linear kernels of linear.c read and write of their scratch (`pack`), in floats, so
// the addon can check it lies in the arena. Each is at most kernelScratchFloats(sizes, rows) of
// src/nn/kernels/types.ts for any rows ≥ B and sizes holding I and O, which is at least
// S = max(8·(3B + 4), 4·(2·max(I, O) + 4)) (and 12·max(I, O) + 16, for the forward alone);
// the kernels use what S allows:
//   forward         15 + 16·T·(I >> 2), T = the first pass's tiles of 4 rows
//                   (gp_forward_tiles; 1 on AVX2), the 15: the tiles start on a 64-byte line;
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
 * The forward's tiles of 4 rows in its next pass over W, with `left` tiles of rows to go, in a
 * build of at most `tmax` (3 on AVX-512, 1 on AVX2): 3, but never leaving a lone tile for a pass
 * of its own (4 go as 2 + 2), else 2, else 1. No later pass of a call takes more than its first.
 */
static inline int gp_forward_tiles(int tmax, int left) {
  if (tmax >= 3 && left >= 3 && left != 4) return 3;
  return tmax >= 2 && left >= 2 ? 2 : 1;
}

size_t gp_linear_forward_pack(gp_isa isa, int32_t B, int32_t I, int32_t O);
size_t gp_linear_backward_params_pack(int32_t B, int32_t I, int32_t O, int32_t o0, int32_t o1);
size_t gp_linear_backward_input_pack(int32_t B, int32_t I, int32_t O);

#endif
