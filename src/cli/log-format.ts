import { UsageError } from '../errors.js';

export type LogFormat = 'pretty' | 'json';

/** pretty on a terminal, JSON lines when piped, unless the user says. */
export function resolveLogFormat(value: unknown): LogFormat {
  if (value === undefined) return process.stdout.isTTY ? 'pretty' : 'json';
  if (value === 'pretty' || value === 'json') return value;
  throw new UsageError(`--log must be pretty or json, got '${String(value)}'`);
}
