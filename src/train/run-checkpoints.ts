import { TrainingError } from '../errors.js';
import { type Checkpoint, saveCheckpoint } from '../io/checkpoint.js';

// Writing a run's checkpoints: when they are due (every N steps, at epoch ends, on an
// interrupt) and what goes in them. A checkpoint must stay loadable and finite: a non-finite
// weight is divergence, not a state to save.

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

export class RunCheckpoints {
  constructor(
    private readonly options: CheckpointOptions | undefined,
    /** the run's state after `globalStep` steps (counted from the first epoch), to be written */
    private readonly snapshot: (globalStep: number) => Checkpoint,
    private readonly lr: number,
  ) {}

  /** Whether a checkpoint from earlier in the run may exist (to tell the user it is intact). */
  get periodic(): boolean {
    return Boolean(this.options?.atEpochEnd || this.options?.everySteps);
  }

  get path(): string | null {
    return this.options?.path ?? null;
  }

  /** Steps that may run before the next every-N-steps checkpoint (Infinity: none due). */
  stepsUntilDue(globalStep: number): number {
    const every = this.options?.everySteps;
    return every ? every - (globalStep % every) : Number.POSITIVE_INFINITY;
  }

  /** After `globalStep` steps: writes the every-N-steps checkpoint if it is due. */
  afterSteps(globalStep: number): void {
    const every = this.options?.everySteps;
    if (every && globalStep % every === 0) this.save(globalStep);
  }

  /** At an epoch's end (after `globalStep` steps), if asked for. */
  atEpochEnd(globalStep: number): void {
    if (this.options?.atEpochEnd) this.save(globalStep);
  }

  /** Writes the run's state after `globalStep` steps; returns where, or null when none was asked for. */
  save(globalStep: number): string | null {
    const o = this.options;
    if (!o) return null;
    const c = this.snapshot(globalStep);
    assertFinite(c, this.lr);
    saveCheckpoint(o.path, c);
    o.onSaved?.(o.path);
    return o.path;
  }
}

function assertFinite(c: Checkpoint, lr: number): void {
  for (const a of [c.model.params, ...c.optimizerState]) {
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) {
        throw new TrainingError(
          (name) =>
            `training diverged by epoch ${c.state.epoch}, step ${c.state.step}: a weight is ${a[i]}; try a lower ${name('lr')} (now ${lr})`,
        );
      }
    }
  }
}
