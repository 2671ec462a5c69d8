import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors.js';
import { ensureFolder } from '../io/paths.js';
import { coreCount } from '../machine.js';
import { checkQueueName } from '../server/queue-name.js';
import { checkWholeNumber } from '../train/numbers.js';
import { withValues } from './flags.js';
import { logLine, queueOptions, stopSignal } from './service-options.js';

export const workerCommand: CommandModule = {
  command: 'worker',
  describe: 'train jobs from a shared Redis queue that `gradpool serve --queue` feeds',
  builder: (y: Argv) =>
    y.options(
      withValues({
        ...queueOptions,
        threads: {
          type: 'string',
          describe: 'threads each job trains with on this machine (default: all cores)',
        },
        concurrency: { type: 'string', default: '1', describe: 'jobs run at once' },
        'checkpoint-every': {
          type: 'string',
          default: '50',
          describe: 'steps between checkpoints sent to Redis',
        },
        'lock-duration': {
          type: 'string',
          default: '30',
          describe: 'seconds without a sign of life after which another worker takes over a job',
        },
        'work-dir': {
          type: 'string',
          describe: 'scratch folder for running jobs (default: the system temp folder)',
        },
      }),
    ),
  handler: async (argv: ArgumentsCamelCase) => {
    if (argv.queue === undefined) throw new UsageError('worker needs --queue redis://HOST:PORT');
    const queueName = checkQueueName(String(argv.queueName));
    const whole = (field: string, min: number, max: number) => checkWholeNumber(field, argv[field], min, max);
    const threads = argv.threads === undefined ? coreCount() : whole('threads', 1, 1024);
    const options = {
      queueName,
      threads,
      concurrency: whole('concurrency', 1, 64),
      checkpointEvery: whole('checkpointEvery', 1, 1e9),
      lockDurationMs: whole('lockDuration', 1, 3600) * 1000,
      workDir:
        argv.workDir === undefined ? join(tmpdir(), `gradpool-worker-${process.pid}`) : String(argv.workDir),
      log: logLine,
    };
    // BullMQ and ioredis load only here, so train and bench start without them
    const [{ QueueWorker }, { connectRedis }] = await Promise.all([
      import('../server/queue-worker.js'),
      import('../server/redis-queue.js'),
    ]);
    const redis = await connectRedis(String(argv.queue));
    let worker: Awaited<ReturnType<typeof QueueWorker.start>>;
    try {
      // created only once Redis answered, so a wrong --queue leaves nothing behind
      options.workDir = ensureFolder(options.workDir, 'workDir');
      worker = await QueueWorker.start(redis, options);
    } catch (e) {
      redis.disconnect();
      throw e;
    }
    logLine({ event: 'ready', queue: queueName, threads, pid: process.pid });
    const signal = await stopSignal();
    logLine({ event: 'stopping', signal });
    await worker.close(); // running jobs checkpoint and go back to the queue
    await redis.quit();
  },
};
