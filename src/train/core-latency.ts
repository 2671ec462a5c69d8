import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

// How far apart two threads' cores are: the time for a flag to go from one to the other and
// back, through one cache line. On a VM the host may move its vCPUs between cores that share a
// cache and cores that do not, and that changes how a training step scales with threads (on a
// 2-vCPU KVM guest of an AMD EPYC, 2 threads ran 1.87× of 1 in the first case and 1.62× in the
// second; bench/results/2026-12-04-vm-zen2-first-layer), so `gradpool bench` reports it beside
// its scaling table. In JavaScript a round trip costs more than the line's own transfer: there
// ~150 ns against C's ~24 ns in the first case, ~470–530 ns against ~215–240 ns in the second.

const WORKER_FILE = new URL('../../workers/flag-worker.js', import.meta.url);

/** ms for `rounds` round trips: raise the flag, wait until the worker lowers it */
function raise(flag: Int32Array, rounds: number): number {
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    Atomics.store(flag, 0, 1);
    while (Atomics.load(flag, 0) !== 0);
  }
  return performance.now() - t0;
}

/**
 * Nanoseconds per round trip of a flag between this thread and a worker thread, the median of
 * `runs` runs of `rounds` round trips each. Both threads poll, so each needs a core of its own:
 * on one core this measures time slices, not a cache line.
 */
export async function coreRoundTripNs(rounds = 20_000, runs = 5): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    // the flag and the ready bit on a cache line of their own
    const flag = new Int32Array(new SharedArrayBuffer(128), 64, 2);
    const worker = new Worker(WORKER_FILE, { workerData: { flag, rounds } });
    try {
      const answered = once(worker, 'message');
      while (Atomics.load(flag, 1) !== 1) await new Promise((r) => setTimeout(r, 1));
      const ms = raise(flag, rounds);
      const [count] = await answered;
      if (count !== rounds) throw new Error(`the flag worker answered ${count} of ${rounds} rounds`);
      times.push((ms * 1e6) / rounds);
    } finally {
      await worker.terminate();
    }
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
