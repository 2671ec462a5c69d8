// A register-only peak: what one core's vector units can do for the kernels' arithmetic when
// nothing waits on memory, for the bench table's "native register-only peak" row.
#ifndef GRADPOOL_PEAK_H
#define GRADPOOL_PEAK_H

#include <stdint.h>

#include "kernels.h"

/**
 * Runs `iterations` rounds of independent multiply-add chains on registers only (fused: one
 * fused multiply-add per step; unfused: a multiply and an add) and returns the floating-point
 * operations done (2 per lane per step); the caller times it.
 */
double gp_peak_flops(gp_isa isa, int fused, int64_t iterations);

#endif
