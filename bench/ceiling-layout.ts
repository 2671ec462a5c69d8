// The memory of the parallel ceiling's forward kernels (bench/parallel-ceiling.ts), shared by
// the coordinator, which allocates the forward-shared memory, and the threads that use it.

import { SHARD_ROWS } from '../src/train/control.js';

/** one phase-1 shard of the reference recipe's first layer: W is 0.8 MB */
export const B = SHARD_ROWS;
export const I = 784;
export const O = 256;
/** floats before W: the wasm module's reserved start */
export const BASE = 16384;
/** floats of one thread's A, output and forward-kernel scratch (4 rows of inputs) */
export const PRIVATE = B * I + B * O + 4 * I + 64;

/** Floats of the forward-shared memory: W and its bias, then per thread its private floats and an O×I velocity. */
export const sharedFloats = (threads: number): number => BASE + O * I + O + threads * (PRIVATE + O * I);
