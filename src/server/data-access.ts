import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';

// What a job may read: the embedded datasets, and IDX folders under --data-root only
// (no '..', no NUL, no symlink that leads out).

/** Resolves an `idx:` path inside the data root, or throws. */
export function checkDataSpec(spec: string, dataRoot: string | null): void {
  if (spec.includes('\0')) throw new UsageError('data: NUL in the dataset path', 'data');
  if (!spec.startsWith('idx:')) return;
  if (!dataRoot)
    throw new UsageError('data: idx: datasets are disabled on this server (it has no data root)', 'data');
  const raw = spec.slice(4);
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {}
  if ([raw, decoded].some((p) => p.split(/[\\/]/).includes('..')))
    throw new UsageError(`data: '..' is not allowed in ${spec}`, 'data');
  if (!existsSync(dataRoot)) throw new UsageError("data: the server's data root no longer exists", 'data');
  const root = realpathSync(dataRoot);
  const target = resolve(root, raw);
  if (!existsSync(target)) throw new UsageError(`data: ${spec} does not exist under the data root`, 'data');
  const real = realpathSync(target);
  const rel = relative(root, real);
  if (rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel))
    throw new UsageError(`data: ${spec} leads outside the data root`, 'data');
}

/** idx: paths in jobs are relative to the data root. */
export function resolveDataSpec(spec: string, dataRoot: string | null): string {
  return spec.startsWith('idx:') && dataRoot ? `idx:${resolve(realpathSync(dataRoot), spec.slice(4))}` : spec;
}
