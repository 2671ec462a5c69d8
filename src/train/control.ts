// The control block: one SharedArrayBuffer through which the coordinator publishes a command
// and the workers report. Shared by src/train/pool.ts (coordinator) and workers/ (threads).
//
// Protocol for one command:
//   coordinator: writes the arguments, zeroes NEXT, DONE and the claim counters, bumps GEN,
//                notifies GEN.
//   workers:     wake on GEN. A training command runs STEPS steps; each has two phases:
//     1. row-parallel: claim shards of SHARD_ROWS rows with Atomics.add(NEXT); for each,
//        gather the rows, forward, loss, and backpropagate dZ of every layer into the
//        batch buffers (no parameter is written).
//     2. after a barrier (ARRIVED/PHASE): parameter-parallel: claim blocks of output neurons,
//        first from the thread's own share (src/nn/arena.ts blockShares), then from the others',
//        with Atomics.add on each share's claim counter; for each, sum its weight gradient over
//        all the batch's rows (in row order, in registers) and apply SGD to those weights at once.
//     Every shard and every block is fixed by the batch size and the layer sizes, and every
//     sum runs in a fixed order, so the result is the same bytes for any number of threads.
//     Nothing is reduced across threads: each parameter has exactly one owner per step.
//     3. a second barrier; the last thread to arrive commits the step (STEP_DONE + 1) and
//        resets the claim counters, and all go on to the next step without the coordinator.
//        A failure in a step leaves it uncommitted and ends the command: the coordinator
//        reruns the steps from STEP_DONE on, from parameters the failed step never wrote.
//   workers:     Atomics.add(DONE); the last one notifies DONE.
//   coordinator: waits on DONE until it equals the number of threads.
// Seq-cst Atomics on GEN/DONE order all plain writes around them, so the workers see the
// new permutation and the coordinator sees the new parameters without further fences.

/** Int32 fields */
export const GEN = 0;
export const CMD = 1;
export const NEXT = 2;
export const ARRIVED = 3;
export const PHASE = 4;
export const DONE = 5;
export const READY = 6;
export const ERROR = 7;
/** first position in the permutation of the minibatch (train) or first row (eval) */
export const FIRST = 8;
/** rows in the minibatch (train) or rows to evaluate (eval) */
export const COUNT = 9;
/** shards of a step, or chunks of an evaluation */
export const TASKS = 10;
/** 0 = train split, 1 = test split (eval) */
export const SPLIT = 11;
/** 1 when eval should write each row's predicted class */
export const WANT_PREDICTIONS = 12;
/**
 * which copy of params/velocity (0 or 1) is current when a command starts; step i of a
 * training command reads copy (CURRENT + i) & 1 and writes the other
 */
export const CURRENT = 13;
/** the shard that failed, when ERROR is set by a throw */
export const ERROR_SHARD = 14;
/** steps in a training command, each of COUNT rows, the first at position FIRST */
export const STEPS = 15;
/** steps of the current training command committed so far (the commit is this increment) */
export const STEP_DONE = 16;
export const INT_FIELDS = 17;

/**
 * The most steps one training command runs. Between commands the coordinator reports progress,
 * checks signals and checkpoints; within one the threads go from step to step on their own.
 */
export const MAX_STEPS = 16;

/**
 * Int32 stride between the threads' claim counters for phase 2 (one per share of blocks): a
 * cache line each, so claiming from one's own share does not contend with the others.
 */
export const CLAIM_STRIDE = 16;

/** Float64 fields, after the Int32 ones */
export const F_LR = 0;
export const F_MOMENTUM = 1;
export const F_WEIGHT_DECAY = 2;
export const F_INV_BATCH = 3;
export const FLOAT_FIELDS = 4;

/** bytes for a worker's error message (UTF-8, NUL-padded) */
export const ERROR_TEXT_BYTES = 512;
/** the Float64 fields start at the first multiple of 8 bytes after the Int32 ones */
export const FLOAT_OFFSET = Math.ceil(INT_FIELDS / 2) * 8;
export const ERROR_TEXT_OFFSET = FLOAT_OFFSET + FLOAT_FIELDS * 8;
export const CONTROL_BYTES = ERROR_TEXT_OFFSET + ERROR_TEXT_BYTES;

export const CMD_TRAIN_STEPS = 1;
export const CMD_EVAL = 2;
export const CMD_STOP = 3;

/** Per-worker timing accumulators (ms), for the step breakdown in benchmarks. */
/** phase 1: gather, forward, loss and deltas of the worker's shards */
export const T_COMPUTE = 0;
/** waiting at the barrier between the phases */
export const T_WAIT_MID = 1;
/** phase 2's SGD updates (and claiming blocks) */
export const T_UPDATE = 2;
/** phase 2's weight-gradient products dZᵀ·A */
export const T_GRADIENTS = 3;
/** waiting at the barrier that ends a step */
export const T_WAIT_END = 4;
export const TIMING_FIELDS = 5;

export const SPLIT_TRAIN = 0;
export const SPLIT_TEST = 1;

/**
 * Rows per shard of phase 1: fixed, so shard boundaries never depend on the thread count. One
 * row tile of the kernels (4 rows), so a batch of 128 is 32 shards: 2 per thread at 16 threads
 * leaves room to balance a slow core. The weights are read once per row tile whatever the
 * shard size, and tiles start at multiples of 4 from the batch start either way, so the model
 * bytes do not depend on this constant.
 */
export const SHARD_ROWS = 4;
/** Rows per evaluation chunk. */
export const EVAL_ROWS = 64;

export interface ControlViews {
  readonly ints: Int32Array;
  readonly floats: Float64Array;
  readonly errorText: Uint8Array;
}

export function controlViews(buffer: SharedArrayBuffer): ControlViews {
  return {
    ints: new Int32Array(buffer, 0, INT_FIELDS),
    floats: new Float64Array(buffer, FLOAT_OFFSET, FLOAT_FIELDS),
    errorText: new Uint8Array(buffer, ERROR_TEXT_OFFSET, ERROR_TEXT_BYTES),
  };
}

/** Everything a worker receives, once per training session (shared buffers, not copies). */
export interface SessionInit {
  readonly workerIndex: number;
  readonly threads: number;
  readonly memory: WebAssembly.Memory;
  readonly control: SharedArrayBuffer;
  /** Float64: [loss, correct] per shard or eval chunk */
  readonly stats: SharedArrayBuffer;
  /** Int32 permutation of the train split */
  readonly permutation: SharedArrayBuffer;
  /** Uint8 predicted class per test row */
  readonly predictions: SharedArrayBuffer;
  /** Float64 per worker: TIMING_FIELDS accumulated milliseconds (see T_*) */
  readonly timings: SharedArrayBuffer;
  readonly trainImages: Uint8Array;
  readonly trainLabels: Uint8Array;
  readonly testImages: Uint8Array;
  readonly testLabels: Uint8Array;
  readonly sizes: readonly number[];
  readonly activation: import('../nn/layout.js').Activation;
  readonly plan: import('../nn/arena.js').ArenaPlan;
  readonly kernels: import('../nn/kernels/types.js').KernelName;
  /** Int32 per worker: 1 + the shard it is computing, 0 when between shards */
  readonly busy: SharedArrayBuffer;
  /** Int32, CLAIM_STRIDE per worker: the next unclaimed block of each worker's share */
  readonly claims: SharedArrayBuffer;
  /** GRADPOOL_INJECT_FAULTS, parsed (testing aid) */
  readonly faults: import('./faults.js').FaultSpec | null;
  /** iterations to poll a control field before sleeping on it (see spin-wait.ts) */
  readonly spin: number;
  /** compiled wasm kernels, when kernels === 'wasm' */
  readonly wasmModule?: WebAssembly.Module;
}
