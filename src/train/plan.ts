import { UsageError } from '../errors.js';
import { type ArenaPlan, ArenaTooLarge, arenaPlan } from '../nn/arena.js';
import { type Activation, type NetworkLayout, networkLayout } from '../nn/layout.js';
import { EVAL_ROWS } from './control.js';

// Turning settings into a network and its memory, with the errors a user can act on: each
// names the flags to change. Checked before anything slow starts.

/** The layout of features → hidden → classes, or a UsageError naming --hidden. */
export function networkFor(
  features: number,
  hidden: readonly number[],
  classes: number,
  activation: Activation,
): NetworkLayout {
  try {
    return networkLayout([features, ...hidden, classes], activation);
  } catch (e) {
    throw new UsageError(`--hidden ${hidden.join(',')}: ${(e as Error).message}`);
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
  /** what the settings are called where the error is read: CLI flags, or a job's fields */
  names = '--batch-size, --hidden or --threads',
): ArenaPlan {
  try {
    return arenaPlan(net, batchRows, threads, EVAL_ROWS);
  } catch (e) {
    if (!(e instanceof ArenaTooLarge)) throw e;
    throw new UsageError(
      `${net.sizes.join('-')} in batches of ${batchRows} rows on ${threads} thread${threads === 1 ? '' : 's'} ${e.message}: lower ${names}`,
    );
  }
}
