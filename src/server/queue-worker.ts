import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { writeFileAtomic } from '../io/atomic-write.js';
import type { TrainConfig } from '../train/config.js';
import { saveTrainedModel } from '../train/save-result.js';
import { ProgressThrottle, QUEUE_PROGRESS_MS, stopJob, stopReason } from './job-states.js';
import {
  CANCELLED_REASON,
  type QueueJobData,
  type QueueJobResult,
  type QueueProgress,
  SharedJobFiles,
} from './redis-queue.js';
import { DatasetCache, finalProgress, jobOutcome, runTrainingJob } from './training-job.js';

// Takes jobs from the BullMQ queue and trains them with this machine's threads. The job's
// checkpoint goes to Redis after every save, so when this process dies BullMQ's stalled-job
// check hands the job to another worker, which resumes from that checkpoint; training is
// deterministic, so the model is the one an uninterrupted run would have made.

export interface QueueWorkerOptions {
  queueName: string;
  /** threads a job trains with here: all of them, or fewer if the job asks for fewer */
  threads: number;
  concurrency: number;
  checkpointEvery: number;
  /** how long a job stays ours without a lock renewal; also the interval of the stalled check */
  lockDurationMs: number;
  /** local scratch space for checkpoints and models while a job runs */
  workDir: string;
  log: (event: Record<string, unknown>) => void;
}

export class QueueWorker {
  private readonly worker: Worker<QueueJobData, QueueJobResult>;
  private readonly files: SharedJobFiles;
  private readonly running = new Map<string, AbortController>();
  private readonly datasets = new DatasetCache();
  private readonly name = `${hostname()}:${process.pid}`;

  private constructor(
    redis: Redis,
    private readonly subscriber: Redis,
    private readonly options: QueueWorkerOptions,
  ) {
    this.files = new SharedJobFiles(redis, options.queueName);
    this.worker = new Worker<QueueJobData, QueueJobResult>(
      options.queueName,
      (job, token) => this.process(job, token),
      {
        connection: redis,
        concurrency: options.concurrency,
        lockDuration: options.lockDurationMs,
        stalledInterval: options.lockDurationMs,
        // a job may lose its worker a few times (machines restarted, processes killed) and
        // still finish; each time it resumes from its checkpoint
        maxStalledCount: 5,
        autorun: false,
      },
    );
    this.worker.on('error', (e) => options.log({ event: 'error', error: e.message }));
  }

  static async start(redis: Redis, options: QueueWorkerOptions): Promise<QueueWorker> {
    const subscriber = redis.duplicate();
    const w = new QueueWorker(redis, subscriber, options);
    subscriber.on('message', (_channel: string, id: string) => {
      const running = w.running.get(id);
      if (running) stopJob(running, 'cancelled');
    });
    try {
      await subscriber.subscribe(w.files.cancelChannel);
      mkdirSync(options.workDir, { recursive: true });
      void w.worker.run();
      await w.worker.waitUntilReady();
    } catch (e) {
      // the subscriber and the Worker's blocking connection reconnect forever: close them
      await w.close().catch(() => {});
      throw e;
    }
    return w;
  }

  /** Stops taking jobs; running ones checkpoint, go back to the queue for any worker, and we return. */
  async close(): Promise<void> {
    for (const c of this.running.values()) stopJob(c, 'shutdown');
    await this.worker.close();
    await this.subscriber.quit();
  }

  private async process(job: Job<QueueJobData, QueueJobResult>, token?: string): Promise<QueueJobResult> {
    const id = job.id as string;
    const { log } = this.options;
    // registered before anything is awaited, so a cancel published from here on reaches this run
    const stop = new AbortController();
    this.running.set(id, stop);
    const dir = join(this.options.workDir, id);
    const checkpointPath = join(dir, 'checkpoint.safetensors');
    // uploads run one after another, so Redis always ends with the newest checkpoint
    let uploads = Promise.resolve();
    const throttle = new ProgressThrottle(QUEUE_PROGRESS_MS);
    try {
      if (await this.files.isCancelled(id)) stopJob(stop, 'cancelled');
      if (stopReason(stop.signal) === 'cancelled') {
        log({ event: 'finished', id, state: 'cancelled' });
        throw new UnrecoverableError(CANCELLED_REASON);
      }
      mkdirSync(dir, { recursive: true });
      rmSync(checkpointPath, { force: true });
      const saved = await this.files.checkpoint(id);
      if (saved) writeFileAtomic(checkpointPath, [saved]);
      // a job's own threads are honoured up to this worker's
      const asked = Number(job.data.config.threads ?? Number.POSITIVE_INFINITY);
      const threads = Math.min(asked, this.options.threads);
      log({ event: 'started', id, threads });
      // which machine runs the job, with how many threads, is part of what the API shows
      const where = { worker: this.name, threads };
      const result = await runTrainingJob({
        config: { ...(job.data.config as Partial<TrainConfig>), threads },
        // the cap of the server that accepted the job, for a CSV file read only now
        maxParams: job.data.maxParams,
        datasets: this.datasets,
        checkpointPath,
        checkpointEvery: this.options.checkpointEvery,
        signal: stop.signal,
        onResume: (from) => log({ event: 'resumed', id, ...from }),
        onCheckpoint: (path) => {
          const bytes = readFileSync(path);
          uploads = uploads
            .then(() => this.files.putCheckpoint(id, bytes))
            .then(() => log({ event: 'checkpoint', id, bytes: bytes.length }))
            .catch((e: Error) => log({ event: 'error', id, error: `checkpoint upload: ${e.message}` }));
        },
        onUpdate: ({ progress, epoch, metrics }) => {
          if (!throttle.due(Boolean(epoch))) return;
          const update: QueueProgress = { progress: { ...progress, ...where }, epoch, metrics };
          job.updateProgress(update as unknown as object).catch(() => {});
        },
      });
      const modelPath = join(dir, 'model.safetensors');
      saveTrainedModel(modelPath, result);
      await uploads;
      await this.files.putModel(id, readFileSync(modelPath));
      log({ event: 'finished', id, state: 'succeeded' });
      return { metrics: result.metrics, progress: { ...finalProgress(result), ...where }, worker: this.name };
    } catch (e) {
      if (e instanceof UnrecoverableError) throw e;
      await uploads;
      const outcome = jobOutcome(e, stop.signal);
      if ('failed' in outcome) {
        log({ event: 'finished', id, state: 'failed', error: outcome.failed });
        throw new UnrecoverableError(outcome.failed);
      }
      if (outcome.stopped === 'cancelled') {
        log({ event: 'finished', id, state: 'cancelled' });
        throw new UnrecoverableError(CANCELLED_REASON);
      }
      // shutting down: the job goes back to the queue, to resume from its checkpoint anywhere
      await job.moveToWait(token);
      log({ event: 'requeued', id });
      throw new WaitingError();
    } finally {
      this.running.delete(id);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
