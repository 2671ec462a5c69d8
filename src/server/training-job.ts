import { existsSync } from 'node:fs';
import { type Dataset, loadDataset } from '../data/dataset.js';
import { GradpoolError } from '../errors.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { isCsv, type TrainConfig } from '../train/config.js';
import { type EpochMetrics, TrainingInterrupted, type TrainResult, train } from '../train/trainer.js';
import { type StopReason, stopReason } from './job-states.js';

// One job's training, the same wherever it runs (the server's own runner, a queue worker):
// resume from the job's checkpoint if there is one, checkpoint as it goes, report progress.

/** What a job reports as it trains; the API's `progress`, plus the epoch row when one ends. */
export interface JobUpdate {
  progress: Record<string, unknown>;
  /** set when an epoch has just ended */
  epoch?: EpochMetrics;
  /** every completed epoch so far, resumed ones included */
  metrics: EpochMetrics[];
}

/** Image datasets by spec, loaded once and shared by every job of the process (they are read-only). */
export class DatasetCache {
  private readonly loaded = new Map<string, Promise<Dataset>>();

  get(spec: string): Promise<Dataset> {
    let dataset = this.loaded.get(spec);
    if (!dataset) {
      dataset = loadDataset(spec);
      this.loaded.set(spec, dataset);
      dataset.catch(() => this.loaded.delete(spec));
    }
    return dataset;
  }
}

export interface TrainingJob {
  config: Partial<TrainConfig>;
  datasets: DatasetCache;
  /** the job's checkpoint: resumed from when it exists, written every `checkpointEvery` steps */
  checkpointPath: string;
  checkpointEvery: number;
  signal: AbortSignal;
  onUpdate: (update: JobUpdate) => void;
  onCheckpoint?: (path: string) => void;
  /** called before training when the job continues from its checkpoint */
  onResume?: (from: { epoch: number; step: number }) => void;
  /** the server's parameter cap, for datasets whose shape is known only once loaded (CSV) */
  maxParams?: number;
}

export async function runTrainingJob(job: TrainingJob): Promise<TrainResult> {
  const resume = existsSync(job.checkpointPath) ? loadCheckpoint(job.checkpointPath) : undefined;
  if (resume) job.onResume?.({ epoch: resume.state.epoch, step: resume.state.step });
  const metrics: EpochMetrics[] = resume ? [...(resume.state.metrics as EpochMetrics[])] : [];
  const spec = String(resume?.config.data ?? job.config.data ?? 'mnist');
  return train(job.config, {
    // a CSV file is read with the job's own settings (target, task, split), which the run
    // resolves with the checkpoint's: it loads it itself; image sets are shared by every job
    dataset: isCsv({ data: spec }) ? undefined : await job.datasets.get(spec),
    signal: job.signal,
    resume,
    maxParams: job.maxParams,
    checkpoint: {
      path: job.checkpointPath,
      everySteps: job.checkpointEvery,
      atEpochEnd: true,
      onSaved: job.onCheckpoint,
    },
    onProgress: (e) => {
      if (e.type === 'step') {
        job.onUpdate({
          progress: {
            epoch: e.epoch,
            step: e.step,
            stepsPerEpoch: e.stepsPerEpoch,
            loss: e.loss,
            samplesPerSec: e.samplesPerSec,
          },
          metrics,
        });
      } else if (e.type === 'epoch') {
        const { type: _, ...m } = e;
        metrics.push(m);
        job.onUpdate({
          progress: {
            epoch: e.epoch,
            step: 0,
            samplesPerSec: e.samplesPerSec,
            ...(e.testAccuracy === undefined
              ? { testRmse: e.testRmse, testMae: e.testMae, testR2: e.testR2 }
              : { testAccuracy: e.testAccuracy }),
            ...(e.valLoss === undefined
              ? {}
              : {
                  valLoss: e.valLoss,
                  ...(e.valRmse === undefined ? { valAccuracy: e.valAccuracy } : { valRmse: e.valRmse }),
                }),
          },
          epoch: m,
          metrics,
        });
      }
    },
  });
}

/** A finished job's progress: where it ended, which epoch its model is and why it stopped. */
export function finalProgress(result: TrainResult): Record<string, unknown> {
  const { lastEpoch, keptEpoch, stopped } = result.outcome;
  return { epoch: lastEpoch, step: 0, keptEpoch, stopped };
}

/** How a job that threw ended: stopped on request (cancelled, or for a shutdown), or failed. */
export function jobOutcome(e: unknown, signal: AbortSignal): { stopped: StopReason } | { failed: string } {
  const reason = stopReason(signal);
  if (e instanceof TrainingInterrupted && reason) return { stopped: reason };
  return {
    failed: e instanceof GradpoolError ? e.message : `internal error: ${(e as Error)?.message ?? e}`,
  };
}
