// Included first by every kernel source: the native kernels must round exactly as the wasm
// kernels do, so nothing may fuse a multiply and an add behind the code's back, and nothing may
// reorder. GCC fuses by default in GNU C mode (intrinsics included) wherever FMA is enabled:
// binding.gyp passes -ffp-contract=off, and the pragma keeps it off where a build forgets it;
// clang takes the standard pragma. A -ffast-math build stops here.
#ifndef GRADPOOL_STRICT_FP_H
#define GRADPOOL_STRICT_FP_H

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#if defined(__FAST_MATH__)
#error "the native kernels must not be compiled with -ffast-math"
#endif

#endif
