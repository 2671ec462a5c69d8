// A job's life, in one place for the server's runner, the queue dispatcher, the queue worker
// and the API: its states, which of them are final, why a running job stops, and how often
// its progress is written.

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type FinalState = 'succeeded' | 'failed' | 'cancelled';

const FINAL: ReadonlySet<string> = new Set<FinalState>(['succeeded', 'failed', 'cancelled']);

/** Whether a job in `state` has ended (nothing will change it again). */
export const isFinal = (state: string): state is FinalState => FINAL.has(state);

/**
 * Why a running job is asked to stop: `cancelled` (DELETE: it ends cancelled) or `shutdown`
 * (the process is stopping: it stays resumable from its checkpoint). The AbortSignal's reason.
 */
export type StopReason = 'cancelled' | 'shutdown';

export class JobStop extends Error {
  constructor(readonly reason: StopReason) {
    super(`job ${reason}`);
    this.name = 'JobStop';
  }
}

/** Asks a job's controller to stop for `reason`; the first reason given wins. */
export function stopJob(controller: AbortController, reason: StopReason): void {
  if (!controller.signal.aborted) controller.abort(new JobStop(reason));
}

/** The reason a job's signal was aborted with, or null when it was not. */
export function stopReason(signal: AbortSignal): StopReason | null {
  return signal.aborted && signal.reason instanceof JobStop ? signal.reason.reason : null;
}

/** The job store gets a running job's progress at most this often (the SSE stream every update). */
export const STORE_PROGRESS_MS = 500;
/** A queue worker sends a job's progress to Redis at most this often. */
export const QUEUE_PROGRESS_MS = 250;

/**
 * Progress is advisory: a running job reports it at most once per `intervalMs`, and every
 * epoch's end always.
 */
export class ProgressThrottle {
  private last = Number.NEGATIVE_INFINITY;

  constructor(private readonly intervalMs: number) {}

  /** Whether to report now; `always` for an epoch's end. */
  due(always = false, now = Date.now()): boolean {
    if (!always && now - this.last < this.intervalMs) return false;
    this.last = now;
    return true;
  }
}
