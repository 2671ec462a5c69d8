// The control block: one SharedArrayBuffer through which the coordinator (src/train/pool.ts)
// publishes commands and the workers (workers/step-worker.ts) report. Both sides go through
// the operations of ControlBlock, so each rule of the protocol is written once, here.
//
// Protocol for one command:
//   coordinator: writes the arguments, then publish(): clears the claims, the barrier, the
//                error, STEP_DONE and DONE, bumps GEN and notifies it.
//   workers:     wake on GEN. A training command runs STEPS steps; each has two phases:
//     0. only where the plan has first-layer slices (src/nn/arena.ts firstLayerSlices): each
//        thread gathers its fixed share of the rows; a barrier; each computes its slice of
//        the first layer's outputs for every row (the weights it updates itself in phase 2,
//        so no core reads the first layer's weights another has just written); a barrier.
//     1. row-parallel: claim groups of consecutive shards of SHARD_ROWS rows (claimShard,
//        shardGroup); for each, gather the rows (with slices: apply the first layer's
//        activation to the outputs the slices wrote in place), forward, each shard's loss, and
//        backpropagate dZ of every layer into the batch buffers (no parameter is written).
//        A fault drawn for a shard (GRADPOOL_INJECT_FAULTS) strikes where its rows are
//        gathered: in phase 0 with slices, else here.
//     2. after a barrier (ARRIVED/PHASE): parameter-parallel: claim blocks of output neurons,
//        first from the thread's own share (src/nn/arena.ts blockShares), then from the others'
//        (claimBlock); for each, sum its weight gradient over all the batch's rows (in row
//        order, in registers) and apply the update to those weights at once.
//     Every shard and every block is fixed by the batch size and the layer sizes, and every
//     sum runs in a fixed order, so the result is the same bytes for any number of threads.
//     Nothing is reduced across threads: each parameter has exactly one owner per step.
//     3. a second barrier; the last thread to arrive commits the step (commitStep: STEP_DONE
//        + 1, claims cleared), and all go on to the next step without the coordinator.
//        A failure in a step leaves it uncommitted and ends the command: the coordinator
//        advances CURRENT past the committed steps (advance) and reruns the rest from
//        parameters the failed step never wrote (step i reads copyForStep(i), writes the other).
//   workers:     finish(): Atomics.add(DONE); the last one notifies DONE.
//   coordinator: waits on DONE until it equals the number of threads.
// Seq-cst Atomics on GEN/DONE order all plain writes around them, so the workers see the
// new permutation and the coordinator sees the new parameters without further fences.

import { STEP_SCALARS } from '../nn/optim/optimizer.js';

/** Int32 fields */
export const GEN = 0;
export const CMD = 1;
export const NEXT = 2;
export const ARRIVED = 3;
export const PHASE = 4;
export const DONE = 5;
export const READY = 6;
/** 0, or 1 + the worker that reported the command's first error */
export const ERROR = 7;
/** first position in the permutation of the minibatch (train) or first row (eval) */
export const FIRST = 8;
/** rows in the minibatch (train) or rows to evaluate (eval) */
export const COUNT = 9;
/** shards of a step, or chunks of an evaluation */
export const TASKS = 10;
/** SPLIT_TEST or SPLIT_VALIDATION (eval) */
export const SPLIT = 11;
/** 1 when eval should write each row's predicted class */
export const WANT_PREDICTIONS = 12;
/** which copy of the parameters and optimizer state (0 or 1) is current when a command starts (see copyForStep) */
export const CURRENT = 13;
/** the shard that failed, when ERROR is set by a throw */
export const ERROR_SHARD = 14;
/** steps in a training command, each of COUNT rows, the first at position FIRST */
export const STEPS = 15;
/** steps of the current training command committed so far (the commit is this increment) */
export const STEP_DONE = 16;
/** the run's global index of the command's first step, modulo 2³² (fault injection's draw) */
export const STEP_SERIAL = 17;
/** how many times the command's first step has been tried, this try included (the others: 1) */
export const ATTEMPT = 18;
export const INT_FIELDS = 19;

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

/** Float64 fields, after the Int32 ones: 1 / rows of the command's steps */
export const F_INV_BATCH = 0;
/**
 * Then, for each step i of a command, the optimizer's STEP_SCALARS for it (learning rate,
 * bias corrections…), computed by the coordinator: a schedule changes the rate every step,
 * and the threads go from step to step without it.
 */
export const F_STEP_SCALARS = 1;
export const FLOAT_FIELDS = F_STEP_SCALARS + MAX_STEPS * STEP_SCALARS;

/** Where step i's scalars start in ControlBlock.floats. */
export const stepScalarsAt = (i: number): number => F_STEP_SCALARS + i * STEP_SCALARS;

/** bytes for a worker's error message (UTF-8, NUL-padded) */
export const ERROR_TEXT_BYTES = 512;

export const CMD_TRAIN_STEPS = 1;
export const CMD_EVAL = 2;
export const CMD_STOP = 3;

/** Per-worker timing accumulators (ms), for the step breakdown in benchmarks. */
/** phases 0 and 1: gather, forward, loss and deltas of the worker's shards */
export const T_COMPUTE = 0;
/** waiting at phase 0's barriers and at the barrier between the phases */
export const T_WAIT_MID = 1;
/** phase 2's updates (and claiming blocks) */
export const T_UPDATE = 2;
/** phase 2's weight-gradient products dZᵀ·A */
export const T_GRADIENTS = 3;
/** waiting at the barrier that ends a step */
export const T_WAIT_END = 4;
/** not ms: the steps whose first layer this worker computed a slice of (phase 0) */
export const T_SLICED_STEPS = 5;
export const TIMING_FIELDS = 6;

export const SPLIT_TEST = 0;
/** the validation rows of the train split (SessionInit.validationRows) */
export const SPLIT_VALIDATION = 1;

/**
 * Rows per shard of phase 1: fixed, so shard boundaries never depend on the thread count. One
 * row tile of the kernels (4 rows), so a batch of 128 is 32 shards: 2 per thread at 16 threads
 * leaves room to balance a slow core. The weights are read once per row tile whatever the
 * shard size, and tiles start at multiples of 4 from the batch start either way, so the model
 * bytes do not depend on this constant.
 */
export const SHARD_ROWS = 4;

/**
 * Shards a thread claims at once in phase 1: as many as leave every thread two claims or more
 * (so a slow core can still be balanced), at most 16 (64 rows). A product over a group reads W
 * once, not once a shard. Only speed depends on it: a group computes its shards' bits
 * (forwardDeltasOfShards in src/nn/mlp.ts).
 */
export const shardGroup = (shards: number, threads: number): number =>
  Math.max(1, Math.min(16, Math.floor(shards / (2 * threads))));
/** Rows per evaluation chunk. */
export const EVAL_ROWS = 64;

/** The layout of the buffer: Int32 fields, the claim counters, Float64 fields, error text. */
const CLAIMS_OFFSET = Math.ceil((INT_FIELDS * 4) / 64) * 64;
const floatOffset = (threads: number) => CLAIMS_OFFSET + threads * CLAIM_STRIDE * 4;
const errorOffset = (threads: number) => floatOffset(threads) + FLOAT_FIELDS * 8;
export const controlBytes = (threads: number) => errorOffset(threads) + ERROR_TEXT_BYTES;

/** The parameter copy (0 or 1) that step i of a command reads, when `current` is CURRENT. */
export const copyForStep = (current: number, i: number): number => (current + i) & 1;

/** A training command's arguments: `steps` steps of `rows` rows, the first at `first`. */
export interface TrainCommand {
  /** position in the permutation of the first step's first row */
  first: number;
  rows: number;
  /** shards of each step: ceil(rows / SHARD_ROWS) */
  shards: number;
  steps: number;
  /** the run's index of the first step (what a fault's draw depends on) */
  serial: number;
  /** tries of the first step, this one included */
  attempt: number;
}

/** An evaluation command's arguments: rows [first, first + count) of a split, in `chunks`. */
export interface EvalCommand {
  split: 'test' | 'validation';
  first: number;
  count: number;
  chunks: number;
  /** write each row's predicted class */
  predictions: boolean;
}

/** The run's index of step i of a command, as a fault's draw takes it (modulo 2³²). */
export const stepSerial = (c: TrainCommand, i: number): number => (c.serial + i) | 0;

/** Tries of step i of a command: only the first step can have been tried before. */
export const stepAttempt = (c: TrainCommand, i: number): number => (i === 0 ? c.attempt : 1);

export interface ReportedError {
  readonly shard: number;
  /** the first line of the worker's message */
  readonly text: string;
}

/** The control block's fields and the operations both sides perform on them. */
export class ControlBlock {
  readonly ints: Int32Array;
  readonly floats: Float64Array;
  /** Int32, CLAIM_STRIDE per worker: the next unclaimed block of each worker's share */
  private readonly claims: Int32Array;
  private readonly errorText: Uint8Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly threads: number,
  ) {
    this.ints = new Int32Array(buffer, 0, INT_FIELDS);
    this.claims = new Int32Array(buffer, CLAIMS_OFFSET, threads * CLAIM_STRIDE);
    this.floats = new Float64Array(buffer, floatOffset(threads), FLOAT_FIELDS);
    this.errorText = new Uint8Array(buffer, errorOffset(threads), ERROR_TEXT_BYTES);
  }

  static create(threads: number): ControlBlock {
    return new ControlBlock(new SharedArrayBuffer(controlBytes(threads)), threads);
  }

  /** Worker: counts itself ready; returns the generation after which its first command comes. */
  announceReady(): number {
    // GEN is read before READY is raised: the coordinator may publish the first command the
    // moment the last worker is ready, and a worker that read GEN after that would sleep
    // through it.
    const gen = Atomics.load(this.ints, GEN);
    Atomics.add(this.ints, READY, 1);
    Atomics.notify(this.ints, READY);
    return gen;
  }

  /** Coordinator: writes a training command's arguments (publish(CMD_TRAIN_STEPS) starts it). */
  writeTrain(c: TrainCommand): void {
    const { ints } = this;
    ints[FIRST] = c.first;
    ints[COUNT] = c.rows;
    ints[TASKS] = c.shards;
    ints[STEPS] = c.steps;
    ints[STEP_SERIAL] = c.serial | 0;
    ints[ATTEMPT] = c.attempt;
    this.floats[F_INV_BATCH] = 1 / c.rows;
  }

  /** Worker: the training command's arguments, into `out` (no allocation per command). */
  readTrain(out: TrainCommand): TrainCommand {
    const { ints } = this;
    out.first = ints[FIRST];
    out.rows = ints[COUNT];
    out.shards = ints[TASKS];
    out.steps = ints[STEPS];
    out.serial = ints[STEP_SERIAL];
    out.attempt = ints[ATTEMPT];
    return out;
  }

  /** Coordinator: writes an evaluation command's arguments (publish(CMD_EVAL) starts it). */
  writeEval(c: EvalCommand): void {
    const { ints } = this;
    ints[SPLIT] = c.split === 'test' ? SPLIT_TEST : SPLIT_VALIDATION;
    ints[WANT_PREDICTIONS] = c.predictions ? 1 : 0;
    ints[FIRST] = c.first;
    ints[COUNT] = c.count;
    ints[TASKS] = c.chunks;
  }

  /** Worker: the evaluation command's arguments, into `out`. */
  readEval(out: EvalCommand): EvalCommand {
    const { ints } = this;
    out.split = ints[SPLIT] === SPLIT_TEST ? 'test' : 'validation';
    out.predictions = ints[WANT_PREDICTIONS] !== 0;
    out.first = ints[FIRST];
    out.count = ints[COUNT];
    out.chunks = ints[TASKS];
    return out;
  }

  /** Worker: the command just published (CMD_TRAIN_STEPS, CMD_EVAL or CMD_STOP). */
  get command(): number {
    return Atomics.load(this.ints, CMD);
  }

  /** Coordinator: starts `cmd` on the arguments already written. */
  publish(cmd: number): void {
    const { ints } = this;
    // after a failure a barrier may have been left half-full by threads that are gone
    Atomics.store(ints, ARRIVED, 0);
    Atomics.store(ints, ERROR, 0);
    Atomics.store(ints, ERROR_SHARD, -1);
    this.resetClaims();
    Atomics.store(ints, STEP_DONE, 0);
    Atomics.store(ints, DONE, 0);
    Atomics.store(ints, CMD, cmd);
    Atomics.add(ints, GEN, 1);
    Atomics.notify(ints, GEN);
  }

  /** Coordinator: asks the threads to return from their session. */
  publishStop(): void {
    Atomics.store(this.ints, CMD, CMD_STOP);
    Atomics.add(this.ints, GEN, 1);
    Atomics.notify(this.ints, GEN);
  }

  /** Shards and blocks are handed out from zero again: before a command and between steps. */
  resetClaims(): void {
    Atomics.store(this.ints, NEXT, 0);
    for (let w = 0; w < this.threads; w++) Atomics.store(this.claims, w * CLAIM_STRIDE, 0);
  }

  /** Worker: the next shard (or eval chunk) of the command; ≥ TASKS when none is left. */
  claimShard(): number {
    return Atomics.add(this.ints, NEXT, 1);
  }

  /** Worker: the next unclaimed index in `owner`'s share of blocks. */
  claimBlock(owner: number): number {
    return Atomics.add(this.claims, owner * CLAIM_STRIDE, 1);
  }

  /**
   * Worker: arrives at the barrier. The last of the threads gets null and must release() the
   * others; the rest get the phase to wait on (PHASE changes when they are released; it is
   * any Int32, negative once it wraps).
   */
  arrive(): number | null {
    const phase = Atomics.load(this.ints, PHASE);
    return Atomics.add(this.ints, ARRIVED, 1) + 1 === this.threads ? null : phase;
  }

  /** Worker, the last to arrive: opens the barrier for the next round and wakes the others. */
  release(): void {
    Atomics.store(this.ints, ARRIVED, 0);
    Atomics.add(this.ints, PHASE, 1);
    Atomics.notify(this.ints, PHASE);
  }

  /**
   * Worker, the last at a step's closing barrier, alone: commits the step unless a thread
   * reported an error in it, and readies the claims for the next.
   */
  commitStep(): void {
    if (Atomics.load(this.ints, ERROR) !== 0) return;
    this.resetClaims();
    Atomics.add(this.ints, STEP_DONE, 1);
  }

  /** Steps of the current command committed so far. */
  get committed(): number {
    return Atomics.load(this.ints, STEP_DONE);
  }

  /** The parameter copy that is current between commands. */
  get current(): number {
    return Atomics.load(this.ints, CURRENT);
  }

  /** Coordinator, after a command: the copy written by its last committed step becomes current. */
  advance(committed: number): void {
    Atomics.store(this.ints, CURRENT, copyForStep(this.current, committed));
  }

  /** Worker: its part of the command is done; true for the last, which woke the coordinator. */
  finish(): boolean {
    const last = Atomics.add(this.ints, DONE, 1) + 1 === this.threads;
    if (last) Atomics.notify(this.ints, DONE);
    return last;
  }

  /** Worker: records the command's first error (later ones are dropped). */
  writeError(worker: number, shard: number, e: unknown): void {
    if (Atomics.compareExchange(this.ints, ERROR, 0, worker + 1) !== 0) return;
    Atomics.store(this.ints, ERROR_SHARD, shard);
    const text = new TextEncoder().encode(`worker ${worker}: ${(e as Error)?.stack ?? String(e)}`);
    this.errorText.fill(0);
    this.errorText.set(text.subarray(0, this.errorText.length));
  }

  get failed(): boolean {
    return Atomics.load(this.ints, ERROR) !== 0;
  }

  /** Coordinator, after DONE: the error a worker reported, or null. */
  readError(): ReportedError | null {
    if (!this.failed) return null;
    const text = new TextDecoder().decode(this.errorText.slice()).replace(/\0+$/, '');
    return { shard: Atomics.load(this.ints, ERROR_SHARD), text: text.split('\n')[0] };
  }
}

/** Everything a worker receives, once per training session (shared buffers, not copies). */
export interface SessionInit {
  readonly workerIndex: number;
  readonly threads: number;
  readonly memory: WebAssembly.Memory;
  /** the ControlBlock's buffer */
  readonly control: SharedArrayBuffer;
  /** Float64: [loss, correct] per shard or eval chunk */
  readonly stats: SharedArrayBuffer;
  /** Int32 permutation of the train split */
  readonly permutation: SharedArrayBuffer;
  /** Float32 raw outputs per evaluated row (rows × outputs) */
  readonly outputs: SharedArrayBuffer;
  /** Float64 per worker: TIMING_FIELDS accumulated milliseconds (see T_*) */
  readonly timings: SharedArrayBuffer;
  readonly trainInputs: Uint8Array | Float32Array;
  readonly trainTargets: Float32Array;
  readonly testInputs: Uint8Array | Float32Array;
  readonly testTargets: Float32Array;
  /** Int32, shared: the train-split rows that validate (empty: none) */
  readonly validationRows: Int32Array;
  readonly sizes: readonly number[];
  readonly activation: import('../nn/layout.js').Activation;
  readonly loss: import('../nn/layout.js').Loss;
  readonly plan: import('../nn/arena.js').ArenaPlan;
  readonly optimizer: import('../nn/optim/optimizer.js').OptimizerName;
  /** hidden units' dropout rate (0: none); masks are drawn from `seed` */
  readonly dropout: number;
  readonly seed: number;
  readonly kernels: import('../nn/kernels/load.js').KernelSource;
  /** Int32 per worker: 1 + the shard it is computing (a group's first), 0 when between shards */
  readonly busy: SharedArrayBuffer;
  /** GRADPOOL_INJECT_FAULTS, parsed (testing aid) */
  readonly faults: import('./faults.js').FaultSpec | null;
  /** iterations to poll a control field before sleeping on it (see spin-wait.ts) */
  readonly spin: number;
}
