import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { checkWritableTarget } from '../io/paths.js';
import { checkWholeNumber } from './numbers.js';
import type { CheckpointOptions } from './run-checkpoints.js';

// Where a training run writes: the model, and its checkpoints. Checked before anything runs,
// so a typo fails at once and a run can never write its model over its own state.

export interface OutputRequest {
  /** the model file */
  out: unknown;
  /** a checkpoint at every epoch's end (and every checkpointEvery steps) */
  checkpoint?: unknown;
  checkpointEvery?: unknown;
  /** the checkpoint being resumed, if any */
  resume?: unknown;
}

export interface Outputs {
  out: string;
  /** where state goes: the asked-for checkpoint, or, for an interruption only, beside the model */
  checkpoint: CheckpointOptions;
}

export function planOutputs(r: OutputRequest): Outputs {
  if (typeof r.out !== 'string' || r.out === '')
    throw new UsageError((name) => `${name('out')} must name a file`, 'out');
  const out = r.out;
  checkWritableTarget(out, 'out');
  const every =
    r.checkpointEvery === undefined ? 0 : checkWholeNumber('checkpointEvery', r.checkpointEvery, 1, 1e9);
  const asked = r.checkpoint === undefined || r.checkpoint === '' ? null : String(r.checkpoint);
  if (every && !asked)
    throw new UsageError(
      (name) => `${name('checkpointEvery')} needs ${name('checkpoint')} FILE`,
      'checkpointEvery',
    );
  const path = asked ?? defaultCheckpointPath(out);
  checkWritableTarget(path, 'checkpoint');
  // the model is written last, over whatever is there: never over the run's own state
  if (resolve(path) === resolve(out))
    throw new UsageError(
      (name) =>
        `${name('out')} and ${name('checkpoint')} name the same file, ${out}: the model would replace the checkpoint`,
      'out',
    );
  if (r.resume !== undefined && resolve(String(r.resume)) === resolve(out))
    throw new UsageError(
      (name) => `${name('out')} ${out} is the checkpoint being resumed: the model would replace it`,
      'out',
    );
  return { out, checkpoint: { path, everySteps: every, atEpochEnd: asked !== null } };
}

/** Where an interrupted run without a checkpoint file saves its state: beside the model file. */
export function defaultCheckpointPath(out: string): string {
  return join(dirname(out), `${basename(out).replace(/\.safetensors$/, '')}.checkpoint.safetensors`);
}
