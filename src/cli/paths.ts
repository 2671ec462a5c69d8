import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** Fails before any work when a file could not be written at `path`, rather than after training. */
export function checkWritableTarget(path: string, flag: string): void {
  const full = resolve(path);
  const dir = dirname(full);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`${flag} ${path}: folder ${dir} does not exist`);
  if (existsSync(full) && statSync(full).isDirectory()) throw new UsageError(`${flag} ${path} is a folder`);
}
