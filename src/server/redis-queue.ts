import { Redis } from 'ioredis';
import { GradpoolError, UsageError } from '../errors.js';
import type { EpochMetrics } from '../train/trainer.js';

// What the server and the workers share through Redis besides BullMQ's own keys: each job's
// latest checkpoint (so a job stalled on one machine resumes on another), the finished
// model's bytes (so the owning server can serve them), and cancellation requests.

/** BullMQ's failedReason of a job stopped by DELETE, so the server records `cancelled`, not `failed`. */
export const CANCELLED_REASON = 'gradpool:cancelled';

export interface QueueJobData {
  config: Record<string, unknown>;
  /** the accepting server's parameter cap, applied once a CSV job's file is read */
  maxParams?: number;
}

/** What a worker sends with `job.updateProgress`. */
export interface QueueProgress {
  progress: Record<string, unknown>;
  epoch?: EpochMetrics;
  metrics: EpochMetrics[];
}

/** A worker's return value; the model's bytes are in SharedJobFiles. */
export interface QueueJobResult {
  metrics: EpochMetrics[];
  /** the job's final progress (finalProgress): which epoch its model is and why it stopped */
  progress?: Record<string, unknown>;
  worker: string;
}

/** Connects and pings, so a wrong URL or a down server is one clear error at start. */
export async function connectRedis(url: string): Promise<Redis> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError((name) => `${name('queue')} must be a redis:// URL, got '${url}'`, 'queue');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new UsageError(
      (name) => `${name('queue')} must be a redis:// or rediss:// URL, got '${redact(parsed)}'`,
      'queue',
    );
  }
  // BullMQ's blocking connections need maxRetriesPerRequest null: commands wait out a
  // reconnect instead of failing.
  // Once connected, reconnect forever (a Redis restart is waited out); before that, one try.
  let connected = false;
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    lazyConnect: true,
    connectTimeout: 5000,
    // how long disconnect() waits for a socket that never opened; the default 2 s delays exit
    disconnectTimeout: 100,
    retryStrategy: (times) => (connected ? Math.min(times * 200, 2000) : null),
  });
  let lastError = '';
  redis.on('error', (e: Error) => {
    lastError = e.message;
  });
  try {
    await redis.connect();
    await redis.ping();
    connected = true;
  } catch (e) {
    redis.disconnect();
    throw new GradpoolError(
      `cannot reach Redis at ${redact(parsed)}: ${lastError || (e as Error).message}`,
      2,
    );
  }
  return redis;
}

/** The URL without its password, for messages and logs. */
export function redact(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = '***';
  return copy.href;
}

/** A job's shared files and flags in Redis, under `gradpool:<queue name>:`. */
export class SharedJobFiles {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    queueName: string,
  ) {
    this.prefix = `gradpool:${queueName}`;
  }

  get cancelChannel(): string {
    return `${this.prefix}:cancel`;
  }

  private key(kind: 'checkpoint' | 'model' | 'cancelled', id: string): string {
    return `${this.prefix}:${kind}:${id}`;
  }

  async putCheckpoint(id: string, bytes: Uint8Array): Promise<void> {
    await this.redis.set(
      this.key('checkpoint', id),
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length),
    );
  }

  async checkpoint(id: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.key('checkpoint', id));
  }

  async putModel(id: string, bytes: Uint8Array): Promise<void> {
    await this.redis.set(this.key('model', id), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  }

  async model(id: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.key('model', id));
  }

  /** Marks the job cancelled (for a worker that takes it later) and tells running workers. */
  async requestCancel(id: string): Promise<void> {
    // kept a week: long enough for any worker that could still take the job
    await this.redis.set(this.key('cancelled', id), '1', 'EX', 7 * 24 * 3600);
    await this.redis.publish(this.cancelChannel, id);
  }

  async isCancelled(id: string): Promise<boolean> {
    return (await this.redis.exists(this.key('cancelled', id))) === 1;
  }

  /** Once the owning server has recorded the outcome, nothing of the job need stay in Redis. */
  async clear(id: string): Promise<void> {
    await this.redis.del(this.key('checkpoint', id), this.key('model', id), this.key('cancelled', id));
  }
}
