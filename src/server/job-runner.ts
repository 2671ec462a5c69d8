import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Dataset, loadDataset } from '../data/dataset.js';
import { GradpoolError } from '../errors.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import type { TrainConfig } from '../train/config.js';
import { saveTrainedModel } from '../train/save-result.js';
import { type EpochMetrics, TrainingInterrupted, train } from '../train/trainer.js';
import type { JobStore } from './job-store.js';

// Runs queued jobs, `concurrency` at a time, with the library's train(): the same code and
// bytes as `gradpool train`. Each job checkpoints as it goes, so a server killed mid-job
// resumes it on restart and it ends with the model it would have had.

export interface RunnerOptions {
  concurrency: number;
  /** checkpoint every N steps (and at each epoch end) */
  checkpointEvery: number;
}

export class JobRunner {
  /** emits `job:<id>` with {state, progress?, metrics?} as jobs move */
  readonly events = new EventEmitter();
  private readonly running = new Map<string, AbortController>();
  private accepting = true;
  /** datasets by spec, loaded once and shared by every job (they are read-only) */
  private readonly datasets = new Map<string, Promise<Dataset>>();

  constructor(
    private readonly store: JobStore,
    private readonly options: RunnerOptions,
  ) {
    this.events.setMaxListeners(0);
  }

  /** Looks for queued jobs; call after a job is created or finishes. */
  kick(): void {
    if (!this.accepting) return;
    while (this.running.size < this.options.concurrency) {
      const job = this.store.claimNext();
      if (!job) return;
      const stop = new AbortController();
      this.running.set(job.id, stop);
      this.events.emit(`job:${job.id}`, { state: 'running' });
      void this.run(job.id, job.config as Partial<TrainConfig>, stop.signal).finally(() => {
        this.running.delete(job.id);
        this.kick();
      });
    }
  }

  /** Cancels a queued or running job; a running one stops after its current step, keeping its checkpoint. */
  cancel(id: string): boolean {
    if (this.store.cancelQueued(id)) {
      this.events.emit(`job:${id}`, { state: 'cancelled' });
      return true;
    }
    const running = this.running.get(id);
    if (!running) return false;
    running.abort(new Error('cancelled'));
    return true;
  }

  /** Stops taking jobs and stops running ones at their next step, leaving them queued with a checkpoint. */
  async shutdown(): Promise<void> {
    this.accepting = false;
    const waits = [...this.running.keys()].map(
      (id) => new Promise((resolve) => this.events.once(`end:${id}`, resolve)),
    );
    for (const c of this.running.values()) c.abort(new Error('shutdown'));
    await Promise.all(waits);
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  private async run(id: string, config: Partial<TrainConfig>, signal: AbortSignal): Promise<void> {
    const dir = this.store.jobDir(id);
    const checkpoint = join(dir, 'checkpoint.safetensors');
    const emit = (payload: Record<string, unknown>) => this.events.emit(`job:${id}`, payload);
    const metrics: EpochMetrics[] = [];
    try {
      const resume = existsSync(checkpoint) ? loadCheckpoint(checkpoint) : undefined;
      if (resume) metrics.push(...(resume.state.metrics as EpochMetrics[]));
      let lastSaved = 0;
      const spec = String(resume?.config.data ?? config.data ?? 'mnist');
      let dataset = this.datasets.get(spec);
      if (!dataset) {
        dataset = loadDataset(spec);
        this.datasets.set(spec, dataset);
        dataset.catch(() => this.datasets.delete(spec));
      }
      const result = await train(config, {
        dataset: await dataset,
        signal,
        resume,
        checkpoint: { path: checkpoint, everySteps: this.options.checkpointEvery, atEpochEnd: true },
        onProgress: (e) => {
          if (e.type === 'step') {
            const progress = {
              epoch: e.epoch,
              step: e.step,
              stepsPerEpoch: e.stepsPerEpoch,
              loss: e.loss,
              samplesPerSec: e.samplesPerSec,
            };
            // progress is advisory: write it to the database at most twice a second
            if (Date.now() - lastSaved > 500) {
              this.store.setProgress(id, progress);
              lastSaved = Date.now();
            }
            emit({ state: 'running', progress });
          } else if (e.type === 'epoch') {
            const { type: _, ...m } = e;
            metrics.push(m);
            const progress = {
              epoch: e.epoch,
              step: 0,
              samplesPerSec: e.samplesPerSec,
              testAccuracy: e.testAccuracy,
            };
            this.store.setProgress(id, progress, metrics);
            emit({ state: 'running', progress, metrics: m });
          }
        },
      });
      saveTrainedModel(join(dir, 'model.safetensors'), result);
      this.store.finish(id, 'succeeded');
      emit({ state: 'succeeded' });
    } catch (e) {
      if (e instanceof TrainingInterrupted) {
        const reason = signal.reason instanceof Error ? signal.reason.message : '';
        if (reason === 'cancelled') {
          this.store.finish(id, 'cancelled');
          emit({ state: 'cancelled' });
        }
        // on shutdown the job stays 'running' in the store and is requeued at the next start
      } else {
        const message =
          e instanceof GradpoolError ? e.message : `internal error: ${(e as Error)?.message ?? e}`;
        this.store.finish(id, 'failed', message);
        emit({ state: 'failed', error: message });
      }
    } finally {
      this.events.emit(`end:${id}`);
    }
  }
}
