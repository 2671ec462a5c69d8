import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { writeFileAtomic } from '../io/atomic-write.js';
import { modelFromSafetensors } from '../io/model-file.js';
import type { JobExecutor } from './job-executor.js';
import { isFinal, ProgressThrottle, STORE_PROGRESS_MS } from './job-states.js';
import type { JobStore } from './job-store.js';
import {
  CANCELLED_REASON,
  type QueueJobData,
  type QueueJobResult,
  type QueueProgress,
  SharedJobFiles,
} from './redis-queue.js';

// The server's side of `--queue`: jobs are accepted into the server's own store as always,
// then handed to BullMQ; workers on any machine train them. Their progress and results come
// back through QueueEvents, so the API answers the same wherever a job ran. The store stays
// the truth for the API: on start, every unfinished job is reconciled with the queue, so
// events missed while this server was down (a job that finished meanwhile) are not lost.

/** How long POST /jobs waits for Redis to take a new job before answering anyway. */
const ENQUEUE_WAIT_MS = 5000;

export class QueueDispatcher implements JobExecutor {
  readonly events = new EventEmitter();
  private accepting = true;
  private readonly files: SharedJobFiles;
  /** jobs whose outcome is being recorded, so a replayed event does not record it twice */
  private readonly settling = new Set<string>();
  /** per job: the store gets its progress at most twice a second, epoch ends always */
  private readonly progressWrites = new Map<string, ProgressThrottle>();

  private constructor(
    private readonly store: JobStore,
    redis: Redis,
    private readonly queue: Queue<QueueJobData, QueueJobResult>,
    private readonly queueEvents: QueueEvents,
    private readonly log: (event: Record<string, unknown>) => void,
    private readonly maxParams?: number,
  ) {
    this.events.setMaxListeners(0);
    this.files = new SharedJobFiles(redis, queue.name);
  }

  static async open(
    store: JobStore,
    redis: Redis,
    queueName: string,
    log: (event: Record<string, unknown>) => void,
    maxParams?: number,
  ): Promise<QueueDispatcher> {
    const queue = new Queue<QueueJobData, QueueJobResult>(queueName, { connection: redis });
    const queueEvents = new QueueEvents(queueName, { connection: redis });
    const d = new QueueDispatcher(store, redis, queue, queueEvents, log, maxParams);
    queueEvents.on('active', ({ jobId }) => d.onActive(jobId));
    queueEvents.on('waiting', ({ jobId }) => d.onWaiting(jobId));
    queueEvents.on('progress', ({ jobId, data }) => d.onProgress(jobId, data as unknown as QueueProgress));
    queueEvents.on('completed', ({ jobId, returnvalue }) =>
      d.settle(jobId, () => d.collect(jobId, returnvalue as unknown as QueueJobResult)),
    );
    queueEvents.on('failed', ({ jobId, failedReason }) =>
      d.settle(jobId, async () => d.recordFailure(jobId, failedReason)),
    );
    queueEvents.on('error', (e) => log({ event: 'error', error: `queue events: ${e.message}` }));
    try {
      // listen first, then reconcile: an event that lands in between is seen by one or the other
      await queueEvents.waitUntilReady();
      await d.reconcile();
    } catch (e) {
      // their own connections reconnect forever: left open, they would keep the process alive
      await d.shutdown().catch(() => {});
      throw e;
    }
    return d;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  /**
   * Waits (a bounded time) until the job is in Redis, so a 201 means workers can see it. If
   * Redis is away, the job is safe in the store all the same: the client's offline queue
   * sends it on reconnect, and the next start reconciles it.
   */
  async submitted(id: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ENQUEUE_WAIT_MS);
    });
    await Promise.race([this.enqueue(id), bound]);
    clearTimeout(timer);
  }

  async cancel(id: string): Promise<void> {
    // flag first: a worker that takes the job from now on refuses it, a running one stops
    // after its current step and fails it with CANCELLED_REASON, recorded as cancelled
    await this.files.requestCancel(id);
    const bull = await this.queue.getJob(id);
    const state = bull ? await bull.getState() : 'unknown';
    if (state === 'active' || state === 'completed' || state === 'failed') return;
    // waiting (or not queued yet): remove it; 0 means a worker took it meanwhile, and stops it
    if (bull && (await this.queue.remove(id)) !== 1) return;
    if (this.store.finish(id, 'cancelled')) this.events.emit(`job:${id}`, { state: 'cancelled' });
  }

  /** Stops accepting; jobs keep running on the workers and are reconciled at the next start. */
  async shutdown(): Promise<void> {
    this.accepting = false;
    await this.queueEvents.close();
    await this.queue.close();
  }

  private async enqueue(id: string): Promise<void> {
    const job = this.store.get(id);
    if (!job || isFinal(job.state)) return;
    try {
      // the job id is the store's, so adding a job twice (after a restart) adds it once;
      // finished BullMQ jobs are kept until this server has recorded their outcome
      await this.queue.add(
        'train',
        { config: job.config, maxParams: this.maxParams },
        { jobId: id, removeOnComplete: false, removeOnFail: false },
      );
    } catch (e) {
      this.log({ event: 'error', id, error: `could not queue the job: ${(e as Error).message}` });
    }
  }

  private async reconcile(): Promise<void> {
    for (const job of this.store.unfinished()) {
      const bull = await this.queue.getJob(job.id);
      const state = bull ? await bull.getState() : 'unknown';
      if (!bull || state === 'unknown') await this.enqueue(job.id);
      else if (state === 'completed') {
        await this.settle(job.id, () => this.collect(job.id, bull.returnvalue));
      } else if (state === 'failed') {
        await this.settle(job.id, async () => this.recordFailure(job.id, bull.failedReason));
      } else if (state === 'active') this.store.markRunning(job.id);
      else this.store.markQueued(job.id);
    }
  }

  private onActive(id: string): void {
    if (this.store.markRunning(id)) this.events.emit(`job:${id}`, { state: 'running' });
  }

  private onWaiting(id: string): void {
    // a job back in the queue after its worker stopped or was lost
    if (this.store.markQueued(id)) this.events.emit(`job:${id}`, { state: 'queued' });
  }

  private onProgress(id: string, data: QueueProgress): void {
    const job = this.store.get(id);
    if (!job || isFinal(job.state) || !data?.progress) return;
    if (job.state === 'queued') this.onActive(id);
    let throttle = this.progressWrites.get(id);
    if (!throttle) {
      throttle = new ProgressThrottle(STORE_PROGRESS_MS);
      this.progressWrites.set(id, throttle);
    }
    if (throttle.due(Boolean(data.epoch)))
      this.store.setProgress(id, data.progress, data.epoch ? data.metrics : undefined);
    this.events.emit(
      `job:${id}`,
      data.epoch
        ? { state: 'running', progress: data.progress, metrics: data.epoch }
        : { state: 'running', progress: data.progress },
    );
  }

  /** Runs `record` for a job of this server's that has not ended yet, once at a time. */
  private async settle(id: string, record: () => Promise<void>): Promise<void> {
    const job = this.store.get(id);
    if (!job || isFinal(job.state) || this.settling.has(id)) return;
    this.settling.add(id);
    try {
      await record();
      await this.files.clear(id);
      await this.queue.remove(id);
    } catch (e) {
      // left unfinished: the next start reconciles it again
      this.log({ event: 'error', id, error: `recording the job's outcome: ${(e as Error).message}` });
    } finally {
      this.settling.delete(id);
      this.progressWrites.delete(id);
    }
  }

  private async collect(id: string, result: QueueJobResult | undefined): Promise<void> {
    const bytes = await this.files.model(id);
    if (!bytes) {
      this.recordFailure(id, 'the worker reported success but its model is missing from Redis');
      return;
    }
    // checked as a model before it is kept: what the API serves is what gradpool wrote
    modelFromSafetensors(bytes);
    writeFileAtomic(join(this.store.jobDir(id), 'model.safetensors'), [bytes]);
    if (result?.progress) this.store.setProgress(id, result.progress, result.metrics);
    if (this.store.finish(id, 'succeeded', undefined, result?.metrics)) {
      this.events.emit(`job:${id}`, { state: 'succeeded' });
    }
  }

  private recordFailure(id: string, reason: string): void {
    if (reason === CANCELLED_REASON) {
      if (this.store.finish(id, 'cancelled')) this.events.emit(`job:${id}`, { state: 'cancelled' });
    } else if (this.store.finish(id, 'failed', reason)) {
      this.events.emit(`job:${id}`, { state: 'failed', error: reason });
    }
  }
}
