import type { DataShape } from '../data/shape.js';
import { UsageError } from '../errors.js';
import { type ArenaPlan, ArenaTooLarge, arenaPlan } from '../nn/arena.js';
import { type Activation, type NetworkLayout, networkLayout, parameterCount } from '../nn/layout.js';
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
  if (shape.trainRows !== null && batchSize > shape.trainRows) {
    throw new UsageError(
      (name) => `${name('batchSize')} ${batchSize} is larger than the ${shape.trainRows} training rows`,
      'batchSize',
    );
  }
  const sizes = [shape.features, ...hidden, shape.classes];
  const params = parameterCount(sizes);
  if (maxParams !== undefined && params > maxParams) {
    throw new UsageError(
      (name) =>
        `${name('hidden')} ${hidden.join(',')}: the model has ${params} parameters; the server's limit is ${maxParams}`,
      'hidden',
    );
  }
  const net = networkFor(shape.features, hidden, shape.classes, settings.activation);
  return { net, plan: planArena(net, batchSize, settings.threads) };
}

/** The layout of features → hidden → classes, or a UsageError naming hidden. */
export function networkFor(
  features: number,
  hidden: readonly number[],
  classes: number,
  activation: Activation,
): NetworkLayout {
  try {
    return networkLayout([features, ...hidden, classes], activation);
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
export function planArena(net: NetworkLayout, batchRows: number, threads: number): ArenaPlan {
  try {
    return arenaPlan(net, batchRows, threads, EVAL_ROWS);
  } catch (e) {
    if (!(e instanceof ArenaTooLarge)) throw e;
    throw new UsageError(
      (name) =>
        `${net.sizes.join('-')} in batches of ${batchRows} rows on ${threads} thread${threads === 1 ? '' : 's'} ${e.message}: lower ${name('batchSize')}, ${name('hidden')} or ${name('threads')}`,
      'batchSize',
    );
  }
}
