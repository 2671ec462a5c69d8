import { TASKS, type Task } from '../data/task.js';
import { UsageError } from '../errors.js';
import type { FieldSpec } from '../fields.js';
import { coreCount } from '../machine.js';
import { ACTIVATIONS, type Activation } from '../nn/layout.js';
import {
  OPTIMIZER_NAMES,
  type OptimizerName,
  optimizerDefaults,
  optimizerFields,
} from '../nn/optim/index.js';
import { SCHEDULES, type ScheduleName } from '../nn/optim/schedule.js';
import { checkNumber } from './numbers.js';

// One definition of a training job's settings, used by the CLI flags (kebab-case) and the
// job server (camelCase JSON). Validation happens once, here, with messages that name the
// setting as the reader gave it (see errors.ts: a field here and over HTTP, a flag in the CLI).

/**
 * auto, native and wasm pick the fastest arithmetic here (on the native kernels where they
 * loaded, on those or on wasm); wasm-simd, wasm-relaxed-simd and js name one arithmetic, which
 * gives the same bytes on any machine (see src/train/kernels.ts)
 */
export type KernelChoice = 'auto' | 'native' | 'wasm' | 'wasm-simd' | 'wasm-relaxed-simd' | 'js';
export const KERNEL_CHOICES: readonly KernelChoice[] = [
  'auto',
  'native',
  'wasm',
  'wasm-simd',
  'wasm-relaxed-simd',
  'js',
];

export type KeepChoice = 'best' | 'last';

export type TaskChoice = 'auto' | Task;

export interface TrainConfig {
  data: string;
  /** csv: the target column(s); several for multi-output regression */
  target: string[];
  /** csv: what the target is; auto infers it where that is unambiguous */
  task: TaskChoice;
  /** csv: columns that are not inputs */
  ignore: string[];
  /** csv: the test rows' file ('' : a seeded testSplit of the data's rows) */
  testData: string;
  testSplit: number;
  /** csv: standardise number columns (and regression targets) with the training rows' statistics */
  standardize: boolean;
  hidden: number[];
  activation: Activation;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  lr: number;
  /** SGD */
  momentum: number;
  nesterov: boolean;
  /** Adam and AdamW */
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  lrSchedule: ScheduleName;
  /** cosine: the rate it anneals to */
  lrMin: number;
  /** step: epochs between decays, and the factor */
  lrStepSize: number;
  lrGamma: number;
  /** linear warm-up, in steps or in epochs (at most one of them) */
  warmupSteps: number;
  warmupEpochs: number;
  warmupStartFactor: number;
  /** hidden units' dropout rate while training */
  dropout: number;
  /** the share of the train split held out (stratified by class) to validate each epoch */
  validationSplit: number;
  /** stop after this many epochs without a better validation loss (0: never) */
  earlyStopping: number;
  /** how much lower a validation loss must be to count as better */
  minDelta: number;
  /** which epoch's model is written: the best by validation loss, or the last */
  keep: KeepChoice;
  threads: number;
  seed: number;
  kernels: KernelChoice;
  /** reruns of a failed step (on fresh threads) before training stops */
  maxRetries: number;
  /** seconds a step may take before its threads are called stuck and replaced */
  stepTimeout: number;
}

export type { FieldSpec } from '../fields.js';

const schedules = (...values: ScheduleName[]) => ({ field: 'lrSchedule', values });
const WARMUP = schedules('constant', 'step', 'cosine');

export const CONFIG_FIELDS = {
  data: { flag: 'data', kind: 'string', describe: 'dataset: mnist | fashion-mnist | idx:DIR | csv:FILE' },
  target: {
    flag: 'target',
    kind: 'stringList',
    describe: 'csv: the target column (repeat the flag for several regression targets)',
  },
  task: {
    flag: 'task',
    kind: 'choice',
    choices: ['auto', ...TASKS],
    describe:
      'csv: classify or regress (auto: text or two values classify, fractions or several targets regress)',
  },
  ignore: {
    flag: 'ignore',
    kind: 'stringList',
    describe: 'csv: a column that is not an input (repeat the flag)',
  },
  testData: {
    flag: 'test-data',
    kind: 'string',
    describe: 'csv: the test rows, csv:FILE with the same columns',
  },
  testSplit: {
    flag: 'test-split',
    kind: 'number',
    min: 0,
    above: true,
    max: 1,
    below: true,
    describe: 'csv: share of the rows held out to test, seeded (without --test-data)',
  },
  standardize: {
    flag: 'standardize',
    kind: 'boolean',
    describe:
      "csv: standardise number columns and regression targets with the training rows' mean and deviation",
  },
  hidden: {
    flag: 'hidden',
    kind: 'intList',
    min: 1,
    max: 65536,
    describe: 'hidden layer sizes, e.g. 256,128',
  },
  activation: { flag: 'activation', kind: 'choice', choices: ACTIVATIONS, describe: 'hidden activation' },
  epochs: { flag: 'epochs', kind: 'int', min: 1, max: 100_000, describe: 'passes over the training data' },
  batchSize: { flag: 'batch-size', kind: 'int', min: 1, max: 65536, describe: 'rows per optimizer step' },
  optimizer: { flag: 'optimizer', kind: 'choice', choices: OPTIMIZER_NAMES, describe: 'optimizer' },
  lr: {
    flag: 'lr',
    kind: 'number',
    min: 0,
    above: true,
    max: 1e6,
    describe: 'learning rate (onecycle: the peak); default 0.05, for regression 0.01',
  },
  ...optimizerFields(),
  weightDecay: {
    flag: 'weight-decay',
    kind: 'number',
    min: 0,
    max: 1,
    describe: 'weight decay: L2 added to the gradient (sgd, adam) or decoupled (adamw)',
  },
  lrSchedule: { flag: 'lr-schedule', kind: 'choice', choices: SCHEDULES, describe: 'learning-rate schedule' },
  lrMin: {
    flag: 'lr-min',
    kind: 'number',
    min: 0,
    max: 1e6,
    describe: 'the rate cosine anneals to',
    appliesWhen: schedules('cosine'),
  },
  lrStepSize: {
    flag: 'lr-step-size',
    kind: 'int',
    min: 1,
    max: 100_000,
    describe: 'step schedule: epochs between decays',
    appliesWhen: schedules('step'),
  },
  lrGamma: {
    flag: 'lr-gamma',
    kind: 'number',
    min: 0,
    above: true,
    max: 1,
    describe: 'step schedule: factor per decay',
    appliesWhen: schedules('step'),
  },
  warmupSteps: {
    flag: 'warmup-steps',
    kind: 'int',
    min: 0,
    max: 1e9,
    describe: 'linear warm-up steps before the schedule',
    appliesWhen: WARMUP,
  },
  warmupEpochs: {
    flag: 'warmup-epochs',
    kind: 'int',
    min: 0,
    max: 100_000,
    describe: 'linear warm-up, in epochs',
    appliesWhen: WARMUP,
  },
  warmupStartFactor: {
    flag: 'warmup-start-factor',
    kind: 'number',
    min: 0,
    above: true,
    max: 1,
    describe: 'warm-up starts at lr × this',
    appliesWhen: WARMUP,
  },
  dropout: {
    flag: 'dropout',
    kind: 'number',
    min: 0,
    max: 1,
    below: true,
    describe: 'dropout rate of hidden units while training (0 ≤ p < 1)',
  },
  validationSplit: {
    flag: 'validation-split',
    kind: 'number',
    min: 0,
    max: 1,
    below: true,
    describe: 'share of the training rows held out to validate (stratified)',
  },
  earlyStopping: {
    flag: 'early-stopping',
    kind: 'int',
    min: 0,
    max: 100_000,
    describe: 'stop after N epochs without a better validation loss (0: off)',
  },
  minDelta: {
    flag: 'min-delta',
    kind: 'number',
    min: 0,
    max: 1e6,
    describe: 'how much lower a validation loss must be to count as better',
  },
  keep: {
    flag: 'keep',
    kind: 'choice',
    choices: ['best', 'last'],
    describe: "which epoch's model is written (default: best when validating, else last)",
  },
  threads: {
    flag: 'threads',
    kind: 'int',
    min: 1,
    max: 1024,
    describe: 'worker threads (default: all cores)',
  },
  seed: {
    flag: 'seed',
    kind: 'int',
    min: 0,
    max: 2 ** 32 - 1,
    describe: 'seed for initialisation, shuffling, the validation split and dropout',
  },
  kernels: { flag: 'kernels', kind: 'choice', choices: KERNEL_CHOICES, describe: 'compute kernels' },
  maxRetries: {
    flag: 'max-retries',
    kind: 'int',
    min: 0,
    max: 100,
    describe: 'reruns of a failed step before giving up',
  },
  stepTimeout: {
    flag: 'step-timeout',
    kind: 'number',
    min: 0,
    above: true,
    max: 86400,
    describe: 'seconds before a step is called stuck',
  },
} as unknown as { readonly [K in keyof TrainConfig]: FieldSpec };

/**
 * The rate a run takes when none is given: squared error's gradient, 2·(y − t), is about twice
 * cross-entropy's on standardised targets, and SGD with momentum 0.9 at 0.05 diverged on a CSV
 * regression that trains at 0.03 and below (bench note, issue 15).
 */
export function defaultLearningRate(task: Task): number {
  return task === 'regress' ? 0.01 : defaultConfig().lr;
}

/** Defaults chosen so `gradpool train` on mnist passes 95 % test accuracy in well under a minute on 2 cores. */
export function defaultConfig(): TrainConfig {
  const o = optimizerDefaults();
  return {
    data: 'mnist',
    target: [],
    task: 'auto',
    ignore: [],
    testData: '',
    testSplit: 0.2,
    standardize: true,
    hidden: [256, 128],
    activation: 'relu',
    epochs: 10,
    batchSize: 128,
    optimizer: 'sgd',
    lr: 0.05,
    momentum: o.momentum as number,
    nesterov: o.nesterov as boolean,
    beta1: o.beta1 as number,
    beta2: o.beta2 as number,
    eps: o.eps as number,
    weightDecay: 0,
    lrSchedule: 'constant',
    lrMin: 0,
    lrStepSize: 1,
    lrGamma: 0.1,
    warmupSteps: 0,
    warmupEpochs: 0,
    warmupStartFactor: 0.1,
    dropout: 0,
    validationSplit: 0,
    earlyStopping: 0,
    minDelta: 0,
    keep: 'last',
    threads: coreCount(),
    seed: 1,
    kernels: 'auto',
    maxRetries: 3,
    stepTimeout: 60,
  };
}

/**
 * Fills defaults and checks every field and how they combine; throws a UsageError naming the
 * first bad one. A setting that does not apply (beta1 under sgd) is refused when it is
 * `explicit`: by default, when its value is not the default, so that a whole config (a job's
 * stored one, a library caller's `{ ...defaultConfig(), optimizer: 'adam' }`) passes, while
 * the CLI and the job API name every flag or field the user gave.
 */
export function resolveConfig(
  input: Partial<Record<keyof TrainConfig, unknown>>,
  explicit?: ReadonlySet<string>,
): TrainConfig {
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  const config = { ...defaults };
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const spec = (CONFIG_FIELDS as Record<string, FieldSpec>)[key];
    if (!spec) throw new UsageError(`unknown setting '${key}'`, key);
    config[key] = checkField(key, spec, value);
  }
  const resolved = config as unknown as TrainConfig;
  if (input.keep === undefined && resolved.validationSplit > 0) resolved.keep = 'best';
  const changed = Object.keys(input).filter(
    (k) =>
      input[k as keyof TrainConfig] !== undefined &&
      JSON.stringify(config[k]) !== JSON.stringify(defaults[k]),
  );
  checkCombinations(resolved, explicit ?? new Set(changed));
  return resolved;
}

/** The settings of a CSV dataset; each means nothing for images. */
export const CSV_FIELDS = ['target', 'task', 'ignore', 'testData', 'testSplit', 'standardize'] as const;

/** Whether the run's data is a CSV file. */
export const isCsv = (c: { readonly data: string }): boolean => c.data.startsWith('csv:');

function checkCsv(c: TrainConfig, explicit: ReadonlySet<string>): void {
  if (!isCsv(c)) {
    const given = CSV_FIELDS.find((k) => explicit.has(k));
    if (given)
      throw new UsageError((name) => `${name(given)} applies to csv: data; this run's is ${c.data}`, given);
    return;
  }
  if (c.target.length === 0)
    throw new UsageError((name) => `${name('data')} ${c.data} needs ${name('target')} COLUMN`, 'target');
  if (c.testData !== '' && explicit.has('testSplit'))
    throw new UsageError((name) => `give ${name('testData')} or ${name('testSplit')}, not both`, 'testSplit');
  if (c.testData !== '' && !isCsv({ data: c.testData }))
    throw new UsageError((name) => `${name('testData')} must be csv:FILE, got '${c.testData}'`, 'testData');
}

/** Settings that only mean something beside others: given without them, a usage error. */
function checkCombinations(c: TrainConfig, explicit: ReadonlySet<string>): void {
  checkCsv(c, explicit);
  const fields = CONFIG_FIELDS as Record<string, FieldSpec>;
  const values = c as unknown as Record<string, unknown>;
  for (const key of explicit) {
    const when = fields[key]?.appliesWhen;
    if (when && !when.values.includes(String(values[when.field]))) {
      throw new UsageError(
        (name) =>
          `${name(key)} applies to ${name(when.field)} ${when.values.join(', ')}; this run's is ${String(values[when.field])}`,
        key,
      );
    }
  }
  if (c.optimizer === 'sgd' && c.nesterov && c.momentum === 0)
    throw new UsageError((name) => `${name('nesterov')} needs ${name('momentum')} > 0`, 'nesterov');
  if (explicit.has('warmupStartFactor') && c.warmupSteps === 0 && c.warmupEpochs === 0)
    throw new UsageError(
      (name) => `${name('warmupStartFactor')} applies with ${name('warmupSteps')} or ${name('warmupEpochs')}`,
      'warmupStartFactor',
    );
  if (c.warmupSteps > 0 && c.warmupEpochs > 0)
    throw new UsageError(
      (name) => `give ${name('warmupSteps')} or ${name('warmupEpochs')}, not both`,
      'warmupEpochs',
    );
  const validating = c.validationSplit > 0;
  const needsValidation = (key: string, what: string) => {
    throw new UsageError(
      (name) => `${name(key)} ${what} needs a validation split: add ${name('validationSplit')} (e.g. 0.1)`,
      key,
    );
  };
  if (c.earlyStopping > 0 && !validating) needsValidation('earlyStopping', String(c.earlyStopping));
  if (explicit.has('keep') && c.keep === 'best' && !validating) needsValidation('keep', 'best');
  if (explicit.has('minDelta') && c.earlyStopping === 0 && !(validating && c.keep === 'best'))
    throw new UsageError(
      (name) => `${name('minDelta')} applies with ${name('earlyStopping')} or ${name('keep')} best`,
      'minDelta',
    );
}

/** The warm-up in steps, for `stepsPerEpoch` steps an epoch. */
export function warmupSteps(
  c: { readonly warmupSteps?: number; readonly warmupEpochs?: number },
  stepsPerEpoch: number,
): number {
  return c.warmupSteps || (c.warmupEpochs ?? 0) * stepsPerEpoch;
}

function checkField(field: string, spec: FieldSpec, value: unknown): unknown {
  switch (spec.kind) {
    case 'string':
      // empty only where empty is the default's meaning (testData: none)
      if (
        typeof value !== 'string' ||
        (value === '' && (defaultConfig() as unknown as Record<string, unknown>)[field] !== '')
      )
        throw new UsageError((name) => `${name(field)} must be a non-empty string`, field);
      return value;
    case 'stringList': {
      const items = typeof value === 'string' ? [value] : value;
      if (
        !Array.isArray(items) ||
        items.length > 4096 ||
        !items.every((v) => typeof v === 'string' && v !== '')
      )
        throw new UsageError((name) => `${name(field)} must be column names`, field);
      return [...new Set(items)].length === items.length ? items : duplicate(field, items);
    }
    case 'choice':
      if (typeof value !== 'string' || !spec.choices?.includes(value)) {
        throw new UsageError(
          (name) => `${name(field)} must be one of ${spec.choices?.join(', ')}, got '${String(value)}'`,
          field,
        );
      }
      return value;
    case 'intList': {
      const items = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
      if (!Array.isArray(items) || items.length === 0)
        throw new UsageError((name) => `${name(field)} must be a list like 256,128`, field);
      return items.map((item) => checkNumber(field, item, spec, true));
    }
    case 'boolean':
      if (value === true || value === 'true') return true;
      if (value === false || value === 'false') return false;
      throw new UsageError((name) => `${name(field)} must be true or false, got '${String(value)}'`, field);
    case 'int':
      return checkNumber(field, value, spec, true);
    case 'number':
      return checkNumber(field, value, spec, false);
  }
}

function duplicate(field: string, items: readonly string[]): never {
  const twice = items.find((v, i) => items.indexOf(v) !== i);
  throw new UsageError((name) => `${name(field)} names '${twice}' twice`, field);
}
