import { Worker } from 'node:worker_threads';

// How far apart two threads' cores are: the time for a flag to go from one to the other and
// back, through one cache line. On a VM the host may move its vCPUs between cores that share a
// cache and cores that do not, and that changes how a training step scales with threads (on a
// 2-vCPU KVM guest of an AMD EPYC, 2 threads ran 1.87× of 1 in the first case and 1.62× in the
// second; bench/results/2026-12-04-vm-zen2-first-layer), so `gradpool bench` reports it beside
// its scaling table. In JavaScript a round trip costs more than the line's own transfer: there
// ~150 ns against C's ~24 ns in the first case, ~470–530 ns against ~215–240 ns in the second.

const WORKER_FILE = new URL('../../workers/flag-worker.js', import.meta.url);

/**
 * ms for `rounds` round trips: raise the flag, wait until the worker lowers it. A worker that
 * stops answering (its exit event cannot run while this thread polls) is an error after a
 * second without an answer.
 */
function raise(flag: Int32Array, rounds: number): number {
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    Atomics.store(flag, 0, 1);
    for (let polls = 1; Atomics.load(flag, 0) !== 0; polls++) {
      if (polls % 1_000_000 === 0 && performance.now() - t0 > 1000 * (i + 1))
        throw new Error(`the flag worker stopped answering after ${i} of ${rounds} rounds`);
    }
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
    // a worker that fails to start or dies is an error here, not a wait without end
    let failure: Error | null = null;
    const fail = (e: unknown) => {
      failure ??= e instanceof Error ? e : new Error(`the flag worker exited (${String(e)})`);
    };
    worker.on('error', fail).on('exit', fail);
    const answered = new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('exit', (code) =>
        reject(new Error(`the flag worker exited (code ${code}) before answering`)),
      );
    });
    answered.catch(() => {}); // awaited below, or moot once a failure is thrown
    try {
      while (Atomics.load(flag, 1) !== 1) {
        if (failure) throw failure;
        await new Promise((r) => setTimeout(r, 1));
      }
      const ms = raise(flag, rounds);
      const count = await answered;
      if (count !== rounds) throw new Error(`the flag worker answered ${count} of ${rounds} rounds`);
      times.push((ms * 1e6) / rounds);
    } finally {
      worker.off('exit', fail);
      await worker.terminate();
    }
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
