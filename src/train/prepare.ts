import { type CsvOptions, type Dataset, loadDataset } from '../data/dataset.js';
import { shapeOf } from '../data/shape.js';
import { type RowSplit, stratifiedSplit } from '../data/validation-split.js';
import { UsageError } from '../errors.js';
import type { Checkpoint } from '../io/checkpoint.js';
import type { ArenaPlan } from '../nn/arena.js';
import type { NetworkLayout } from '../nn/layout.js';
import { type Optimizer, optimizerFields, optimizerNamed } from '../nn/optim/index.js';
import type { Schedule, ScheduleName } from '../nn/optim/schedule.js';
import {
  CSV_FIELDS,
  defaultLearningRate,
  isCsv,
  type KernelChoice,
  resolveConfig,
  type TrainConfig,
  warmupSteps,
} from './config.js';
import { ARITHMETICS, type Arithmetic, type ResolvedKernels, resolveKernels } from './kernels.js';
import { checkRunnable } from './plan.js';
import type { EpochMetrics } from './trainer.js';

// Preparing a run: the settings (a checkpoint's, where resuming, with what may change on
// top), the dataset, the network and the kernel build, each checked before a thread starts.

/** Running sums of an epoch so far, so its reported metrics match an uninterrupted run. */
export interface EpochSums {
  loss: number;
  correct: number;
  seen: number;
}

/** Where a run starts: its first epoch and step, and what came before them. */
export interface StartPoint {
  /** 1-based */
  readonly epoch: number;
  /** steps of that epoch already applied */
  readonly step: number;
  readonly sums: EpochSums;
  readonly metrics: readonly EpochMetrics[];
}

export interface PreparedRun {
  readonly config: TrainConfig;
  readonly dataset: Dataset;
  readonly net: NetworkLayout;
  /** the shared memory the run trains in, as the check planned it */
  readonly plan: ArenaPlan;
  readonly kernels: ResolvedKernels;
  readonly stepsPerEpoch: number;
  readonly start: StartPoint;
  readonly resume?: Checkpoint;
  readonly optimizer: Optimizer;
  /** the learning rate of every step */
  readonly schedule: Schedule;
  /** with a validation split: which train-split rows train and which validate */
  readonly rows?: RowSplit;
}

/**
 * Settings that decide the bytes of the result, or which epoch's model is written: a resumed
 * run must not change them. `epochs` may grow on resume, except under a schedule that spans
 * the run (cosine, onecycle), whose every step's rate depends on it.
 */
const LOCKED: readonly (keyof TrainConfig)[] = [
  'data',
  ...CSV_FIELDS,
  'hidden',
  'activation',
  'batchSize',
  'optimizer',
  'lr',
  ...(Object.keys(optimizerFields()) as (keyof TrainConfig)[]),
  'weightDecay',
  'lrSchedule',
  'lrMin',
  'lrStepSize',
  'lrGamma',
  'warmupSteps',
  'warmupEpochs',
  'warmupStartFactor',
  'dropout',
  'validationSplit',
  'earlyStopping',
  'minDelta',
  'keep',
  'seed',
];
/** Schedules whose every rate depends on the run's length: `epochs` is locked on resume. */
export const SPANS_THE_RUN: readonly ScheduleName[] = ['cosine', 'onecycle'];

export async function prepareRun(
  input: Partial<TrainConfig>,
  options: { dataset?: Dataset; resume?: Checkpoint; maxParams?: number } = {},
): Promise<PreparedRun> {
  const { resume } = options;
  // On resume the checkpoint's config holds every setting, and a job's resume passes its whole
  // config again: only what differs from the checkpoint can be refused as not applying (the
  // CLI and the job API check their input as given, before this).
  const given = definedOnly(input);
  const saved = (resume?.config ?? {}) as Record<string, unknown>;
  const changed = Object.keys(given).filter(
    (k) => JSON.stringify(given[k as keyof TrainConfig]) !== JSON.stringify(saved[k]),
  );
  const config = resume
    ? resolveConfig({ ...(saved as Partial<TrainConfig>), ...given }, new Set(changed))
    : resolveConfig(input);
  if (resume) checkResumable(resume, config);
  const dataset = options.dataset ?? (await loadDataset(config.data, csvOptions(config)));
  // the default rate is the task's (the task of a CSV is known once it loads)
  if (!resume && input.lr === undefined) config.lr = defaultLearningRate(dataset.task);
  const { net, plan } = checkRunnable(shapeOf(dataset), config, options.maxParams);
  // classes are stratified; regression rows are one stratum (a plain seeded sample)
  const strata = dataset.task === 'classify' ? dataset.train.targets : new Uint8Array(dataset.train.count);
  const rows =
    config.validationSplit > 0
      ? stratifiedSplit(strata, dataset.train.count, config.validationSplit, config.seed)
      : undefined;
  if (resume && resume.model.layout.sizes.join(',') !== net.sizes.join(',')) {
    throw new UsageError(
      (name) =>
        `${name('resume')}: the checkpoint has layers ${resume.model.layout.sizes.join(',')}, this run ${net.sizes.join(',')}`,
      'resume',
    );
  }
  // A resumed run asked for nothing new computes the checkpoint's arithmetic on whatever runs it
  // here: the saved choice (say native, from a machine with the addon) is not a request anew.
  const choice = resume && !changed.includes('kernels') ? 'auto' : config.kernels;
  const pinned = resume ? checkpointArithmetic(resume, choice) : undefined;
  const kernels = await resolveKernels(choice, pinned).catch((e: unknown) => {
    if (!resume || !pinned || !(e instanceof UsageError)) throw e;
    const why = e.message.replace(/^kernels \S+: /, '');
    // where nothing here computes the arithmetic, that is the checkpoint's problem; where an
    // implementation was asked for (native, wasm), it is that request's
    if (choice !== 'auto')
      throw new UsageError(
        (name) =>
          `${name('kernels')} ${choice}: the checkpoint was computed with ${resume.state.kernels} kernels, which ${choice} cannot compute here: ${why} (${name('kernels')} auto takes whatever can)`,
        'kernels',
      );
    throw new UsageError(
      (name) =>
        `${name('resume')}: the checkpoint was computed with ${resume.state.kernels} kernels, which cannot run here: ${why}`,
      'resume',
    );
  });
  if (resume && resume.state.kernels !== kernels.label) {
    throw new UsageError(
      (name) =>
        `${name('resume')}: the checkpoint was computed with ${resume.state.kernels} kernels, this run would use ${kernels.label} (${name('kernels')})`,
      'kernels',
    );
  }
  const stepsPerEpoch = Math.ceil((rows?.train.length ?? dataset.train.count) / config.batchSize);
  return {
    config,
    dataset,
    net,
    plan,
    kernels,
    stepsPerEpoch,
    start: startPoint(resume),
    resume,
    optimizer: optimizerNamed(config.optimizer),
    schedule: scheduleOf(config, stepsPerEpoch),
    rows,
  };
}

/** The run's learning-rate schedule in steps. */
export function scheduleOf(c: TrainConfig, stepsPerEpoch: number): Schedule {
  return {
    name: c.lrSchedule,
    lr: c.lr,
    totalSteps: c.epochs * stepsPerEpoch,
    warmupSteps: warmupSteps(c, stepsPerEpoch),
    warmupStartFactor: c.warmupStartFactor,
    lrMin: c.lrMin,
    stepSize: c.lrStepSize * stepsPerEpoch,
    gamma: c.lrGamma,
  };
}

function startPoint(resume: Checkpoint | undefined): StartPoint {
  if (!resume) return { epoch: 1, step: 0, sums: { loss: 0, correct: 0, seen: 0 }, metrics: [] };
  const s = resume.state;
  return {
    epoch: s.epoch,
    step: s.step,
    sums: { loss: s.epochLoss, correct: s.epochCorrect, seen: s.epochSeen },
    metrics: s.metrics as EpochMetrics[],
  };
}

/**
 * A resumed run computes with the checkpoint's arithmetic unless asked for a named one: auto
 * (or nothing), native and wasm leave the arithmetic open, so they mean the checkpoint's (made
 * on whatever machine), on that implementation. A js checkpoint is pinned only under auto:
 * native and wasm name kernels that never compute js's arithmetic.
 */
function checkpointArithmetic(resume: Checkpoint, choice: KernelChoice): Arithmetic | undefined {
  const label = resume.state.kernels as Arithmetic;
  if (!ARITHMETICS.includes(label)) return undefined;
  if (choice === 'auto' || ((choice === 'wasm' || choice === 'native') && label !== 'js')) return label;
  return undefined;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkResumable(resume: Checkpoint, config: TrainConfig): void {
  const saved = resolveConfig(resume.config as Partial<TrainConfig>, new Set());
  const locked = SPANS_THE_RUN.includes(saved.lrSchedule) ? [...LOCKED, 'epochs' as const] : LOCKED;
  for (const key of locked) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(config[key])) {
      throw new UsageError(
        (name) =>
          `${name('resume')}: ${name(key)} is ${JSON.stringify(config[key])} but the checkpoint was trained with ${JSON.stringify(saved[key])}`,
        key,
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
      (name) =>
        `${name('resume')}: the checkpoint has trained ${trained}; ${name('epochs')} ${config.epochs} ends before that: use ${name('epochs')} ${needed} or more`,
      'epochs',
    );
  }
}

/** What loading a CSV dataset needs of the config (undefined for images). */
export function csvOptions(c: TrainConfig): CsvOptions | undefined {
  if (!isCsv(c)) return undefined;
  return {
    target: c.target,
    task: c.task === 'auto' ? undefined : c.task,
    ignore: c.ignore,
    testData: c.testData === '' ? undefined : c.testData.slice(4),
    testSplit: c.testSplit,
    standardize: c.standardize,
    seed: c.seed,
  };
}
