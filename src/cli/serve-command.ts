import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { coreCount } from '../machine.js';
import { MAX_PARAMS } from '../nn/layout.js';
import { checkQueueName } from '../server/queue-name.js';
import { checkWholeNumber } from '../train/numbers.js';
import { withValues } from './flags.js';
import { logLine, queueOptions, stopSignal } from './service-options.js';

export const serveCommand: CommandModule = {
  command: 'serve',
  describe: 'run training jobs submitted over HTTP (see the README for the API)',
  builder: (y: Argv) =>
    y.options(
      withValues({
        host: {
          type: 'string',
          default: '127.0.0.1',
          describe: 'address to bind (loopback unless told otherwise)',
        },
        port: { type: 'string', default: '8080', describe: 'port (0: any free port)' },
        'data-dir': {
          type: 'string',
          default: 'gradpool-data',
          describe: 'jobs database, checkpoints and models',
        },
        token: {
          type: 'string',
          describe:
            'bearer token required on every request but /healthz and the dashboard page / (or GRADPOOL_TOKEN)',
        },
        auth: {
          type: 'boolean',
          default: true,
          describe: '--no-auth: serve without a token on an address other machines can reach',
        },
        threads: {
          type: 'string',
          describe:
            'threads per job when a job does not say (default: all cores); with --queue, those of this server’s own jobs',
        },
        concurrency: {
          type: 'string',
          default: '1',
          describe: 'jobs this server runs at once (with --queue, 0: leave them all to workers)',
        },
        'max-threads': {
          type: 'string',
          describe: 'largest threads a job may ask for (default: cores; with --queue, 1024)',
        },
        'max-epochs': { type: 'string', default: '1000', describe: 'largest epochs a job may ask for' },
        'max-params': {
          type: 'string',
          default: String(MAX_PARAMS),
          describe: 'largest model a job may ask for',
        },
        'max-queued': { type: 'string', default: '1000', describe: 'jobs that may wait at once' },
        'data-root': {
          type: 'string',
          describe: 'folder under which idx: datasets may be read (none: idx: is refused)',
        },
        'checkpoint-every': { type: 'string', default: '50', describe: 'steps between a job’s checkpoints' },
        ...queueOptions,
      }),
    ),
  handler: async (argv: ArgumentsCamelCase) => {
    const options = serveOptions(argv);
    // the server stack (fastify, SQLite, BullMQ) loads only here, so train and bench start without it
    const { startServer } = await import('../server/start.js');
    const server = await startServer(options);
    logLine({ event: 'listening', url: server.url, dataDir: server.dataDir, resumed: server.resumed });
    const signal = await stopSignal();
    logLine({ event: 'stopping', signal });
    await server.close();
  },
};

/** The server's settings from its flags, each checked; nothing is started or created. */
function serveOptions(argv: ArgumentsCamelCase) {
  const cores = coreCount();
  const queued = argv.queue !== undefined;
  const whole = (field: string, min: number, max: number) => checkWholeNumber(field, argv[field], min, max);
  const threads = argv.threads === undefined ? cores : whole('threads', 1, 1024);
  const token = (argv.token as string | undefined) ?? process.env.GRADPOOL_TOKEN ?? '';
  return {
    host: String(argv.host),
    port: whole('port', 0, 65535),
    dataDir: String(argv.dataDir),
    token: token || null,
    noAuth: argv.auth === false,
    concurrency: whole('concurrency', queued ? 0 : 1, 64),
    checkpointEvery: whole('checkpointEvery', 1, 1e9),
    threads,
    queue: queued ? { url: String(argv.queue), name: checkQueueName(String(argv.queueName)) } : undefined,
    limits: {
      // with --queue, a job that does not say trains with the threads of the worker taking it
      threads: queued ? null : threads,
      maxThreads: argv.maxThreads === undefined ? (queued ? 1024 : cores) : whole('maxThreads', 1, 1024),
      maxEpochs: whole('maxEpochs', 1, 1e9),
      maxParams: whole('maxParams', 1, MAX_PARAMS),
      maxQueued: whole('maxQueued', 1, 1e9),
      dataRoot: argv.dataRoot ? resolve(String(argv.dataRoot)) : null,
    },
    log: logLine,
    warn: (message: string) => process.stderr.write(`gradpool: warning: ${message}\n`),
  };
}
