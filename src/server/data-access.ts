import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';

// What a job may read: the embedded datasets, and IDX folders under --data-root only
// (no '..', no NUL, no symlink that leads out).

/** Resolves an `idx:` path inside the data root, or throws. */
export function checkDataSpec(spec: string, dataRoot: string | null, field = 'data'): void {
  if (spec.includes('\0')) throw new UsageError(`${field}: NUL in the dataset path`, field);
  const prefix = pathPrefix(spec);
  if (!prefix) return;
  if (!dataRoot)
    throw new UsageError(
      `${field}: ${prefix} datasets are disabled on this server (it has no data root)`,
      field,
    );
  const raw = spec.slice(4);
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {}
  if ([raw, decoded].some((p) => p.split(/[\\/]/).includes('..')))
    throw new UsageError(`${field}: '..' is not allowed in ${spec}`, field);
  if (!existsSync(dataRoot)) throw new UsageError(`${field}: the server's data root no longer exists`, field);
  const root = realpathSync(dataRoot);
  const target = resolve(root, raw);
  if (!existsSync(target))
    throw new UsageError(`${field}: ${spec} does not exist under the data root`, field);
  const real = realpathSync(target);
  const rel = relative(root, real);
  if (rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel))
    throw new UsageError(`${field}: ${spec} leads outside the data root`, field);
}

/** idx: and csv: paths in jobs are relative to the data root. */
export function resolveDataSpec(spec: string, dataRoot: string | null): string {
  const prefix = pathPrefix(spec);
  return prefix && dataRoot ? `${prefix}${resolve(realpathSync(dataRoot), spec.slice(4))}` : spec;
}

/** The specs that name a path on the server: idx:DIR and csv:FILE. */
const pathPrefix = (spec: string): 'idx:' | 'csv:' | null =>
  spec.startsWith('idx:') ? 'idx:' : spec.startsWith('csv:') ? 'csv:' : null;
