import { createServer, isIP } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { UsageError } from '../errors.js';
import { ensureFolder } from '../io/paths.js';
import { buildApp, type ServerLimits } from './app.js';
import type { JobExecutor } from './job-executor.js';
import { JobRunner } from './job-runner.js';
import { JobStore, StoreLocked } from './job-store.js';
import { describeHolder, HOLDER_FILE, recordHolder } from './lock-holder.js';
import { QueueDispatcher } from './queue-dispatcher.js';
import { QueueWorker } from './queue-worker.js';
import { connectRedis } from './redis-queue.js';

// Starting and stopping a job server: what `gradpool serve` does between parsing its flags
// and waiting for a signal, and what tests and embedders call. Nothing is created on disk
// before the settings, the port and Redis (with a queue) have been checked, and no job runs
// before the API listens.

export interface ServerOptions {
  host: string;
  port: number;
  /** the folder of the job database, checkpoints and models (created if missing) */
  dataDir: string;
  /** bearer token every request but /healthz and / must carry; null: none */
  token: string | null;
  /** serve without a token on an address other machines can reach, as asked */
  noAuth: boolean;
  limits: Omit<ServerLimits, 'token'>;
  /** jobs this server runs at once (with a queue, 0 leaves them all to workers) */
  concurrency: number;
  /** steps between a job's checkpoints */
  checkpointEvery: number;
  /** threads of this server's own jobs under a queue */
  threads: number;
  /** Redis URL and queue name of a shared BullMQ queue */
  queue?: { url: string; name: string };
  log: (event: Record<string, unknown>) => void;
  /** a warning for the operator (stderr in the CLI) */
  warn: (message: string) => void;
}

export interface RunningServer {
  /** the address it listens on, as bound (0.0.0.0 stays 0.0.0.0) */
  readonly url: string;
  readonly dataDir: string;
  /** jobs found running at start and queued again to resume */
  readonly resumed: number;
  readonly app: FastifyInstance;
  /** stops taking jobs; running ones checkpoint and stay resumable; then closes everything */
  close(): Promise<void>;
}

/** Loopback addresses: only this machine can reach a server bound there. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host.startsWith('::ffff:127.');
}

/**
 * Refuses an open API on an address other machines can reach unless asked for; returns the
 * warning an open API on loopback deserves, or null.
 */
export function checkAuth(o: Pick<ServerOptions, 'host' | 'token' | 'noAuth'>): string | null {
  if (o.noAuth && o.token)
    throw new UsageError(
      (name) => `${name('noAuth')} and a token (${name('token')} or GRADPOOL_TOKEN) contradict each other`,
      'noAuth',
    );
  if (o.token || o.noAuth) return null;
  if (!isLoopback(o.host)) {
    throw new UsageError(
      (name) =>
        `${name('host')} ${o.host} can be reached from other machines: give ${name('token')} (or GRADPOOL_TOKEN), or ${name('noAuth')} to serve an open API`,
      'host',
    );
  }
  return `no token: any program on this machine can submit and cancel jobs`;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const warning = checkAuth(o);
  // the port, then Redis, then the disk: a port in use or a wrong --queue leaves nothing
  // behind (the listen below still catches a port taken in between)
  if (o.port !== 0) await checkPortFree(o.host, o.port);
  const redis = o.queue ? await connectRedis(o.queue.url) : null;
  // what is open, to close in reverse order when start-up fails or the server stops
  const opened: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const close of opened.splice(0).reverse()) await close();
  };
  if (redis) opened.push(() => redis.quit().then(() => {}));
  try {
    const store = openStore(ensureFolder(o.dataDir, 'dataDir'), o.dataDir);
    opened.push(() => store.close());
    let executor: JobExecutor;
    let startJobs: () => Promise<number>;
    if (!redis || !o.queue) {
      const runner = new JobRunner(store, {
        concurrency: o.concurrency,
        checkpointEvery: o.checkpointEvery,
        maxParams: o.limits.maxParams,
      });
      executor = runner;
      startJobs = async () => {
        const resumed = store.requeueRunning();
        runner.kick();
        return resumed;
      };
    } else {
      // jobs go to BullMQ; this server (with concurrency > 0) is one of the workers taking them
      const queue = o.queue;
      executor = await QueueDispatcher.open(store, redis, queue.name, o.log, o.limits.maxParams);
      startJobs = async () => {
        if (o.concurrency === 0) return 0;
        const worker = await QueueWorker.start(redis, {
          queueName: queue.name,
          threads: o.threads,
          concurrency: o.concurrency,
          checkpointEvery: o.checkpointEvery,
          lockDurationMs: 30_000,
          workDir: join(store.dataDir, 'worker'),
          log: o.log,
        });
        opened.push(() => worker.close());
        return 0;
      };
    }
    // first when stopping: new jobs get 503 while running ones checkpoint and stay resumable
    let shutdown: Promise<void> | undefined;
    const stopJobs = () => {
      shutdown ??= executor.shutdown();
      return shutdown;
    };
    opened.push(stopJobs);
    const app = buildApp(store, executor, { ...o.limits, token: o.token });
    try {
      await app.listen({ host: o.host, port: o.port });
    } catch (e) {
      throw listenError(e, o.host, o.port);
    }
    opened.push(() => app.close());
    // jobs start once the API listens: a server that cannot serve runs nothing
    const resumed = await startJobs();
    if (warning) o.warn(warning);
    const close = async () => {
      await stopJobs();
      await closeAll();
    };
    return { url: boundUrl(app), dataDir: store.dataDir, resumed, app, close };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** A UsageError when `host:port` cannot be bound, found by binding it for a moment. */
function checkPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e) => reject(listenError(e, host, port)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function openStore(folder: string, dataDir: string): JobStore {
  let store: JobStore;
  try {
    store = new JobStore(folder);
  } catch (e) {
    if (e instanceof StoreLocked) {
      throw new UsageError(
        (name) =>
          `${name('dataDir')} ${dataDir} is in use by another gradpool serve (${describeHolder(folder)})`,
        'dataDir',
      );
    }
    throw new UsageError(
      (name) => `${name('dataDir')} ${dataDir}: cannot open its job database: ${(e as Error).message}`,
      'dataDir',
    );
  }
  try {
    recordHolder(store.dataDir);
  } catch (e) {
    store.close();
    throw new UsageError(
      (name) => `${name('dataDir')} ${dataDir}: cannot write ${HOLDER_FILE}: ${(e as Error).message}`,
      'dataDir',
    );
  }
  return store;
}

/** The address as bound: fastify's own answer names 127.0.0.1 for 0.0.0.0. */
function boundUrl(app: FastifyInstance): string {
  const a = app.server.address();
  if (a === null || typeof a === 'string') return String(a);
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

function listenError(e: unknown, host: string, port: number): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  const at = `${host}:${port}`;
  if (code === 'EADDRINUSE')
    return new UsageError((name) => `${name('port')} ${port}: ${at} is already in use`, 'port');
  if (code === 'EACCES')
    return new UsageError((name) => `${name('port')} ${port}: not allowed to listen on ${at}`, 'port');
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new UsageError((name) => `${name('host')} ${host}: no such address on this machine`, 'host');
  return e;
}
