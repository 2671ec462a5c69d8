import { UsageError } from '../errors.js';
import { coreCount } from '../machine.js';
import { ACTIVATIONS, type Activation } from '../nn/layout.js';
import { checkNumber, type Range } from './numbers.js';

// One definition of a training job's settings, used by the CLI flags (kebab-case) and the
// job server (camelCase JSON). Validation happens once, here, with messages that name the
// setting as the reader gave it (see errors.ts: a field here and over HTTP, a flag in the CLI).

/** auto and wasm pick the fastest build here; the others name one build (see src/train/kernels.ts) */
export type KernelChoice = 'auto' | 'wasm' | 'wasm-simd' | 'wasm-relaxed-simd' | 'js';
export const KERNEL_CHOICES: readonly KernelChoice[] = [
  'auto',
  'wasm',
  'wasm-simd',
  'wasm-relaxed-simd',
  'js',
];

export interface TrainConfig {
  data: string;
  hidden: number[];
  activation: Activation;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  threads: number;
  seed: number;
  kernels: KernelChoice;
  /** reruns of a failed step (on fresh threads) before training stops */
  maxRetries: number;
  /** seconds a step may take before its threads are called stuck and replaced */
  stepTimeout: number;
}

export interface FieldSpec extends Range {
  /** the CLI flag: the field in kebab-case */
  readonly flag: string;
  readonly describe: string;
  readonly kind: 'string' | 'int' | 'number' | 'intList' | 'choice';
  readonly choices?: readonly string[];
}

export const CONFIG_FIELDS: { readonly [K in keyof TrainConfig]: FieldSpec } = {
  data: { flag: 'data', kind: 'string', describe: 'dataset: mnist | fashion-mnist | idx:DIR' },
  hidden: {
    flag: 'hidden',
    kind: 'intList',
    min: 1,
    max: 65536,
    describe: 'hidden layer sizes, e.g. 256,128',
  },
  activation: { flag: 'activation', kind: 'choice', choices: ACTIVATIONS, describe: 'hidden activation' },
  epochs: { flag: 'epochs', kind: 'int', min: 1, max: 100_000, describe: 'passes over the training data' },
  batchSize: { flag: 'batch-size', kind: 'int', min: 1, max: 65536, describe: 'rows per SGD step' },
  lr: { flag: 'lr', kind: 'number', min: 0, above: true, max: 1e6, describe: 'learning rate' },
  momentum: {
    flag: 'momentum',
    kind: 'number',
    min: 0,
    max: 1,
    below: true,
    describe: 'SGD momentum (0 ≤ μ < 1)',
  },
  weightDecay: { flag: 'weight-decay', kind: 'number', min: 0, max: 1, describe: 'L2 weight decay' },
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
    describe: 'seed for initialisation and shuffling',
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
};

/** Defaults chosen so `gradpool train` on mnist passes 95 % test accuracy in well under a minute on 2 cores. */
export function defaultConfig(): TrainConfig {
  return {
    data: 'mnist',
    hidden: [256, 128],
    activation: 'relu',
    epochs: 10,
    batchSize: 128,
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 0,
    threads: coreCount(),
    seed: 1,
    kernels: 'auto',
    maxRetries: 3,
    stepTimeout: 60,
  };
}

/** Fills defaults and checks every field; throws a UsageError naming the first bad one. */
export function resolveConfig(input: Partial<Record<keyof TrainConfig, unknown>>): TrainConfig {
  const config = defaultConfig() as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const spec = (CONFIG_FIELDS as Record<string, FieldSpec>)[key];
    if (!spec) throw new UsageError(`unknown setting '${key}'`, key);
    config[key] = checkField(key, spec, value);
  }
  return config as unknown as TrainConfig;
}

function checkField(field: string, spec: FieldSpec, value: unknown): unknown {
  switch (spec.kind) {
    case 'string':
      if (typeof value !== 'string' || value === '')
        throw new UsageError((name) => `${name(field)} must be a non-empty string`, field);
      return value;
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
    case 'int':
      return checkNumber(field, value, spec, true);
    case 'number':
      return checkNumber(field, value, spec, false);
  }
}
