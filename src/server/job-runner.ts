import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { TrainConfig } from '../train/config.js';
import { saveTrainedModel } from '../train/save-result.js';
import type { JobExecutor } from './job-executor.js';
import { ProgressThrottle, STORE_PROGRESS_MS, stopJob } from './job-states.js';
import type { JobStore } from './job-store.js';
import { DatasetCache, finalProgress, jobOutcome, runTrainingJob } from './training-job.js';

// Runs queued jobs in this process, `concurrency` at a time, with the library's train(): the
// same code and bytes as `gradpool train`. Each job checkpoints as it goes, so a server killed
// mid-job resumes it on restart and it ends with the model it would have had.

export interface RunnerOptions {
  concurrency: number;
  /** checkpoint every N steps (and at each epoch end) */
  checkpointEvery: number;
  /** the server's parameter cap, applied again once a CSV job's file is read */
  maxParams?: number;
}

export class JobRunner implements JobExecutor {
  readonly events = new EventEmitter();
  private readonly running = new Map<string, AbortController>();
  private accepting = true;
  private readonly datasets = new DatasetCache();

  constructor(
    private readonly store: JobStore,
    private readonly options: RunnerOptions,
  ) {
    this.events.setMaxListeners(0);
  }

  async submitted(): Promise<void> {
    this.kick();
  }

  /** Starts queued jobs while there is room; call at start and whenever a job is created or ends. */
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

  async cancel(id: string): Promise<void> {
    if (this.store.cancelQueued(id)) {
      this.events.emit(`job:${id}`, { state: 'cancelled' });
      return;
    }
    const running = this.running.get(id);
    if (running) stopJob(running, 'cancelled');
  }

  async shutdown(): Promise<void> {
    this.accepting = false;
    const waits = [...this.running.keys()].map(
      (id) => new Promise((resolve) => this.events.once(`end:${id}`, resolve)),
    );
    for (const c of this.running.values()) stopJob(c, 'shutdown');
    await Promise.all(waits);
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  private async run(id: string, config: Partial<TrainConfig>, signal: AbortSignal): Promise<void> {
    const dir = this.store.jobDir(id);
    const emit = (payload: Record<string, unknown>) => this.events.emit(`job:${id}`, payload);
    const throttle = new ProgressThrottle(STORE_PROGRESS_MS);
    try {
      const result = await runTrainingJob({
        config,
        datasets: this.datasets,
        checkpointPath: join(dir, 'checkpoint.safetensors'),
        checkpointEvery: this.options.checkpointEvery,
        maxParams: this.options.maxParams,
        signal,
        onUpdate: ({ progress, epoch, metrics }) => {
          if (throttle.due(Boolean(epoch))) this.store.setProgress(id, progress, epoch ? metrics : undefined);
          emit(epoch ? { state: 'running', progress, metrics: epoch } : { state: 'running', progress });
        },
      });
      saveTrainedModel(join(dir, 'model.safetensors'), result);
      this.store.setProgress(id, finalProgress(result), result.metrics);
      this.store.finish(id, 'succeeded');
      emit({ state: 'succeeded' });
    } catch (e) {
      const outcome = jobOutcome(e, signal);
      if ('failed' in outcome) {
        this.store.finish(id, 'failed', outcome.failed);
        emit({ state: 'failed', error: outcome.failed });
      } else if (outcome.stopped === 'cancelled') {
        this.store.finish(id, 'cancelled');
        emit({ state: 'cancelled' });
      }
      // on shutdown the job stays 'running' in the store and is requeued at the next start
    } finally {
      this.events.emit(`end:${id}`);
    }
  }
}
