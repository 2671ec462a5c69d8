import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';

// Paths a command will write, checked before any work so a typo fails at once, not after
// training. Messages name the setting the path came from (a flag in the CLI).

/** Fails when a file could not be written at `path`. */
export function checkWritableTarget(path: string, field: string): void {
  const full = resolve(path);
  const dir = dirname(full);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError((name) => `${name(field)} ${path}: folder ${dir} does not exist`, field);
  if (existsSync(full) && statSync(full).isDirectory())
    throw new UsageError((name) => `${name(field)} ${path} is a folder`, field);
}

/** Creates the folder `path` (and its parents) or fails with one line naming the setting. */
export function ensureFolder(path: string, field: string): string {
  const full = resolve(path);
  if (existsSync(full) && !statSync(full).isDirectory())
    throw new UsageError((name) => `${name(field)} ${path} is not a folder`, field);
  try {
    mkdirSync(full, { recursive: true });
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UsageError((name) => `${name(field)} ${path}: cannot create the folder (${why})`, field);
  }
  return full;
}
