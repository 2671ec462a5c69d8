import type { Options } from 'yargs';
import { DEFAULT_QUEUE_NAME } from '../server/queue-name.js';

// Flags and helpers shared by the long-running commands, `serve` and `worker`.

export const queueOptions: Record<string, Options> = {
  queue: {
    type: 'string',
    describe: 'Redis URL of the shared job queue (BullMQ), e.g. redis://127.0.0.1:6379',
  },
  'queue-name': {
    type: 'string',
    default: DEFAULT_QUEUE_NAME,
    describe: 'queue to use on that Redis (servers and workers of one cluster share it)',
  },
};

/** One JSON line on stdout: the log of the long-running commands. */
export function logLine(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/** Resolves with the first SIGTERM or SIGINT, after which the caller shuts down in order. */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
