import { Piscina } from 'piscina';
import type { Dataset } from '../data/dataset.js';
import { TrainingError } from '../errors.js';
import { coreCount } from '../machine.js';
import { type ArenaPlan, allocateArena, firstLayerSlices, MIN_FIRST_LAYER_SLICE } from '../nn/arena.js';
import type { KernelSource } from '../nn/kernels/load.js';
import type { NetworkLayout } from '../nn/layout.js';
import type { Optimizer } from '../nn/optim/optimizer.js';
import { sgd } from '../nn/optim/sgd.js';
import {
  CMD_EVAL,
  CMD_TRAIN_STEPS,
  ControlBlock,
  DONE,
  EVAL_ROWS,
  MAX_STEPS,
  READY,
  type SessionInit,
  SHARD_ROWS,
  stepScalarsAt,
  TIMING_FIELDS,
} from './control.js';
import { type FaultSpec, parseFaultSpec } from './faults.js';
import type { ResolvedKernels } from './kernels.js';
import { checkWholeNumber } from './numbers.js';
import { planArena } from './plan.js';
import { spinBudget } from './spin-wait.js';

// The coordinator side of the step protocol. piscina owns the threads (spawn, teardown);
// each thread runs one long task (workers/step-worker.ts) that serves commands published
// through the control block, so a step costs one notify and one wait, not a task per shard.
//
// Failures: a worker that throws reports it in the control block; one that exits rejects its
// piscina task; one that hangs trips the watchdog. In every case the threads are destroyed
// (piscina's destroy() resolves after each thread's 'exit', so none can still write shared
// memory), fresh ones are started on the same shared buffers, and the command is run again.
// A training step writes only the non-current copy of the parameters, so rerunning it
// recomputes the gradients from untouched weights and an update is never applied twice.

const WORKER_FILE = new URL('../../workers/step-worker.js', import.meta.url).href;
/** A step is waited for synchronously this long before the wait lets the event loop run. */
const SYNC_WAIT_MS = 200;

export interface PoolOptions {
  readonly threads: number;
  readonly kernels: KernelSource;
  readonly net: NetworkLayout;
  readonly plan: ArenaPlan;
  readonly dataset: Dataset;
  /** ms a command may take before the workers are called stuck and replaced */
  readonly stepTimeoutMs?: number;
  /** reruns of a failed command before giving up */
  readonly maxRetries?: number;
  /** the update every step applies (default SGD); the plan must hold its state buffers */
  readonly optimizer?: Optimizer;
  /** hidden units' dropout rate during training steps (the plan must hold masks), drawn from `seed` */
  readonly dropout?: number;
  readonly seed?: number;
  /** which rows of the train split train and which validate (default: all train, none validate) */
  readonly rows?: TrainingRows;
}

/** Indices into the dataset's train split, ascending. */
export interface TrainingRows {
  readonly train: Int32Array;
  readonly validation: Int32Array;
}

/**
 * The optimizer's scalars for the run's step `step` (0-based) into out[at …] (STEP_SCALARS of them):
 * the coordinator's schedule, evaluated once per step.
 */
export type StepScalars = (step: number, out: Float64Array, at: number) => void;

export interface StepStats {
  /** Σ loss over the rows */
  loss: number;
  correct: number;
}

/** A command that failed on every attempt. */
export class CommandFailed extends TrainingError {
  constructor(
    readonly shard: number,
    readonly attempts: number,
    readonly reason: string,
    /** steps of the command committed before the one that failed */
    readonly committed = 0,
  ) {
    super(`shard ${shard < 0 ? '?' : shard} failed ${attempts} times; last: ${reason}`);
  }
}

/**
 * The fewest outputs a thread's slice of the first layer must hold for its forward to go by
 * output neurons (src/nn/arena.ts firstLayerSlices): GRADPOOL_FIRST_LAYER_SLICE where set (1:
 * wherever two threads or more each get a whole block of it; more than the layer's outputs:
 * never), else MIN_FIRST_LAYER_SLICE. It changes how fast a step runs, never its bytes: a knob for measuring
 * where the default was not, as GRADPOOL_SPIN is.
 */
export function firstLayerSliceMin(env = process.env.GRADPOOL_FIRST_LAYER_SLICE): number {
  if (env === undefined || env === '') return MIN_FIRST_LAYER_SLICE;
  return checkWholeNumber('GRADPOOL_FIRST_LAYER_SLICE', env, 1, Number.MAX_SAFE_INTEGER);
}

/** `plan` with the first-layer slices of `minSlice` (the same buffers: slices need none of their own). */
function withSliceMin(plan: ArenaPlan, net: NetworkLayout, threads: number, minSlice: number): ArenaPlan {
  if (minSlice === MIN_FIRST_LAYER_SLICE) return plan;
  return { ...plan, firstLayer: firstLayerSlices(net, threads, plan.blockOutputs, minSlice) };
}

export class StepPool {
  readonly memory: WebAssembly.Memory;
  /** the arena as floats */
  readonly arena: Float32Array;
  /** the last evaluation's raw outputs (logits, or regression values): rows × outputs */
  readonly outputs: Float32Array;
  /** per worker, TIMING_FIELDS accumulated ms */
  readonly timings: Float64Array;
  /** commands rerun after a failure, since the pool opened */
  retries = 0;
  private readonly control: ControlBlock;
  private readonly stats: Float64Array;
  private readonly permutation: Int32Array;
  private readonly validationRows: Int32Array;
  private readonly busy: Int32Array;
  private stepScalars: StepScalars | null = null;
  private readonly faults: FaultSpec | null;
  private piscina: Piscina | null = null;
  private tasks: Promise<unknown>[] = [];
  private failure: { worker: number; error: unknown } | null = null;
  private closed = false;
  /** workers' polling budget */
  private readonly spin: number;
  /** the coordinator's: it polls only when a core is left beside the workers' */
  private readonly coordinatorSpin: number;
  /** the options' plan, its first-layer slices as GRADPOOL_FIRST_LAYER_SLICE sets them */
  private readonly plan: ArenaPlan;

  private constructor(private readonly options: PoolOptions) {
    const { plan, dataset } = options;
    this.memory = allocateArena(plan);
    this.arena = new Float32Array(this.memory.buffer);
    this.control = ControlBlock.create(options.threads);
    const statsSlots = Math.max(
      Math.ceil(plan.batch.rows / SHARD_ROWS) * MAX_STEPS,
      Math.ceil(Math.max(dataset.test.count, dataset.train.count) / EVAL_ROWS),
    );
    this.stats = new Float64Array(new SharedArrayBuffer(statsSlots * 16));
    this.permutation = new Int32Array(new SharedArrayBuffer(dataset.train.count * 4));
    const validation = options.rows?.validation ?? new Int32Array(0);
    this.validationRows = new Int32Array(new SharedArrayBuffer(validation.length * 4));
    this.validationRows.set(validation);
    const optimizer = options.optimizer ?? sgd;
    if (plan.state.length !== optimizer.state.length)
      throw new RangeError(
        `${optimizer.name} needs ${optimizer.state.length} state buffers; the plan has ${plan.state.length}`,
      );
    if ((options.dropout ?? 0) > 0 !== plan.batch.masks.some((m) => m >= 0))
      throw new RangeError(`dropout ${options.dropout ?? 0} does not match the plan's dropout masks`);
    const evalRows = Math.max(dataset.test.count, validation.length);
    this.outputs = new Float32Array(new SharedArrayBuffer(evalRows * options.net.sizes.at(-1)! * 4));
    this.busy = new Int32Array(new SharedArrayBuffer(options.threads * 4));
    this.spin = spinBudget(options.threads, coreCount());
    this.coordinatorSpin = spinBudget(options.threads + 1, coreCount());
    this.plan = withSliceMin(plan, options.net, options.threads, firstLayerSliceMin());
    this.timings = new Float64Array(new SharedArrayBuffer(options.threads * TIMING_FIELDS * 8));
    this.faults = parseFaultSpec(process.env.GRADPOOL_INJECT_FAULTS);
  }

  static async open(options: PoolOptions): Promise<StepPool> {
    const pool = new StepPool(options);
    try {
      await pool.start();
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** A pool for training or evaluating `net` with batches of up to `batchRows` rows. */
  static forNetwork(o: {
    net: NetworkLayout;
    dataset: Dataset;
    threads: number;
    kernels: ResolvedKernels;
    batchRows: number;
    maxRetries?: number;
    stepTimeoutMs?: number;
    optimizer?: Optimizer;
    dropout?: number;
  }): Promise<StepPool> {
    return StepPool.open({
      threads: o.threads,
      kernels: o.kernels,
      net: o.net,
      plan: planArena(o.net, o.batchRows, o.threads, { optimizer: o.optimizer?.name, dropout: o.dropout }),
      dataset: o.dataset,
      maxRetries: o.maxRetries,
      stepTimeoutMs: o.stepTimeoutMs,
      optimizer: o.optimizer,
      dropout: o.dropout,
    });
  }

  /** Each thread's slice of the first layer's outputs where its forward goes by output neurons, else null. */
  get firstLayer(): ArenaPlan['firstLayer'] {
    return this.plan.firstLayer;
  }

  /** The current parameters (a view into shared memory; valid until the next step). */
  get params(): Float32Array {
    return this.view(this.options.plan.params[this.control.current]);
  }

  /** The optimizer's current state buffers, in its order (views, valid until the next step). */
  get state(): Float32Array[] {
    return this.options.plan.state.map((copies) => this.view(copies[this.control.current]));
  }

  /** Rows that train: the train split less any validation rows. */
  get trainRows(): number {
    return this.options.rows?.train.length ?? this.options.dataset.train.count;
  }

  /** Rows that validate (0: none). */
  get validationCount(): number {
    return this.validationRows.length;
  }

  /**
   * The train-split rows that steps index into, in the epoch's order: its first trainRows
   * entries (write it between steps only).
   */
  get order(): Int32Array {
    return this.permutation;
  }

  /** How the coordinator computes each step's optimizer scalars (its schedule); needed before training. */
  setStepScalars(fill: StepScalars): void {
    this.stepScalars = fill;
  }

  /**
   * `steps` (1 … MAX_STEPS) consecutive optimizer steps of `rows` rows each, step i on
   * order[first + i·rows …): forward and deltas per shard, then weight gradients and the update
   * per block of neurons, all in the workers, with no round trip to this thread between steps.
   * out[i] gets step i's loss and correct count. A failed step is recomputed on fresh threads
   * from the parameters before it; the steps before it stay done. `serial` is the run's index
   * of the first step (what an injected fault's draw depends on, with the shard and the try).
   */
  async trainSteps(
    first: number,
    rows: number,
    steps: number,
    out: readonly StepStats[],
    serial: number,
  ): Promise<void> {
    if (!(Number.isInteger(steps) && steps >= 1 && steps <= Math.min(MAX_STEPS, out.length)))
      throw new RangeError(`1 to ${MAX_STEPS} steps per command with a result for each, not ${steps}`);
    if (rows > this.options.plan.batch.rows) throw new RangeError(`${rows} rows exceed the planned batch`);
    if (this.closed) throw new Error('the pool is closed');
    if (!this.stepScalars) throw new Error('setStepScalars before training');
    const shards = Math.ceil(rows / SHARD_ROWS);
    const maxRetries = this.options.maxRetries ?? 3;
    let done = 0;
    // tries of the command's first uncommitted step
    for (let attempt = 1; ; attempt++) {
      this.control.writeTrain({
        first: first + done * rows,
        rows,
        shards,
        steps: steps - done,
        serial: serial + done,
        attempt,
      });
      for (let i = 0; i < steps - done; i++)
        this.stepScalars(serial + done + i, this.control.floats, stepScalarsAt(i));
      const failure = await this.attempt(CMD_TRAIN_STEPS);
      // no thread can commit a step once the threads are gone
      if (failure) await this.stopThreads(false);
      const committed = this.control.committed;
      for (let i = 0; i < committed; i++) this.sumStats(i * shards, shards, out[done + i]);
      this.control.advance(committed);
      done += committed;
      if (!failure) return;
      if (committed > 0) attempt = 1; // the retry budget is per step
      if (attempt > maxRetries) throw new CommandFailed(failure.shard, attempt, failure.cause, done);
      this.retries++;
      await this.start();
    }
  }

  /** Loss and correct count over a split's rows [0, count); their raw outputs into `outputs`. */
  async evaluate(split: 'test' | 'validation', out: StepStats, count?: number): Promise<void> {
    const n = count ?? (split === 'test' ? this.options.dataset.test.count : this.validationRows.length);
    const chunks = Math.ceil(n / EVAL_ROWS);
    this.control.writeEval({ split, first: 0, count: n, chunks, predictions: true });
    await this.run(CMD_EVAL);
    this.sumStats(0, chunks, out);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopThreads(true);
  }

  private view(offset: number): Float32Array {
    return this.arena.subarray(offset, offset + this.options.net.size);
  }

  /** Publishes a command and waits for it; on failure replaces the threads and reruns it. */
  private async run(cmd: number): Promise<void> {
    if (this.closed) throw new Error('the pool is closed');
    const maxRetries = this.options.maxRetries ?? 3;
    for (let attempt = 1; ; attempt++) {
      const failure = await this.attempt(cmd);
      if (!failure) return;
      // gone before any rethrow: a hung thread would otherwise hold close() forever
      await this.stopThreads(false);
      if (attempt > maxRetries) throw new CommandFailed(failure.shard, attempt, failure.cause);
      this.retries++;
      await this.start();
    }
  }

  /** One try: null when the command completed cleanly, else what went wrong. */
  private async attempt(cmd: number): Promise<{ shard: number; cause: string } | null> {
    const { ints } = this.control;
    const T = this.options.threads;
    this.control.publish(cmd);
    const timeout = this.options.stepTimeoutMs ?? 60_000;
    const start = performance.now();
    // Fast path: a blocking wait, polled first when a core is free for it.
    for (let i = 0; i < this.coordinatorSpin && Atomics.load(ints, DONE) < T; i++);
    const syncUntil = start + Math.min(SYNC_WAIT_MS, timeout);
    for (let done = Atomics.load(ints, DONE); done < T; done = Atomics.load(ints, DONE)) {
      const left = syncUntil - performance.now();
      if (left <= 0) break;
      Atomics.wait(ints, DONE, done, left);
    }
    // Slow path: let the event loop run, so a thread's exit (its task rejecting) is seen.
    // The timeout counts from the last committed step: a command of many steps may take long.
    let progress = this.control.committed;
    let since = start;
    while (Atomics.load(ints, DONE) < T) {
      if (this.failure)
        return { shard: this.busyShard(this.failure.worker), cause: describe(this.failure.error) };
      const now = performance.now();
      if (this.control.committed !== progress) {
        progress = this.control.committed;
        since = now;
      }
      if (now - since > timeout) {
        const stuck = [...this.busy].findIndex((b) => b !== 0);
        return {
          shard: stuck < 0 ? -1 : this.busy[stuck] - 1,
          cause: `no progress within the ${timeout} ms step timeout`,
        };
      }
      const done = Atomics.load(ints, DONE);
      const wait = Atomics.waitAsync(ints, DONE, done, 20);
      if (wait.async) await wait.value;
    }
    const error = this.control.readError();
    return error && { shard: error.shard, cause: error.text };
  }

  private busyShard(worker: number): number {
    return worker >= 0 && worker < this.busy.length ? this.busy[worker] - 1 : -1;
  }

  private async start(): Promise<void> {
    const { options } = this;
    const T = options.threads;
    const { ints } = this.control;
    Atomics.store(ints, READY, 0);
    this.busy.fill(0);
    this.failure = null;
    const piscina = new Piscina({
      filename: WORKER_FILE,
      minThreads: T,
      maxThreads: T,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      maxQueue: T,
    });
    this.piscina = piscina;
    const { dataset } = options;
    this.tasks = [];
    for (let w = 0; w < T; w++) {
      const init: SessionInit = {
        workerIndex: w,
        threads: T,
        memory: this.memory,
        control: this.control.buffer,
        stats: this.stats.buffer as SharedArrayBuffer,
        permutation: this.permutation.buffer as SharedArrayBuffer,
        outputs: this.outputs.buffer as SharedArrayBuffer,
        timings: this.timings.buffer as SharedArrayBuffer,
        busy: this.busy.buffer as SharedArrayBuffer,
        faults: this.faults,
        trainInputs: dataset.train.inputs,
        trainTargets: dataset.train.targets,
        testInputs: dataset.test.inputs,
        testTargets: dataset.test.targets,
        validationRows: this.validationRows,
        sizes: options.net.sizes,
        activation: options.net.activation,
        loss: options.net.loss,
        plan: this.plan,
        optimizer: (options.optimizer ?? sgd).name,
        dropout: options.dropout ?? 0,
        seed: options.seed ?? 0,
        kernels: {
          name: options.kernels.name,
          module: options.kernels.module,
          native: options.kernels.native,
        },
        spin: this.spin,
      };
      this.tasks.push(
        piscina.run(init).then(
          () => {
            if (!this.closed && this.piscina === piscina)
              this.failure ??= { worker: w, error: new Error('worker returned early') };
          },
          (error: unknown) => {
            if (this.piscina === piscina) this.failure ??= { worker: w, error };
          },
        ),
      );
    }
    const deadline = Date.now() + 60_000;
    while (Atomics.load(ints, READY) < T) {
      const failure = this.failure as { error: unknown } | null; // set by the task callbacks
      if (failure) throw new TrainingError(`a worker failed to start: ${describe(failure.error)}`);
      if (Date.now() > deadline) throw new TrainingError('workers did not start within 60 s');
      const wait = Atomics.waitAsync(ints, READY, Atomics.load(ints, READY), 50);
      if (wait.async) await wait.value;
    }
  }

  /** Ends the threads; resolves only once every one of them has exited. */
  private async stopThreads(graceful: boolean): Promise<void> {
    const piscina = this.piscina;
    if (!piscina) return;
    this.piscina = null;
    if (graceful) {
      this.control.publishStop();
      await Promise.allSettled(this.tasks);
    }
    // destroy() resolves after every thread's 'exit' event; a task whose thread it terminated
    // may never settle, so it is not awaited.
    await piscina.destroy();
  }

  private sumStats(at: number, n: number, out: StepStats): void {
    let loss = 0;
    let correct = 0;
    for (let i = at; i < at + n; i++) {
      loss += this.stats[2 * i];
      correct += this.stats[2 * i + 1];
    }
    out.loss = loss;
    out.correct = correct;
  }
}

function describe(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).split('\n')[0];
}
