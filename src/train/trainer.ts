import type { Dataset } from '../data/dataset.js';
import type { Task } from '../data/task.js';
import type { RowSplit } from '../data/validation-split.js';
import { GradpoolError, type Message } from '../errors.js';
import type { Checkpoint } from '../io/checkpoint.js';
import { coreCount } from '../machine.js';
import { initParams } from '../nn/init.js';
import { type Model, modelFromParams } from '../nn/model.js';
import type { OptimizerSettings } from '../nn/optim/optimizer.js';
import { learningRate } from '../nn/optim/schedule.js';
import { permutation, Rng } from '../nn/rng.js';
import type { KeepChoice, TrainConfig } from './config.js';
import { EpochRunner } from './epoch.js';
import { type RegressionScores, regressionScores, targetScalings } from './metrics.js';
import { StepPool, type StepStats } from './pool.js';
import { type EpochSums, type PreparedRun, prepareRun } from './prepare.js';
import { type CheckpointOptions, RunCheckpoints } from './run-checkpoints.js';

export type { CheckpointOptions } from './run-checkpoints.js';

/**
 * One epoch's figures. Losses are mean cross-entropy, or for regression the mean over rows of
 * the squared error of the standardised targets (summed over targets). Accuracies are for
 * classification; RMSE, MAE and R² (in the targets' units) for regression.
 */
export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAccuracy?: number;
  /** on the validation rows after the epoch, when the run holds some out */
  valLoss?: number;
  valAccuracy?: number;
  valRmse?: number;
  testLoss: number;
  testAccuracy?: number;
  testRmse?: number;
  testMae?: number;
  testR2?: number;
  /** the learning rate of the epoch's last step */
  lr: number;
  samplesPerSec: number;
  seconds: number;
}

/** Which epoch's model a run returns, and why its training ended. */
export interface RunOutcome {
  /** the epoch whose weights the model holds */
  keptEpoch: number;
  /** best: the lowest validation loss; last: the last epoch trained */
  kept: KeepChoice;
  /** the last epoch trained */
  lastEpoch: number;
  /** completed: every epoch ran; early-stopping: the validation loss stopped improving */
  stopped: 'completed' | 'early-stopping';
  /** the kept epoch's validation loss, when the run validates */
  valLoss: number | null;
}

export type TrainEvent =
  | {
      type: 'start';
      config: TrainConfig;
      task: Task;
      layers: readonly number[];
      params: number;
      /** rows that train (the train split less the validation rows) */
      trainCount: number;
      /** rows held out to validate (0: none) */
      validationCount: number;
      testCount: number;
      /** the arithmetic (js, wasm-simd, wasm-relaxed-simd), which fixes the bytes */
      kernels: string;
      /** what computes it: js, wasm, native avx512, native avx2 or native neon */
      implementation: string;
      /** why the native kernels were not used, where they would have been */
      nativeUnavailable?: string;
      stepsPerEpoch: number;
      /** the cores this process may use (more threads than this share them) */
      cores: number;
      /** where a resumed run continues (null: from the start); `finished` when nothing is left */
      resumed: {
        epoch: number;
        step: number;
        /** nothing is left to train: every epoch ran, or early stopping ended the run */
        finished: boolean;
        stoppedEarly: boolean;
      } | null;
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
  | ({ type: 'epoch' } & EpochMetrics)
  | ({ type: 'end' } & RunOutcome);

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
  /**
   * refuse a model of more parameters (a server's cap), checked once the dataset is loaded: a
   * CSV file's width is known only then
   */
  maxParams?: number;
}

export interface TrainResult {
  /** the settings the run used, defaults and checkpoint included */
  config: TrainConfig;
  /** the kept epoch's model (outcome.keptEpoch) */
  model: Model;
  /** the optimizer's state after the last step (SGD: the velocity), in the parameters' layout */
  optimizerState: Float32Array[];
  metrics: EpochMetrics[];
  outcome: RunOutcome;
  seconds: number;
  kernels: string;
  /** steps (or evaluations) recomputed on fresh threads after a worker failed */
  retries: number;
}

/** The metrics of the epoch whose model a run returns. */
export function keptMetrics(r: Pick<TrainResult, 'metrics' | 'outcome'>): EpochMetrics {
  const m = r.metrics.find((e) => e.epoch === r.outcome.keptEpoch) ?? r.metrics[r.metrics.length - 1];
  if (!m) throw new RangeError('the run trained no epoch');
  return m;
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
    kernels,
    maxRetries: config.maxRetries,
    stepTimeoutMs: config.stepTimeout * 1000,
    optimizer: run.optimizer,
    dropout: config.dropout,
    seed: config.seed,
    rows: run.rows,
  });
  const started = performance.now();
  try {
    const rng = restore(run, pool);
    const metrics: EpochMetrics[] = [...start.metrics];
    const best = new BestEpoch(config, run.resume);
    // what a checkpoint written now holds: the epoch in progress and its sums so far (its step
    // follows from the run's step count)
    const at = { epoch: start.epoch, sums: { ...start.sums } };
    /** the shuffle generator's state before it drew the epoch's permutation */
    const epochRng = new Uint32Array(rng.state);
    const checkpoints = new RunCheckpoints(
      options.checkpoint,
      (globalStep) => {
        const step = globalStep - (at.epoch - 1) * stepsPerEpoch;
        return snapshot(run, pool, best, { ...at, step, epochRng, metrics });
      },
      config.lr,
    );
    const emit = options.onProgress ?? (() => {});
    // a checkpoint written at the epoch where early stopping ended the run resumes as ended
    let stopped = best.patienceRunOut(metrics);
    emit(startEvent(run, pool, stopped));
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
    for (let epoch = start.epoch; epoch <= config.epochs && !stopped; epoch++) {
      const epochStart = performance.now();
      epochRng.set(rng.state);
      shuffleTrainingRows(rng, pool, run.rows);
      const resumed = epoch === start.epoch;
      const sums = resumed ? at.sums : { loss: 0, correct: 0, seen: 0 };
      Object.assign(at, { epoch, sums });
      const trained = await runner.run(epoch, resumed ? start.step : 0, sums);
      const m = await epochMetrics(run, pool, epoch, sums, trained, epochStart);
      metrics.push(m);
      best.observe(m, pool.params);
      emit({ type: 'epoch', ...m });
      await runner.yieldNow();
      // The next epoch's state: its permutation comes from the generator as it is now.
      epochRng.set(rng.state);
      Object.assign(at, { epoch: epoch + 1, sums: { loss: 0, correct: 0, seen: 0 } });
      checkpoints.atEpochEnd(runner.globalStep);
      stopped = best.patienceRunOut(metrics);
      if (options.signal?.aborted && epoch < config.epochs && !stopped) interrupt(epoch + 1, 0, at.sums);
    }
    const lastEpoch = metrics.length === 0 ? 0 : metrics[metrics.length - 1].epoch;
    const keptEpoch = config.keep === 'best' && best.epoch !== null ? best.epoch : lastEpoch;
    const outcome: RunOutcome = {
      kept: config.keep,
      keptEpoch,
      lastEpoch,
      stopped: stopped ? 'early-stopping' : 'completed',
      valLoss: metrics.find((m) => m.epoch === keptEpoch)?.valLoss ?? null,
    };
    emit({ type: 'end', ...outcome });
    const kept = config.keep === 'best' && best.params ? best.params : pool.params;
    return {
      config,
      model: modelFromParams(net, kept, run.dataset.preprocessing),
      optimizerState: pool.state.map((s) => Float32Array.from(s)),
      metrics,
      outcome,
      seconds: (performance.now() - started) / 1000,
      kernels: kernels.label,
      retries: pool.retries,
    };
  } finally {
    await pool.close();
  }
}

/**
 * The epoch with the lowest validation loss so far and its weights, when the run keeps the
 * best epoch or stops early; an epoch is better only when its loss is lower by more than
 * minDelta (Keras' EarlyStopping rule, which also decides the kept epoch here).
 */
class BestEpoch {
  epoch: number | null = null;
  params: Float32Array | null = null;
  private loss = Number.POSITIVE_INFINITY;
  private readonly tracking: boolean;

  /** From a checkpoint, the best epoch as it left it (its loss is in the checkpoint's metrics). */
  constructor(
    private readonly config: TrainConfig,
    resume?: Checkpoint,
  ) {
    this.tracking = config.validationSplit > 0 && (config.keep === 'best' || config.earlyStopping > 0);
    const at = resume?.state.bestEpoch;
    if (!this.tracking || !resume || typeof at !== 'number') return;
    const m = (resume.state.metrics as EpochMetrics[]).find((e) => e.epoch === at);
    this.epoch = at;
    this.loss = m?.valLoss ?? Number.POSITIVE_INFINITY;
    if (resume.best) this.params = Float32Array.from(resume.best);
  }

  observe(m: EpochMetrics, params: Float32Array): void {
    if (!this.tracking || m.valLoss === undefined) return;
    if (!(m.valLoss < this.loss - this.config.minDelta)) return;
    this.epoch = m.epoch;
    this.loss = m.valLoss;
    if (this.config.keep === 'best') {
      this.params ??= new Float32Array(params.length);
      this.params.set(params);
    }
  }

  /** Whether early stopping's patience has run out after the epochs in `metrics`. */
  patienceRunOut(metrics: readonly EpochMetrics[]): boolean {
    const patience = this.config.earlyStopping;
    if (patience === 0 || metrics.length === 0) return false;
    const last = metrics[metrics.length - 1].epoch;
    return last - (this.epoch ?? 0) >= patience;
  }
}

/** The epoch's order of the training rows: a permutation of them, as train-split row indices. */
function shuffleTrainingRows(rng: Rng, pool: StepPool, rows?: RowSplit): void {
  const n = pool.trainRows;
  permutation(rng, pool.order, n);
  if (!rows) return;
  const order = pool.order;
  for (let i = 0; i < n; i++) order[i] = rows.train[order[i]];
}

/** The parameters, optimizer state and shuffle generator the run starts from: a checkpoint's, or fresh. */
function restore(run: PreparedRun, pool: StepPool): Rng {
  const { config, resume, optimizer, schedule } = run;
  const rng = new Rng(shuffleSeed(config.seed));
  if (resume) {
    pool.params.set(resume.model.params);
    pool.state.forEach((s, i) => {
      s.set(resume.optimizerState[i]);
    });
    rng.state.set(resume.state.epochRng);
  } else {
    initParams(run.net, config.seed, pool.params);
  }
  const settings = config as unknown as OptimizerSettings;
  // step t's rate and the optimizer's scalars, in float64, from the step's index alone
  pool.setStepScalars((t, out, at) =>
    optimizer.stepScalars(settings, learningRate(schedule, t), t + 1, out, at),
  );
  return rng;
}

function startEvent(run: PreparedRun, pool: StepPool, stoppedEarly: boolean): TrainEvent {
  const { config, net, dataset, kernels, stepsPerEpoch, start, resume } = run;
  return {
    type: 'start',
    config,
    task: dataset.task,
    layers: net.sizes,
    params: net.size,
    trainCount: pool.trainRows,
    validationCount: pool.validationCount,
    testCount: dataset.test.count,
    kernels: kernels.label,
    implementation: kernels.implementation,
    ...(kernels.nativeUnavailable ? { nativeUnavailable: kernels.nativeUnavailable } : {}),
    stepsPerEpoch,
    cores: coreCount(),
    resumed: resume
      ? {
          epoch: start.epoch,
          step: start.step,
          finished: start.epoch > config.epochs || stoppedEarly,
          stoppedEarly,
        }
      : null,
  };
}

/** The epoch's row: train figures are averages over its steps, validation and test figures after it. */
async function epochMetrics(
  run: PreparedRun,
  pool: StepPool,
  epoch: number,
  sums: EpochSums,
  trained: number,
  epochStart: number,
): Promise<EpochMetrics> {
  const { dataset, stepsPerEpoch, schedule } = run;
  const trainSeconds = (performance.now() - epochStart) / 1000;
  const regress = dataset.task === 'regress';
  const validation: Partial<EpochMetrics> = {};
  if (pool.validationCount > 0) {
    const v: StepStats = { loss: 0, correct: 0 };
    const n = pool.validationCount;
    await pool.evaluate('validation', v);
    validation.valLoss = v.loss / n;
    if (regress) {
      const on = { targets: dataset.train.targets, count: n, rows: run.rows?.validation };
      validation.valRmse = regressionScores(pool.outputs, on, targetScalings(dataset)).rmse;
    } else validation.valAccuracy = v.correct / n;
  }
  const test: StepStats = { loss: 0, correct: 0 };
  await pool.evaluate('test', test);
  const N = pool.trainRows;
  const n = dataset.test.count;
  const scores = regress
    ? testScores(regressionScores(pool.outputs, dataset.test, targetScalings(dataset)))
    : { testAccuracy: test.correct / n };
  return {
    epoch,
    trainLoss: sums.loss / N,
    ...(regress ? {} : { trainAccuracy: sums.correct / N }),
    ...validation,
    testLoss: test.loss / n,
    ...scores,
    lr: learningRate(schedule, epoch * stepsPerEpoch - 1),
    samplesPerSec: trained / trainSeconds,
    seconds: (performance.now() - epochStart) / 1000,
  };
}

const testScores = (s: RegressionScores) => ({ testRmse: s.rmse, testMae: s.mae, testR2: s.r2 });

/** The run's state as a checkpoint: parameters, optimizer state, position, sums, metrics and best epoch so far. */
function snapshot(
  run: PreparedRun,
  pool: StepPool,
  best: BestEpoch,
  at: { epoch: number; step: number; sums: EpochSums; epochRng: Uint32Array; metrics: EpochMetrics[] },
): Checkpoint {
  return {
    config: { ...run.config },
    model: { layout: run.net, params: pool.params, preprocessing: run.dataset.preprocessing },
    optimizerState: pool.state,
    best: best.params,
    state: {
      epoch: at.epoch,
      step: at.step,
      epochRng: Array.from(at.epochRng),
      epochLoss: at.sums.loss,
      epochCorrect: at.sums.correct,
      epochSeen: at.sums.seen,
      metrics: at.metrics,
      kernels: run.kernels.label,
      bestEpoch: best.epoch,
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
