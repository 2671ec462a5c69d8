// Waiting on a shared Int32 field: poll it for a bounded number of iterations, then sleep in
// Atomics.wait. A futex wake of many threads costs tens of microseconds each step, while
// polling sees the change within a cache-line transfer. Polling only pays when a core stays
// free for the coordinator: measured on a 16-core Xeon (bench/results/), 8 polling workers
// ran 99.6k samples/s against 88.3k sleeping, but 16 polling workers fell to 100.6k against
// 114.3k sleeping, because the coordinator then waited for a time slice to publish each step.

/** Iterations of Atomics.load before sleeping: roughly 20–50 µs on current x86 cores. */
export const DEFAULT_SPIN = 20_000;

/** The spin budget for `threads` workers on `cores` cores; GRADPOOL_SPIN overrides it. */
export function spinBudget(threads: number, cores: number, env = process.env.GRADPOOL_SPIN): number {
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (Number.isInteger(n) && n >= 0) return n;
  }
  return threads < cores ? DEFAULT_SPIN : 0;
}

/** Returns once ints[index] !== value (spinning first, then sleeping). */
export function waitWhileEqual(ints: Int32Array, index: number, value: number, spin: number): void {
  for (let i = 0; i < spin; i++) if (Atomics.load(ints, index) !== value) return;
  while (Atomics.load(ints, index) === value) Atomics.wait(ints, index, value);
}
