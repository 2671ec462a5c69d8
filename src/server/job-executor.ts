import type { EventEmitter } from 'node:events';

/**
 * What the HTTP API needs from whatever runs its jobs: this process (JobRunner) or workers
 * on any machine through a Redis queue (QueueDispatcher). The store stays the server's.
 */
export interface JobExecutor {
  /** emits `job:<id>` with {state, progress?, metrics?} as the job moves */
  readonly events: EventEmitter;
  /** false once shutting down: new jobs get 503 */
  readonly isAccepting: boolean;
  /** a job was just stored as queued; resolves once it is handed on (not when it has run) */
  submitted(id: string): Promise<void>;
  /** cancels a queued job at once, a running one after its current step (keeping its checkpoint) */
  cancel(id: string): Promise<void>;
  /** stops taking jobs; running ones stop at their next step and stay resumable */
  shutdown(): Promise<void>;
}
