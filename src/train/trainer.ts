import { type Dataset, loadDataset } from '../data/dataset.js';
import { GradpoolError, TrainingError, UsageError } from '../errors.js';
import { type Checkpoint, saveCheckpoint } from '../io/checkpoint.js';
import { coreCount } from '../machine.js';
import { initParams } from '../nn/init.js';
import { type Model, modelFromParams } from '../nn/model.js';
import { permutation, Rng } from '../nn/rng.js';
import {
  CONFIG_FIELDS,
  KERNEL_CHOICES,
  type KernelChoice,
  resolveConfig,
  type TrainConfig,
} from './config.js';
import { MAX_STEPS } from './control.js';
import { resolveKernels } from './kernels.js';
import { networkFor } from './plan.js';
import { CommandFailed, StepPool, type StepStats } from './pool.js';

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

export interface CheckpointOptions {
  /** where checkpoints go (written atomically) */
  path: string;
  /** also every N steps (0: never) */
  everySteps?: number;
  /** at the end of every epoch (false: only when interrupted) */
  atEpochEnd?: boolean;
  /** called after each checkpoint is written, e.g. to copy it somewhere shared */
  onSaved?: (path: string) => void;
}

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
/** Target duration of one training command, so progress and signals are seen at least this often. */
const COMMAND_MS = 50;

/** 128 + the signal's number, as shells report a process a signal ended; SIGPIPE: stdout's reader went away */
const INTERRUPT_EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGPIPE: 141, SIGTERM: 143 };

/** Raised when training stops on request after saving a checkpoint. */
export class TrainingInterrupted extends GradpoolError {
  constructor(
    message: string,
    readonly checkpoint: string | null,
    exitCode = 130,
  ) {
    super(message, exitCode);
  }
}

/** Settings that decide the bytes of the result: a resumed run must not change them. */
const LOCKED: readonly (keyof TrainConfig)[] = [
  'data',
  'hidden',
  'activation',
  'batchSize',
  'lr',
  'momentum',
  'weightDecay',
  'seed',
];

/**
 * Trains an MLP data-parallel over `config.threads` worker threads. Same config ⇒ the same
 * bytes in the returned parameters for any thread count, and for a run resumed from a
 * checkpoint at any step.
 */
export async function train(input: Partial<TrainConfig>, options: TrainOptions = {}): Promise<TrainResult> {
  const resume = options.resume;
  const fromCheckpoint = resume ? checkpointKernels(resume, input.kernels) : {};
  const config = resolveConfig(
    resume ? { ...(resume.config as Partial<TrainConfig>), ...definedOnly(input), ...fromCheckpoint } : input,
  );
  if (resume) checkResumable(resume, config);
  const dataset = options.dataset ?? (await loadDataset(config.data));
  if (config.batchSize > dataset.train.count) {
    throw new UsageError(
      `--batch-size ${config.batchSize} is larger than the ${dataset.train.count} training rows`,
    );
  }
  const net = networkFor(dataset.features, config.hidden, dataset.classes, config.activation);
  if (resume && resume.model.layout.sizes.join(',') !== net.sizes.join(',')) {
    throw new UsageError(
      `--resume: the checkpoint has layers ${resume.model.layout.sizes.join(',')}, this run ${net.sizes.join(',')}`,
    );
  }
  const kernels = await resolveKernels(config.kernels).catch((e: unknown) => {
    if (!resume || !fromCheckpoint.kernels || !(e instanceof UsageError)) throw e;
    throw new UsageError(
      `--resume: the checkpoint was computed with ${resume.state.kernels} kernels, which cannot run here: ${e.message.replace(/^--kernels \S+: /, '')}`,
    );
  });
  if (resume && resume.state.kernels !== kernels.label) {
    throw new UsageError(
      `--resume: the checkpoint was computed with ${resume.state.kernels} kernels, this run would use ${kernels.label} (--kernels)`,
    );
  }
  const pool = await StepPool.forNetwork({
    net,
    dataset,
    threads: config.threads,
    kernels,
    batchRows: config.batchSize,
    maxRetries: config.maxRetries,
    stepTimeoutMs: config.stepTimeout * 1000,
  });
  const started = performance.now();
  try {
    const rng = new Rng(shuffleSeed(config.seed));
    const metrics: EpochMetrics[] = [];
    let firstEpoch = 1;
    let firstStep = 0;
    const carried = { loss: 0, correct: 0, seen: 0 };
    if (resume) {
      pool.params.set(resume.model.params);
      pool.velocity.set(resume.velocity);
      rng.state.set(resume.state.epochRng);
      metrics.push(...(resume.state.metrics as EpochMetrics[]));
      firstEpoch = resume.state.epoch;
      firstStep = resume.state.step;
      carried.loss = resume.state.epochLoss;
      carried.correct = resume.state.epochCorrect;
      carried.seen = resume.state.epochSeen;
    } else {
      initParams(net, config.seed, pool.params);
    }
    pool.setHyperparameters(config.lr, config.momentum, config.weightDecay);
    const N = dataset.train.count;
    const stepsPerEpoch = Math.ceil(N / config.batchSize);
    const emit = options.onProgress ?? (() => {});
    emit({
      type: 'start',
      config,
      layers: net.sizes,
      params: net.size,
      trainCount: N,
      testCount: dataset.test.count,
      kernels: kernels.label,
      stepsPerEpoch,
      cores: coreCount(),
    });
    const interval = options.progressIntervalMs ?? 100;
    const stepStats: StepStats[] = Array.from({ length: MAX_STEPS }, () => ({ loss: 0, correct: 0 }));
    /** the last command's mean step time, to size the next command */
    let stepMs = COMMAND_MS;
    const epochRng = new Uint32Array(4);
    const ck = options.checkpoint;
    const save = (
      epoch: number,
      stepInEpoch: number,
      sums: { loss: number; correct: number; seen: number },
    ) => {
      if (!ck) return null;
      assertFinite(pool.params, pool.velocity, epoch, stepInEpoch, config.lr);
      saveCheckpoint(ck.path, {
        config: { ...config },
        model: { layout: net, params: pool.params },
        velocity: pool.velocity,
        state: {
          epoch,
          step: stepInEpoch,
          epochRng: Array.from(epochRng),
          epochLoss: sums.loss,
          epochCorrect: sums.correct,
          epochSeen: sums.seen,
          metrics,
          kernels: kernels.label,
        },
      });
      ck.onSaved?.(ck.path);
      return ck.path;
    };
    const interrupt = (
      epoch: number,
      stepInEpoch: number,
      sums: { loss: number; correct: number; seen: number },
    ) => {
      const path = save(epoch, stepInEpoch, sums);
      const signalName =
        options.signal?.reason instanceof Error
          ? options.signal.reason.message
          : String(options.signal?.reason ?? '');
      const where = `epoch ${epoch}, step ${stepInEpoch} of ${stepsPerEpoch}`;
      throw new TrainingInterrupted(
        path
          ? `interrupted at ${where}; checkpoint written to ${path}; continue with --resume ${path}`
          : `interrupted at ${where}; no checkpoint was requested`,
        path,
        INTERRUPT_EXIT_CODES[signalName] ?? 130,
      );
    };
    let globalStep = (firstEpoch - 1) * stepsPerEpoch + firstStep;
    // Steps block this thread; yielding regularly (across epochs, however short they are)
    // lets timers, I/O and signal handlers run.
    let lastYield = performance.now();
    const yieldNow = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    };
    for (let epoch = firstEpoch; epoch <= config.epochs; epoch++) {
      const epochStart = performance.now();
      epochRng.set(rng.state);
      permutation(rng, pool.order, N);
      const resumed = epoch === firstEpoch;
      const sums = resumed ? { ...carried } : { loss: 0, correct: 0, seen: 0 };
      const start = resumed ? firstStep : 0;
      let measured = 0;
      for (let s = start; s < stepsPerEpoch; ) {
        const first = s * config.batchSize;
        const rows = Math.min(config.batchSize, N - first);
        // Steps go to the threads in commands of several (no round trip between them), cut
        // where the loop must act: a checkpoint, a requested stop, the epoch's short last
        // step, and about every COMMAND_MS so progress and signals are seen in time.
        let count = Math.min(MAX_STEPS, stepsPerEpoch - s, Math.max(1, Math.floor(COMMAND_MS / stepMs)));
        if (ck?.everySteps) count = Math.min(count, ck.everySteps - (globalStep % ck.everySteps));
        if (options.stopAfterStep !== undefined)
          count = Math.min(count, Math.max(1, options.stopAfterStep - globalStep));
        while (count > 1 && first + count * rows > N) count--;
        const t0 = performance.now();
        try {
          await pool.trainSteps(first, rows, count, stepStats);
        } catch (e) {
          if (!(e instanceof CommandFailed)) throw e;
          const kept =
            ck?.atEpochEnd || ck?.everySteps ? `; the last checkpoint in ${ck.path} is intact` : '';
          throw new TrainingError(`epoch ${epoch}, step ${s + 1}: ${e.message}${kept}`);
        }
        stepMs = (performance.now() - t0) / count;
        for (let i = 0; i < count; i++) {
          const step = stepStats[i];
          if (!Number.isFinite(step.loss)) {
            throw new TrainingError(
              `training diverged at epoch ${epoch}, step ${s + 1}: the loss is ${step.loss}; try a lower --lr (now ${config.lr})`,
            );
          }
          sums.loss += step.loss;
          sums.correct += step.correct;
          sums.seen += rows;
          measured += rows;
          globalStep++;
          s++;
        }
        if (ck?.everySteps && globalStep % ck.everySteps === 0) save(epoch, s, sums);
        if (options.stopAfterStep !== undefined && globalStep >= options.stopAfterStep)
          interrupt(epoch, s, sums);
        const now = performance.now();
        if (now - lastYield >= interval) {
          emit({
            type: 'step',
            epoch,
            step: s,
            stepsPerEpoch,
            loss: sums.loss / sums.seen,
            accuracy: sums.correct / sums.seen,
            samplesPerSec: (measured * 1000) / (now - epochStart),
          });
          await yieldNow();
          if (options.signal?.aborted && s < stepsPerEpoch) interrupt(epoch, s, sums);
        }
      }
      const trainSeconds = (performance.now() - epochStart) / 1000;
      const test: StepStats = { loss: 0, correct: 0 };
      await pool.evaluate('test', test);
      const m: EpochMetrics = {
        epoch,
        trainLoss: sums.loss / N,
        trainAccuracy: sums.correct / N,
        testLoss: test.loss / dataset.test.count,
        testAccuracy: test.correct / dataset.test.count,
        samplesPerSec: measured / trainSeconds,
        seconds: (performance.now() - epochStart) / 1000,
      };
      metrics.push(m);
      emit({ type: 'epoch', ...m });
      await yieldNow();
      // The next epoch's state: its permutation comes from the generator as it is now.
      epochRng.set(rng.state);
      const done = { loss: 0, correct: 0, seen: 0 };
      if (ck?.atEpochEnd) save(epoch + 1, 0, done);
      if (options.signal?.aborted && epoch < config.epochs) interrupt(epoch + 1, 0, done);
    }
    const model = modelFromParams(net, pool.params);
    return {
      config,
      model,
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

/**
 * A resumed run computes with the checkpoint's kernel build unless asked for a named one:
 * auto (or nothing) and wasm mean the fastest build that reproduces the run, which is the
 * checkpoint's, made on whatever machine. Its label (js, wasm-simd, wasm-relaxed-simd) is also
 * the --kernels value that asks for it.
 */
function checkpointKernels(resume: Checkpoint, asked: KernelChoice | undefined): Partial<TrainConfig> {
  const label = resume.state.kernels as KernelChoice;
  if (!KERNEL_CHOICES.includes(label)) return {};
  if (asked === undefined || asked === 'auto' || (asked === 'wasm' && label !== 'js'))
    return { kernels: label };
  return {};
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkResumable(resume: Checkpoint, config: TrainConfig): void {
  const saved = resolveConfig(resume.config as Partial<TrainConfig>);
  for (const key of LOCKED) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(config[key])) {
      throw new UsageError(
        `--resume: --${CONFIG_FIELDS[key].flag} is ${JSON.stringify(config[key])} but the checkpoint was trained with ${JSON.stringify(saved[key])}`,
      );
    }
  }
  // A run that ends before the checkpoint's position would write the checkpoint's model under
  // the metrics of an earlier epoch. Ending exactly there is allowed: it writes that model.
  const { epoch, step } = resume.state;
  const needed = step > 0 ? epoch : epoch - 1;
  if (config.epochs < needed) {
    const trained = `${epoch - 1} epoch${epoch === 2 ? '' : 's'}${step > 0 ? ` and ${step} steps of epoch ${epoch}` : ''}`;
    throw new UsageError(
      `--resume: the checkpoint has trained ${trained}; --epochs ${config.epochs} ends before that: use --epochs ${needed} or more`,
    );
  }
}

/** A checkpoint must stay loadable and finite: a non-finite weight is divergence, not a state to save. */
function assertFinite(
  params: Float32Array,
  velocity: Float32Array,
  epoch: number,
  step: number,
  lr: number,
): void {
  for (const a of [params, velocity]) {
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) {
        throw new TrainingError(
          `training diverged by epoch ${epoch}, step ${step}: a weight is ${a[i]}; try a lower --lr (now ${lr})`,
        );
      }
    }
  }
}
