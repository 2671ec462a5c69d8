import { cpus } from 'node:os';
import { Piscina } from 'piscina';
import type { Dataset } from '../data/dataset.js';
import { TrainingError } from '../errors.js';
import { type ArenaPlan, allocateArena } from '../nn/arena.js';
import type { KernelName } from '../nn/kernels/types.js';
import type { NetworkLayout } from '../nn/layout.js';
import {
  BLOCK,
  CMD,
  CMD_EVAL,
  CMD_STOP,
  CMD_TRAIN_STEP,
  CONTROL_BYTES,
  COUNT,
  type ControlViews,
  controlViews,
  DONE,
  ERROR,
  EVAL_ROWS,
  F_INV_BATCH,
  F_LR,
  F_MOMENTUM,
  F_WEIGHT_DECAY,
  FIRST,
  GEN,
  NEXT,
  READY,
  type SessionInit,
  SHARD_ROWS,
  SPLIT,
  SPLIT_TEST,
  SPLIT_TRAIN,
  TASKS,
  TIMING_FIELDS,
  WANT_PREDICTIONS,
} from './control.js';
import { spinBudget } from './spin-wait.js';

// The coordinator side of the step protocol. piscina owns the threads (spawn, errors,
// teardown); each thread runs one long task (workers/step-worker.ts) that serves commands
// published through the control block, so a step costs one notify and one wait, not a
// task per shard. Everything about dispatch lives in this module.

const WORKER_FILE = new URL('../../workers/step-worker.js', import.meta.url).href;

export interface PoolOptions {
  readonly threads: number;
  readonly kernels: KernelName;
  readonly net: NetworkLayout;
  readonly plan: ArenaPlan;
  readonly dataset: Dataset;
  /** ms a step may take before we call the workers stuck */
  readonly stepTimeoutMs?: number;
  readonly wasmModule?: WebAssembly.Module;
}

export interface StepStats {
  /** Σ loss over the rows */
  loss: number;
  correct: number;
}

export const defaultThreads = (): number => Math.max(1, cpus().length);

export class StepPool {
  readonly memory: WebAssembly.Memory;
  /** the arena as floats: params at plan.params, velocity at plan.velocity */
  readonly arena: Float32Array;
  readonly predictions: Uint8Array;
  private readonly control: ControlViews;
  private readonly stats: Float64Array;
  private readonly permutation: Int32Array;
  /** per worker, TIMING_FIELDS accumulated ms */
  readonly timings: Float64Array;
  private readonly tasks: Promise<unknown>[] = [];
  private failure: unknown;
  /** workers' polling budget */
  private readonly spin: number;
  /** the coordinator's: it polls only when a core is left beside the workers' */
  private readonly coordinatorSpin: number;
  private closed = false;

  private constructor(
    private readonly piscina: Piscina,
    private readonly options: PoolOptions,
  ) {
    const { plan, dataset } = options;
    this.memory = allocateArena(plan);
    this.arena = new Float32Array(this.memory.buffer);
    this.control = controlViews(new SharedArrayBuffer(CONTROL_BYTES));
    const statsSlots = Math.max(
      Math.ceil(plan.batch.rows / SHARD_ROWS),
      Math.ceil(Math.max(dataset.test.count, dataset.train.count) / EVAL_ROWS),
    );
    this.stats = new Float64Array(new SharedArrayBuffer(statsSlots * 16));
    this.permutation = new Int32Array(new SharedArrayBuffer(dataset.train.count * 4));
    this.predictions = new Uint8Array(new SharedArrayBuffer(dataset.test.count));
    this.spin = spinBudget(options.threads, cpus().length);
    this.coordinatorSpin = spinBudget(options.threads + 1, cpus().length);
    this.timings = new Float64Array(new SharedArrayBuffer(options.threads * TIMING_FIELDS * 8));
  }

  static async open(options: PoolOptions): Promise<StepPool> {
    const T = options.threads;
    const piscina = new Piscina({
      filename: WORKER_FILE,
      minThreads: T,
      maxThreads: T,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      maxQueue: T,
    });
    const pool = new StepPool(piscina, options);
    const { dataset } = options;
    for (let w = 0; w < T; w++) {
      const init: SessionInit = {
        workerIndex: w,
        threads: T,
        memory: pool.memory,
        control: pool.control.ints.buffer as SharedArrayBuffer,
        stats: pool.stats.buffer as SharedArrayBuffer,
        permutation: pool.permutation.buffer as SharedArrayBuffer,
        predictions: pool.predictions.buffer as SharedArrayBuffer,
        timings: pool.timings.buffer as SharedArrayBuffer,
        trainImages: dataset.train.images,
        trainLabels: dataset.train.labels,
        testImages: dataset.test.images,
        testLabels: dataset.test.labels,
        sizes: options.net.sizes,
        activation: options.net.activation,
        plan: options.plan,
        kernels: options.kernels,
        wasmModule: options.wasmModule,
        spin: pool.spin,
      };
      const task = piscina.run(init).catch((e: unknown) => {
        pool.failure ??= e;
      });
      pool.tasks.push(task);
    }
    try {
      await pool.waitReady();
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get params(): Float32Array {
    const { plan, net } = this.options;
    return this.arena.subarray(plan.params, plan.params + net.size);
  }

  get velocity(): Float32Array {
    const { plan, net } = this.options;
    return this.arena.subarray(plan.velocity, plan.velocity + net.size);
  }

  /** Permutation of the train rows that steps index into (write it between steps only). */
  get order(): Int32Array {
    return this.permutation;
  }

  setHyperparameters(lr: number, momentum: number, weightDecay: number): void {
    const f = this.control.floats;
    f[F_LR] = lr;
    f[F_MOMENTUM] = momentum;
    f[F_WEIGHT_DECAY] = weightDecay;
  }

  /**
   * One synchronous SGD step on order[first … first+rows): forward and deltas per shard, then
   * weight gradients and the update per block of neurons, all in the workers. Blocks until done.
   */
  trainStep(first: number, rows: number, out: StepStats): void {
    const shards = Math.ceil(rows / SHARD_ROWS);
    if (rows > this.options.plan.batch.rows) throw new RangeError(`${rows} rows exceed the planned batch`);
    const { ints, floats } = this.control;
    floats[F_INV_BATCH] = 1 / rows;
    ints[FIRST] = first;
    ints[COUNT] = rows;
    ints[TASKS] = shards;
    this.run(CMD_TRAIN_STEP);
    this.sumStats(shards, out);
  }

  /** Loss and correct count over rows [0, count) of a split; fills `predictions` for the test split. */
  evaluate(split: 'train' | 'test', out: StepStats, count?: number): void {
    const data = split === 'test' ? this.options.dataset.test : this.options.dataset.train;
    const n = count ?? data.count;
    const chunks = Math.ceil(n / EVAL_ROWS);
    const { ints } = this.control;
    ints[SPLIT] = split === 'test' ? SPLIT_TEST : SPLIT_TRAIN;
    ints[WANT_PREDICTIONS] = split === 'test' ? 1 : 0;
    ints[FIRST] = 0;
    ints[COUNT] = n;
    ints[TASKS] = chunks;
    this.run(CMD_EVAL);
    this.sumStats(chunks, out);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const { ints } = this.control;
    Atomics.store(ints, CMD, CMD_STOP);
    Atomics.add(ints, GEN, 1);
    Atomics.notify(ints, GEN);
    await Promise.allSettled(this.tasks);
    await this.piscina.destroy();
  }

  private run(cmd: number): void {
    if (this.closed) throw new Error('the pool is closed');
    const { ints } = this.control;
    const T = this.options.threads;
    Atomics.store(ints, NEXT, 0);
    Atomics.store(ints, BLOCK, 0);
    Atomics.store(ints, DONE, 0);
    Atomics.store(ints, CMD, cmd);
    Atomics.add(ints, GEN, 1);
    Atomics.notify(ints, GEN);
    const timeout = this.options.stepTimeoutMs ?? 120_000;
    const deadline = performance.now() + timeout;
    for (let i = 0; i < this.coordinatorSpin && Atomics.load(ints, DONE) < T; i++);
    for (let done = Atomics.load(ints, DONE); done < T; done = Atomics.load(ints, DONE)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new TrainingError(`workers did not finish a step within ${timeout} ms`);
      Atomics.wait(ints, DONE, done, left);
    }
    if (Atomics.load(ints, ERROR) !== 0) {
      const text = new TextDecoder().decode(this.control.errorText.slice()).replace(/\0+$/, '');
      throw new TrainingError(`a worker failed: ${text.split('\n')[0]}`);
    }
  }

  private sumStats(n: number, out: StepStats): void {
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      loss += this.stats[2 * i];
      correct += this.stats[2 * i + 1];
    }
    out.loss = loss;
    out.correct = correct;
  }

  private async waitReady(): Promise<void> {
    const { ints } = this.control;
    const T = this.options.threads;
    const deadline = Date.now() + 60_000;
    while (Atomics.load(ints, READY) < T) {
      if (this.failure)
        throw new TrainingError(`a worker failed to start: ${(this.failure as Error).message}`);
      if (Date.now() > deadline) throw new TrainingError('workers did not start within 60 s');
      const seen = Atomics.load(ints, READY);
      const wait = Atomics.waitAsync(ints, READY, seen, 50);
      if (wait.async) await wait.value;
    }
  }
}
