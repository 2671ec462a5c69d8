import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FinalState, JobState } from './job-states.js';

// Jobs in SQLite (WAL, synchronous=FULL): a job accepted with 201 is on disk, and a server
// killed at any moment finds every job again on restart. The database is held with an
// exclusive lock from open to close (locking_mode EXCLUSIVE), so no second process can run
// the same jobs; the OS releases it when the holder dies.

/** Another process holds the job database. */
export class StoreLocked extends Error {}

export type { JobState } from './job-states.js';

export interface Job {
  id: string;
  state: JobState;
  config: Record<string, unknown>;
  progress: Record<string, unknown> | null;
  metrics: unknown[];
  error?: string;
  createdAt: string;
  finishedAt?: string;
}

interface Row {
  id: string;
  state: JobState;
  config: string;
  progress: string | null;
  metrics: string;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

export class JobStore {
  private readonly db: Database.Database;

  constructor(readonly dataDir: string) {
    mkdirSync(join(dataDir, 'jobs'), { recursive: true });
    // no busy timeout: a held lock is another server's, and waiting would not free it
    this.db = new Database(join(dataDir, 'gradpool.db'), { timeout: 0 });
    try {
      // set before WAL is first used, so no shared-memory index exists for others to join
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.exec('BEGIN EXCLUSIVE; COMMIT');
    } catch (e) {
      this.db.close();
      if ((e as { code?: string }).code === 'SQLITE_BUSY')
        throw new StoreLocked('the job database is locked');
      throw e;
    }
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS jobs (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT UNIQUE NOT NULL,
      idempotency_key TEXT UNIQUE,
      state TEXT NOT NULL,
      config TEXT NOT NULL,
      progress TEXT,
      metrics TEXT NOT NULL DEFAULT '[]',
      error TEXT,
      created_at TEXT NOT NULL,
      finished_at TEXT
    )`);
  }

  /** Folder for a job's checkpoint and model. */
  jobDir(id: string): string {
    const dir = join(this.dataDir, 'jobs', id);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** A new queued job, or the one already created with this idempotency key. */
  create(config: Record<string, unknown>, idempotencyKey?: string): { job: Job; created: boolean } {
    return this.db.transaction(() => {
      if (idempotencyKey) {
        const existing = this.db
          .prepare('SELECT * FROM jobs WHERE idempotency_key = ?')
          .get(idempotencyKey) as Row | undefined;
        if (existing) return { job: toJob(existing), created: false };
      }
      const id = randomUUID();
      this.db
        .prepare('INSERT INTO jobs (id, idempotency_key, state, config, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(id, idempotencyKey ?? null, 'queued', JSON.stringify(config), new Date().toISOString());
      return { job: this.get(id) as Job, created: true };
    })();
  }

  get(id: string): Job | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row && toJob(row);
  }

  /** Newest first. */
  list(limit = 1000): Job[] {
    return (this.db.prepare('SELECT * FROM jobs ORDER BY seq DESC LIMIT ?').all(limit) as Row[]).map(toJob);
  }

  countQueued(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM jobs WHERE state = 'queued'").get() as { n: number })
      .n;
  }

  /** The oldest queued job, now marked running; undefined when none waits. */
  claimNext(): Job | undefined {
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT * FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1").get() as
        | Row
        | undefined;
      if (!row) return undefined;
      this.db.prepare("UPDATE jobs SET state = 'running' WHERE id = ?").run(row.id);
      return { ...toJob(row), state: 'running' as const };
    })();
  }

  /** Jobs not yet succeeded, failed or cancelled, oldest first. */
  unfinished(): Job[] {
    return (
      this.db.prepare("SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq").all() as Row[]
    ).map(toJob);
  }

  /** A worker took the job (queue mode); false unless it was queued. */
  markRunning(id: string): boolean {
    return (
      this.db.prepare("UPDATE jobs SET state = 'running' WHERE id = ? AND state = 'queued'").run(id)
        .changes === 1
    );
  }

  /** The job went back to the queue (its worker stopped or was lost); false unless it was running. */
  markQueued(id: string): boolean {
    return (
      this.db.prepare("UPDATE jobs SET state = 'queued' WHERE id = ? AND state = 'running'").run(id)
        .changes === 1
    );
  }

  /** After a crash: jobs that were running go back to the queue, to resume from their checkpoints. */
  requeueRunning(): number {
    return this.db.prepare("UPDATE jobs SET state = 'queued' WHERE state = 'running'").run().changes;
  }

  setProgress(id: string, progress: Record<string, unknown>, metrics?: unknown[]): void {
    if (metrics)
      this.db
        .prepare('UPDATE jobs SET progress = ?, metrics = ? WHERE id = ?')
        .run(JSON.stringify(progress), JSON.stringify(metrics), id);
    else this.db.prepare('UPDATE jobs SET progress = ? WHERE id = ?').run(JSON.stringify(progress), id);
  }

  /** Records how a job ended, once: false if it had already ended. */
  finish(id: string, state: FinalState, error?: string, metrics?: unknown[]): boolean {
    return (
      this.db
        .prepare(
          `UPDATE jobs SET state = ?, error = ?, finished_at = ?, metrics = coalesce(?, metrics)
           WHERE id = ? AND state IN ('queued', 'running')`,
        )
        .run(state, error ?? null, new Date().toISOString(), metrics ? JSON.stringify(metrics) : null, id)
        .changes === 1
    );
  }

  /** Marks a queued job cancelled; returns its state afterwards. */
  cancelQueued(id: string): boolean {
    return (
      this.db
        .prepare("UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = 'queued'")
        .run(new Date().toISOString(), id).changes === 1
    );
  }

  close(): void {
    this.db.close();
  }
}

function toJob(r: Row): Job {
  const job: Job = {
    id: r.id,
    state: r.state,
    config: JSON.parse(r.config),
    progress: r.progress ? JSON.parse(r.progress) : null,
    metrics: JSON.parse(r.metrics),
    createdAt: r.created_at,
  };
  if (r.error) job.error = r.error;
  if (r.finished_at) job.finishedAt = r.finished_at;
  return job;
}
