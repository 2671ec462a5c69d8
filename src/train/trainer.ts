import type { Dataset } from '../data/dataset.js';
import { GradpoolError, type Message } from '../errors.js';
import type { Checkpoint } from '../io/checkpoint.js';
import { coreCount } from '../machine.js';
import { initParams } from '../nn/init.js';
import { type Model, modelFromParams } from '../nn/model.js';
import { permutation, Rng } from '../nn/rng.js';
import type { TrainConfig } from './config.js';
import { EpochRunner } from './epoch.js';
import { StepPool, type StepStats } from './pool.js';
import { type EpochSums, type PreparedRun, prepareRun } from './prepare.js';
import { type CheckpointOptions, RunCheckpoints } from './run-checkpoints.js';

export type { CheckpointOptions } from './run-checkpoints.js';

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  samplesPerSec: number;
  seconds: number;
}

export type TrainEvent =
  | {
      type: 'start';
      config: TrainConfig;
      layers: readonly number[];
      params: number;
      trainCount: number;
      testCount: number;
      kernels: string;
      stepsPerEpoch: number;
      /** the cores this process may use (more threads than this share them) */
      cores: number;
      /** where a resumed run continues (null: from the start); `finished` when nothing is left */
      resumed: { epoch: number; step: number; finished: boolean } | null;
    }
  | {
      type: 'step';
      epoch: number;
      step: number;
      stepsPerEpoch: number;
      loss: number;
      accuracy: number;
      samplesPerSec: number;
    }
  | ({ type: 'epoch' } & EpochMetrics);

export interface TrainOptions {
  onProgress?: (event: TrainEvent) => void;
  /** abort to stop after the current step; with `checkpoint`, its state is saved first */
  signal?: AbortSignal;
  /** an already loaded dataset (tests, the server); otherwise config.data is loaded */
  dataset?: Dataset;
  /** minimum ms between 'step' events */
  progressIntervalMs?: number;
  checkpoint?: CheckpointOptions;
  /** continue exactly where this checkpoint stopped */
  resume?: Checkpoint;
  /** stop as if interrupted once this many steps (counted from the first epoch) are applied */
  stopAfterStep?: number;
}

export interface TrainResult {
  /** the settings the run used, defaults and checkpoint included */
  config: TrainConfig;
  model: Model;
  /** the momentum buffer, in the parameters' layout */
  velocity: Float32Array;
  metrics: EpochMetrics[];
  seconds: number;
  kernels: string;
  /** steps (or evaluations) recomputed on fresh threads after a worker failed */
  retries: number;
}

/** Seeds of the two streams a run uses, both derived from --seed. */
const shuffleSeed = (seed: number) => (seed ^ 0x5bd1e995) >>> 0;

/** 128 + the signal's number, as shells report a process a signal ended; SIGPIPE: stdout's reader went away */
const INTERRUPT_EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGPIPE: 141, SIGTERM: 143 };

/** Raised when training stops on request after saving a checkpoint. */
export class TrainingInterrupted extends GradpoolError {
  constructor(
    message: Message,
    readonly checkpoint: string | null,
    exitCode = 130,
  ) {
    super(message, exitCode);
  }
}

/**
 * Trains an MLP data-parallel over `config.threads` worker threads. Same config ⇒ the same
 * bytes in the returned parameters for any thread count, and for a run resumed from a
 * checkpoint at any step.
 */
export async function train(input: Partial<TrainConfig>, options: TrainOptions = {}): Promise<TrainResult> {
  const run = await prepareRun(input, options);
  const { config, dataset, net, kernels, stepsPerEpoch, start } = run;
  const pool = await StepPool.open({
    net,
    plan: run.plan,
    dataset,
    threads: config.threads,
    kernels: kernels.name,
    wasmModule: kernels.module,
    maxRetries: config.maxRetries,
    stepTimeoutMs: config.stepTimeout * 1000,
  });
  const started = performance.now();
  try {
    const rng = restore(run, pool);
    const metrics: EpochMetrics[] = [...start.metrics];
    // what a checkpoint written now holds: the epoch in progress and its sums so far (its step
    // follows from the run's step count)
    const at = { epoch: start.epoch, sums: { ...start.sums } };
    /** the shuffle generator's state before it drew the epoch's permutation */
    const epochRng = new Uint32Array(rng.state);
    const checkpoints = new RunCheckpoints(
      options.checkpoint,
      (globalStep) => {
        const step = globalStep - (at.epoch - 1) * stepsPerEpoch;
        return snapshot(run, pool, { ...at, step, epochRng, metrics });
      },
      config.lr,
    );
    const emit = options.onProgress ?? (() => {});
    emit(startEvent(run));
    const interrupt = (epoch: number, step: number, sums: EpochSums): never => {
      Object.assign(at, { epoch, sums });
      throw interruption(
        checkpoints.save((epoch - 1) * stepsPerEpoch + step),
        `epoch ${epoch}, step ${step} of ${stepsPerEpoch}`,
        options.signal,
      );
    };
    const runner = new EpochRunner(
      {
        pool,
        config,
        stepsPerEpoch,
        checkpoints,
        emit,
        progressIntervalMs: options.progressIntervalMs ?? 100,
        signal: options.signal,
        stopAfterStep: options.stopAfterStep,
        interrupt,
      },
      (start.epoch - 1) * stepsPerEpoch + start.step,
    );
    for (let epoch = start.epoch; epoch <= config.epochs; epoch++) {
      const epochStart = performance.now();
      epochRng.set(rng.state);
      permutation(rng, pool.order, dataset.train.count);
      const resumed = epoch === start.epoch;
      const sums = resumed ? at.sums : { loss: 0, correct: 0, seen: 0 };
      Object.assign(at, { epoch, sums });
      const trained = await runner.run(epoch, resumed ? start.step : 0, sums);
      const m = await epochMetrics(pool, dataset, epoch, sums, trained, epochStart);
      metrics.push(m);
      emit({ type: 'epoch', ...m });
      await runner.yieldNow();
      // The next epoch's state: its permutation comes from the generator as it is now.
      epochRng.set(rng.state);
      Object.assign(at, { epoch: epoch + 1, sums: { loss: 0, correct: 0, seen: 0 } });
      checkpoints.atEpochEnd(runner.globalStep);
      if (options.signal?.aborted && epoch < config.epochs) interrupt(epoch + 1, 0, at.sums);
    }
    return {
      config,
      model: modelFromParams(net, pool.params),
      velocity: Float32Array.from(pool.velocity),
      metrics,
      seconds: (performance.now() - started) / 1000,
      kernels: kernels.label,
      retries: pool.retries,
    };
  } finally {
    await pool.close();
  }
}

/** The parameters, velocity and shuffle generator the run starts from: a checkpoint's, or fresh. */
function restore(run: PreparedRun, pool: StepPool): Rng {
  const { config, resume } = run;
  const rng = new Rng(shuffleSeed(config.seed));
  if (resume) {
    pool.params.set(resume.model.params);
    pool.velocity.set(resume.velocity);
    rng.state.set(resume.state.epochRng);
  } else {
    initParams(run.net, config.seed, pool.params);
  }
  pool.setHyperparameters(config.lr, config.momentum, config.weightDecay);
  return rng;
}

function startEvent(run: PreparedRun): TrainEvent {
  const { config, net, dataset, kernels, stepsPerEpoch, start, resume } = run;
  return {
    type: 'start',
    config,
    layers: net.sizes,
    params: net.size,
    trainCount: dataset.train.count,
    testCount: dataset.test.count,
    kernels: kernels.label,
    stepsPerEpoch,
    cores: coreCount(),
    resumed: resume ? { epoch: start.epoch, step: start.step, finished: start.epoch > config.epochs } : null,
  };
}

/** The epoch's row: train figures are averages over its steps, test figures after it. */
async function epochMetrics(
  pool: StepPool,
  dataset: Dataset,
  epoch: number,
  sums: EpochSums,
  trained: number,
  epochStart: number,
): Promise<EpochMetrics> {
  const trainSeconds = (performance.now() - epochStart) / 1000;
  const test: StepStats = { loss: 0, correct: 0 };
  await pool.evaluate('test', test);
  const N = dataset.train.count;
  return {
    epoch,
    trainLoss: sums.loss / N,
    trainAccuracy: sums.correct / N,
    testLoss: test.loss / dataset.test.count,
    testAccuracy: test.correct / dataset.test.count,
    samplesPerSec: trained / trainSeconds,
    seconds: (performance.now() - epochStart) / 1000,
  };
}

/** The run's state as a checkpoint: parameters, velocity, position, sums and metrics so far. */
function snapshot(
  run: PreparedRun,
  pool: StepPool,
  at: { epoch: number; step: number; sums: EpochSums; epochRng: Uint32Array; metrics: EpochMetrics[] },
): Checkpoint {
  return {
    config: { ...run.config },
    model: { layout: run.net, params: pool.params },
    velocity: pool.velocity,
    state: {
      epoch: at.epoch,
      step: at.step,
      epochRng: Array.from(at.epochRng),
      epochLoss: at.sums.loss,
      epochCorrect: at.sums.correct,
      epochSeen: at.sums.seen,
      metrics: at.metrics,
      kernels: run.kernels.label,
    },
  };
}

function interruption(path: string | null, where: string, signal?: AbortSignal): TrainingInterrupted {
  const signalName = signal?.reason instanceof Error ? signal.reason.message : String(signal?.reason ?? '');
  return new TrainingInterrupted(
    (name) =>
      path
        ? `interrupted at ${where}; checkpoint written to ${path}; continue with ${name('resume')} ${path}`
        : `interrupted at ${where}; no checkpoint was requested`,
    path,
    INTERRUPT_EXIT_CODES[signalName] ?? 130,
  );
}
