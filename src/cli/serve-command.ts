import { cpus } from 'node:os';
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { UsageError } from '../errors.js';
import { MAX_PARAMS } from '../nn/layout.js';
import { buildApp } from '../server/app.js';
import { JobRunner } from '../server/job-runner.js';
import { JobStore } from '../server/job-store.js';

const positiveInt = (name: string, value: unknown, max = 1e9): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`--${name} must be a whole number from 1 to ${max}, got '${value}'`);
  return n;
};

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
        describe: 'threads per job when a job does not say (default: all cores)',
      })
      .option('concurrency', { type: 'string', default: '1', describe: 'jobs run at once' })
      .option('max-threads', {
        type: 'string',
        describe: 'largest threads a job may ask for (default: cores)',
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
      }),
  handler: async (argv: ArgumentsCamelCase) => {
    const cores = cpus().length;
    const threads = argv.threads === undefined ? cores : positiveInt('threads', argv.threads, 1024);
    const port = Number(argv.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--port must be 0–65535, got '${argv.port}'`);
    const token = (argv.token as string | undefined) ?? process.env.GRADPOOL_TOKEN ?? null;
    const store = new JobStore(resolve(String(argv.dataDir)));
    const runner = new JobRunner(store, {
      concurrency: positiveInt('concurrency', argv.concurrency, 64),
      checkpointEvery: positiveInt('checkpoint-every', argv.checkpointEvery),
    });
    const app = buildApp(store, runner, {
      token: token || null,
      threads,
      maxThreads: argv.maxThreads === undefined ? cores : positiveInt('max-threads', argv.maxThreads, 1024),
      maxEpochs: positiveInt('max-epochs', argv.maxEpochs),
      maxParams: positiveInt('max-params', argv.maxParams, MAX_PARAMS),
      maxQueued: positiveInt('max-queued', argv.maxQueued),
      dataRoot: argv.dataRoot ? resolve(String(argv.dataRoot)) : null,
    });
    const requeued = store.requeueRunning();
    const address = await app.listen({ host: String(argv.host), port });
    process.stdout.write(
      `${JSON.stringify({ event: 'listening', url: address, dataDir: store.dataDir, resumed: requeued })}\n`,
    );
    runner.kick();
    await new Promise<void>((done) => {
      const stop = async (signal: NodeJS.Signals) => {
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        process.stdout.write(`${JSON.stringify({ event: 'stopping', signal })}\n`);
        await runner.shutdown(); // new jobs get 503 meanwhile; running ones checkpoint and stay resumable
        await app.close();
        store.close();
        done();
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
  },
};
