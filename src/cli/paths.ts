import { existsSync, mkdirSync, statSync } from 'node:fs';
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

/** Creates the folder `path` (and its parents) or fails with one line naming the flag. */
export function ensureFolder(path: string, flag: string): string {
  const full = resolve(path);
  if (existsSync(full) && !statSync(full).isDirectory())
    throw new UsageError(`${flag} ${path} is not a folder`);
  try {
    mkdirSync(full, { recursive: true });
  } catch (e) {
    throw new UsageError(
      `${flag} ${path}: cannot create the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return full;
}
