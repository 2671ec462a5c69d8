import { TrainingError } from '../errors.js';
import type { TrainConfig } from './config.js';
import { MAX_STEPS } from './control.js';
import { CommandFailed, type StepPool, type StepStats } from './pool.js';
import type { EpochSums } from './prepare.js';
import type { RunCheckpoints } from './run-checkpoints.js';
import type { TrainEvent } from './trainer.js';

// Running one epoch's steps: sized into commands, with progress, checkpoints and stops
// handled between commands. The coordinator's loop, apart from what starts and ends a run.

/** Target duration of one training command, so progress and signals are seen at least this often. */
export const COMMAND_MS = 50;

export interface CommandLimits {
  /** steps left in the epoch */
  stepsLeft: number;
  /** the last command's mean step time, ms */
  stepMs: number;
  /** steps until a checkpoint is due (Infinity: none) */
  untilCheckpoint: number;
  /** steps until a requested stop (Infinity: none) */
  untilStop: number;
  /** steps of the batch's full size left from here: the epoch's short last step runs alone */
  fullSteps: number;
}

/**
 * Steps for the next command: cut where the loop must act (a checkpoint, a requested stop,
 * the epoch's short last step) and about every COMMAND_MS, so progress and signals are seen
 * in time. At least one.
 */
export function commandSize(o: CommandLimits): number {
  return Math.max(
    1,
    Math.min(
      MAX_STEPS,
      o.stepsLeft,
      Math.floor(COMMAND_MS / o.stepMs),
      o.untilCheckpoint,
      o.untilStop,
      o.fullSteps,
    ),
  );
}

export interface EpochRunnerOptions {
  pool: StepPool;
  config: TrainConfig;
  stepsPerEpoch: number;
  checkpoints: RunCheckpoints;
  emit: (event: TrainEvent) => void;
  /** minimum ms between 'step' events */
  progressIntervalMs: number;
  signal?: AbortSignal;
  /** stop as if interrupted once this many steps of the run are applied */
  stopAfterStep?: number;
  /** stops the run at (epoch, step in epoch) with the epoch's sums so far; never returns */
  interrupt: (epoch: number, step: number, sums: EpochSums) => never;
}

export class EpochRunner {
  private stepMs = COMMAND_MS;
  private lastYield = performance.now();
  private readonly stats: StepStats[] = Array.from({ length: MAX_STEPS }, () => ({ loss: 0, correct: 0 }));

  constructor(
    private readonly o: EpochRunnerOptions,
    /** the run's steps applied so far, counted from the first epoch */
    public globalStep: number,
  ) {}

  /**
   * Runs `epoch` from step `first` (its permutation already in the pool), adding to `sums`.
   * Returns the rows trained here (not counting steps before `first`).
   */
  async run(epoch: number, first: number, sums: EpochSums): Promise<number> {
    const { pool, config, stepsPerEpoch, checkpoints, signal } = this.o;
    const N = pool.trainRows;
    const started = performance.now();
    let trained = 0;
    for (let s = first; s < stepsPerEpoch; ) {
      const at = s * config.batchSize;
      const rows = Math.min(config.batchSize, N - at);
      const count = commandSize({
        stepsLeft: stepsPerEpoch - s,
        stepMs: this.stepMs,
        untilCheckpoint: checkpoints.stepsUntilDue(this.globalStep),
        untilStop: (this.o.stopAfterStep ?? Number.POSITIVE_INFINITY) - this.globalStep,
        fullSteps: Math.floor((N - at) / rows),
      });
      const t0 = performance.now();
      try {
        await pool.trainSteps(at, rows, count, this.stats, this.globalStep);
      } catch (e) {
        if (!(e instanceof CommandFailed)) throw e;
        const kept = checkpoints.periodic ? `; the last checkpoint in ${checkpoints.path} is intact` : '';
        throw new TrainingError(`epoch ${epoch}, step ${s + e.committed + 1}: ${e.message}${kept}`);
      }
      this.stepMs = (performance.now() - t0) / count;
      for (let i = 0; i < count; i++) {
        const step = this.stats[i];
        if (!Number.isFinite(step.loss)) {
          throw new TrainingError(
            (name) =>
              `training diverged at epoch ${epoch}, step ${s + 1}: the loss is ${step.loss}; try a lower ${name('lr')} (now ${config.lr})`,
          );
        }
        sums.loss += step.loss;
        sums.correct += step.correct;
        sums.seen += rows;
        trained += rows;
        this.globalStep++;
        s++;
      }
      checkpoints.afterSteps(this.globalStep);
      if (this.o.stopAfterStep !== undefined && this.globalStep >= this.o.stopAfterStep)
        this.o.interrupt(epoch, s, sums);
      const now = performance.now();
      if (now - this.lastYield >= this.o.progressIntervalMs) {
        this.o.emit({
          type: 'step',
          epoch,
          step: s,
          stepsPerEpoch,
          loss: sums.loss / sums.seen,
          accuracy: sums.correct / sums.seen,
          samplesPerSec: (trained * 1000) / (now - started),
        });
        await this.yieldNow();
        if (signal?.aborted && s < stepsPerEpoch) this.o.interrupt(epoch, s, sums);
      }
    }
    return trained;
  }

  /**
   * Steps block this thread; yielding regularly (across epochs, however short they are) lets
   * timers, I/O and signal handlers run.
   */
  async yieldNow(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.lastYield = performance.now();
  }
}
