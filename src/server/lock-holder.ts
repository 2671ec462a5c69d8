import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

// One server per data folder: two would each requeue the jobs the other is running and train
// them at once. The lock itself is SQLite's: the job store keeps its database under an
// exclusive lock for its whole life (JobStore), which the OS drops when the process ends,
// however it ends, so a lock is never left stale behind a dead server. This file only says
// who holds it, for the message the next server prints.

export const HOLDER_FILE = 'server.pid';

/** Records this process as the holder of `dir`'s lock (call once the lock is taken). */
export function recordHolder(dir: string): void {
  writeFileSync(join(dir, HOLDER_FILE), `${JSON.stringify({ pid: process.pid, host: hostname() })}\n`);
}

/** Who holds `dir`'s lock, as a message can say it: "pid 1234" (with the host if not this one). */
export function describeHolder(dir: string): string {
  try {
    const h = JSON.parse(readFileSync(join(dir, HOLDER_FILE), 'utf8')) as { pid?: unknown; host?: unknown };
    if (Number.isInteger(h.pid))
      return `pid ${h.pid}${h.host && h.host !== hostname() ? ` on ${h.host}` : ''}`;
  } catch {}
  return 'another process';
}
