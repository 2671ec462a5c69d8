import { join, resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors.js';
import { coreCount } from '../machine.js';
import { MAX_PARAMS } from '../nn/layout.js';
import type { JobExecutor } from '../server/job-executor.js';
import { checkQueueName } from '../server/queue-name.js';
import { ensureFolder } from './paths.js';
import { logLine, positiveInt, queueOptions, stopSignal } from './service-options.js';

export const serveCommand: CommandModule = {
  command: 'serve',
  describe: 'run training jobs submitted over HTTP (see the README for the API)',
  builder: (y: Argv) =>
    y
      .option('host', {
        type: 'string',
        default: '127.0.0.1',
        describe: 'address to bind (loopback unless told otherwise)',
      })
      .option('port', { type: 'string', default: '8080', describe: 'port (0: any free port)' })
      .option('data-dir', {
        type: 'string',
        default: 'gradpool-data',
        describe: 'jobs database, checkpoints and models',
      })
      .option('token', {
        type: 'string',
        describe: 'bearer token required on every request but /healthz (or GRADPOOL_TOKEN)',
      })
      .option('threads', {
        type: 'string',
        describe:
          'threads per job when a job does not say (default: all cores); with --queue, those of this server’s own jobs',
      })
      .option('concurrency', {
        type: 'string',
        default: '1',
        describe: 'jobs this server runs at once (with --queue, 0: leave them all to workers)',
      })
      .option('max-threads', {
        type: 'string',
        describe: 'largest threads a job may ask for (default: cores; with --queue, 1024)',
      })
      .option('max-epochs', { type: 'string', default: '1000', describe: 'largest epochs a job may ask for' })
      .option('max-params', {
        type: 'string',
        default: String(MAX_PARAMS),
        describe: 'largest model a job may ask for',
      })
      .option('max-queued', { type: 'string', default: '1000', describe: 'jobs that may wait at once' })
      .option('data-root', {
        type: 'string',
        describe: 'folder under which idx: datasets may be read (none: idx: is refused)',
      })
      .option('checkpoint-every', {
        type: 'string',
        default: '50',
        describe: 'steps between a job’s checkpoints',
      })
      .options(queueOptions),
  handler: async (argv: ArgumentsCamelCase) => {
    const cores = coreCount();
    const threads = argv.threads === undefined ? cores : positiveInt('threads', argv.threads, 1024);
    const port = Number(argv.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--port must be 0–65535, got '${argv.port}'`);
    const token = (argv.token as string | undefined) ?? process.env.GRADPOOL_TOKEN ?? null;
    const concurrency = positiveInt('concurrency', argv.concurrency, 64, argv.queue === undefined ? 1 : 0);
    const checkpointEvery = positiveInt('checkpoint-every', argv.checkpointEvery);
    const limits = {
      token: token || null,
      // with --queue, a job that does not say trains with the threads of the worker taking it
      threads: argv.queue === undefined ? threads : null,
      maxThreads:
        argv.maxThreads === undefined
          ? argv.queue === undefined
            ? cores
            : 1024
          : positiveInt('max-threads', argv.maxThreads, 1024),
      maxEpochs: positiveInt('max-epochs', argv.maxEpochs),
      maxParams: positiveInt('max-params', argv.maxParams, MAX_PARAMS),
      maxQueued: positiveInt('max-queued', argv.maxQueued),
      dataRoot: argv.dataRoot ? resolve(String(argv.dataRoot)) : null,
    };
    // the server stack (fastify, SQLite, BullMQ) loads only here, so train and bench start without it
    const [
      { buildApp },
      { JobRunner },
      { JobStore },
      { QueueDispatcher },
      { QueueWorker },
      { connectRedis },
    ] = await Promise.all([
      import('../server/app.js'),
      import('../server/job-runner.js'),
      import('../server/job-store.js'),
      import('../server/queue-dispatcher.js'),
      import('../server/queue-worker.js'),
      import('../server/redis-queue.js'),
    ]);
    // reach Redis before anything is created on disk, so a wrong --queue leaves nothing behind
    const queueName = argv.queue === undefined ? '' : checkQueueName(String(argv.queueName));
    const redis = argv.queue === undefined ? null : await connectRedis(String(argv.queue));
    let store: InstanceType<typeof JobStore>;
    try {
      const dataDir = ensureFolder(String(argv.dataDir), '--data-dir');
      try {
        store = new JobStore(dataDir);
      } catch (e) {
        throw new UsageError(
          `--data-dir ${argv.dataDir}: cannot open its job database: ${(e as Error).message}`,
        );
      }
    } catch (e) {
      redis?.disconnect();
      throw e;
    }
    let executor: JobExecutor;
    let stopQueue = async () => {};
    let resumed = 0;
    if (!redis) {
      const runner = new JobRunner(store, { concurrency, checkpointEvery });
      resumed = store.requeueRunning();
      runner.kick();
      executor = runner;
    } else {
      // jobs go to BullMQ; this server (with --concurrency > 0) is one of the workers taking them
      const dispatcher = await QueueDispatcher.open(store, redis, queueName, logLine);
      const worker =
        concurrency > 0
          ? await QueueWorker.start(redis, {
              queueName,
              threads,
              concurrency,
              checkpointEvery,
              lockDurationMs: 30_000,
              workDir: join(store.dataDir, 'worker'),
              log: logLine,
            })
          : null;
      executor = dispatcher;
      stopQueue = async () => {
        await worker?.close();
        await redis.quit();
      };
    }
    const app = buildApp(store, executor, limits);
    const address = await app.listen({ host: String(argv.host), port });
    logLine({ event: 'listening', url: address, dataDir: store.dataDir, resumed });
    const signal = await stopSignal();
    logLine({ event: 'stopping', signal });
    // new jobs get 503 meanwhile; running ones checkpoint and stay resumable
    await executor.shutdown();
    await stopQueue();
    await app.close();
    store.close();
  },
};
