import type { DataShape } from '../data/shape.js';
import { LOSS_OF } from '../data/task.js';
import { validationCount } from '../data/validation-split.js';
import { UsageError } from '../errors.js';
import { type ArenaPlan, ArenaTooLarge, arenaPlan } from '../nn/arena.js';
import {
  type Activation,
  type Loss,
  type NetworkLayout,
  networkLayout,
  parameterCount,
} from '../nn/layout.js';
import { type OptimizerName, optimizerNamed } from '../nn/optim/index.js';
import { warmupSteps } from './config.js';
import { EVAL_ROWS } from './control.js';

// "Can this run?": turning settings and a dataset's shape into a network and its memory,
// with errors a user can act on, each naming the settings to change. One check, before
// anything slow starts, for train, bench and the server's POST /jobs.

/** The settings that decide whether a run fits the data and the machine. */
export interface RunSettings {
  readonly hidden: readonly number[];
  readonly activation: Activation;
  readonly batchSize: number;
  readonly threads: number;
  /** decides the optimizer state the arena holds (default sgd) */
  readonly optimizer?: OptimizerName;
  /** > 0 adds the dropout masks to the batch's buffers */
  readonly dropout?: number;
  /** the share of the training rows held out to validate */
  readonly validationSplit?: number;
  /** with the warm-up, to check it ends within the run */
  readonly epochs?: number;
  readonly warmupSteps?: number;
  readonly warmupEpochs?: number;
}

/** What the arena holds beyond parameters and the batch: the optimizer's state, dropout's masks. */
export interface ArenaExtras {
  readonly optimizer?: OptimizerName;
  readonly dropout?: number;
}

export interface RunPlan {
  readonly net: NetworkLayout;
  readonly plan: ArenaPlan;
}

/**
 * The network and shared memory for training `settings` on data of `shape`, or a UsageError
 * naming the settings that make it impossible: a batch larger than the training rows, more
 * parameters than `maxParams` (a server's cap) or than the layout's limit, working memory past
 * WebAssembly's 4 GiB.
 */
export function checkRunnable(shape: DataShape, settings: RunSettings, maxParams?: number): RunPlan {
  const { batchSize, hidden } = settings;
  if (shape.trainRows !== null) checkRows(shape.trainRows, settings);
  const sizes = [shape.features, ...hidden, shape.outputs];
  const params = parameterCount(sizes);
  if (maxParams !== undefined && params > maxParams) {
    throw new UsageError(
      (name) =>
        `${name('hidden')} ${hidden.join(',')}: the model has ${params} parameters; the server's limit is ${maxParams}`,
      'hidden',
    );
  }
  const net = networkFor(shape.features, hidden, shape.outputs, settings.activation, LOSS_OF[shape.task]);
  return { net, plan: planArena(net, batchSize, settings.threads, settings) };
}

/** The training rows a split leaves, against the batch, and the warm-up against the run's steps. */
function checkRows(rows: number, settings: RunSettings): void {
  const { batchSize } = settings;
  const fraction = settings.validationSplit ?? 0;
  const held = validationCount(rows, fraction);
  if (fraction > 0 && held < 1)
    throw new UsageError(
      (name) => `${name('validationSplit')} ${fraction} of ${rows} training rows holds out none`,
      'validationSplit',
    );
  const left = rows - held;
  if (batchSize > left) {
    throw new UsageError(
      (name) =>
        fraction > 0 && batchSize <= rows
          ? `${name('validationSplit')} ${fraction} leaves ${left} training rows, fewer than a ${name('batchSize')} of ${batchSize}`
          : `${name('batchSize')} ${batchSize} is larger than the ${rows} training rows`,
      fraction > 0 && batchSize <= rows ? 'validationSplit' : 'batchSize',
    );
  }
  const stepsPerEpoch = Math.ceil(left / batchSize);
  const total = (settings.epochs ?? 1) * stepsPerEpoch;
  const warmup = warmupSteps(settings, stepsPerEpoch);
  if (settings.epochs !== undefined && warmup >= total) {
    const field = settings.warmupSteps ? 'warmupSteps' : 'warmupEpochs';
    throw new UsageError(
      (name) =>
        `${name(field)}: a warm-up of ${warmup} steps does not end within the run's ${total} (${settings.epochs} epochs of ${stepsPerEpoch})`,
      field,
    );
  }
}

/** The layout of features → hidden → outputs, or a UsageError naming hidden. */
export function networkFor(
  features: number,
  hidden: readonly number[],
  outputs: number,
  activation: Activation,
  loss: Loss = 'cross-entropy',
): NetworkLayout {
  try {
    return networkLayout([features, ...hidden, outputs], activation, loss);
  } catch (e) {
    throw new UsageError(
      (name) => `${name('hidden')} ${hidden.join(',')}: ${(e as Error).message}`,
      'hidden',
    );
  }
}

/**
 * The shared memory layout for training `net` in batches of `batchRows` on `threads` threads,
 * or a UsageError naming the settings that make it too large (batch activations and each
 * thread's kernel scratch grow with the batch; parameters with the layer sizes).
 */
export function planArena(
  net: NetworkLayout,
  batchRows: number,
  threads: number,
  extras: ArenaExtras = {},
): ArenaPlan {
  const stateBuffers = optimizerNamed(extras.optimizer ?? 'sgd').state.length;
  try {
    return arenaPlan(net, batchRows, threads, EVAL_ROWS, stateBuffers, (extras.dropout ?? 0) > 0);
  } catch (e) {
    if (!(e instanceof ArenaTooLarge)) throw e;
    throw new UsageError(
      (name) =>
        `${net.sizes.join('-')} in batches of ${batchRows} rows on ${threads} thread${threads === 1 ? '' : 's'} ${e.message}: lower ${name('batchSize')}, ${name('hidden')} or ${name('threads')}`,
      'batchSize',
    );
  }
}
