// The memory of the parallel ceiling's forward kernels (bench/parallel-ceiling.ts), shared by
// the coordinator, which allocates the memory the threads share, and the threads that use it.

import { SHARD_ROWS } from '../src/train/control.js';

/** one phase-1 shard of the reference recipe's first layer: W is 0.8 MB */
export const B = SHARD_ROWS;
export const I = 784;
export const O = 256;
/** rows of the reference recipe's batch */
export const BATCH = 128;
/** floats before W: the wasm module's reserved start */
export const BASE = 16384;
/** floats of a thread's kernel scratch: the native forward's 12 packed rows of I at most (kernelScratchFloats' bound) */
export const PACK = 12 * I + 64;
/** floats of one thread's own region: its A shard, output, kernel scratch, velocity, and a batch × O output */
export const PRIVATE = B * I + B * O + PACK + O * I + BATCH * O;

/** Floats of the shared memory: W, its bias and the batch's inputs, then each thread's region. */
export const sharedFloats = (threads: number): number => BASE + O * I + O + BATCH * I + threads * PRIVATE;
