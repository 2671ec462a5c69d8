import { UsageError } from '../errors.js';

// Queue names, apart from the Redis client so the CLI can check them without loading it.

export const DEFAULT_QUEUE_NAME = 'gradpool';

export function checkQueueName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) {
    throw new UsageError(
      (n) => `${n('queueName')} must be 1–100 letters, digits, '.', '_' or '-', got '${name}'`,
      'queueName',
    );
  }
  return name;
}
