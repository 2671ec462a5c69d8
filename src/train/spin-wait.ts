import { checkWholeNumber } from './numbers.js';

// Waiting on a shared Int32 field: poll it for a bounded number of iterations, then sleep in
// Atomics.wait. A futex wake of many sleeping threads costs tens of microseconds per step,
// while polling sees the change within a cache-line transfer. Polling must never take the
// core of the thread being waited for: workers poll only while threads ≤ cores, the one that
// completes a command sleeps at once (its core goes to the coordinator it woke), and the
// coordinator polls only when it has a core of its own. Measured (bench/results/):
// 2-core EPYC, 2 threads: 36.5k and 36.5k samples/s polling against 31.9k and 27.5k asleep;
// 16-core Xeon: within that shared host's noise either way (16 threads: 146.5k, 122.9k
// against 135.4k, 139.2k). An earlier rule that let all 16 workers poll fell to 100.6k
// against 114.3k asleep: the coordinator waited for a time slice to publish each step.

/** Iterations of Atomics.load before sleeping: roughly 20–50 µs on current x86 cores. */
export const DEFAULT_SPIN = 20_000;

/** The spin budget for `threads` workers on `cores` cores; GRADPOOL_SPIN overrides it. */
export function spinBudget(threads: number, cores: number, env = process.env.GRADPOOL_SPIN): number {
  if (env !== undefined && env !== '')
    return checkWholeNumber('GRADPOOL_SPIN', env, 0, Number.MAX_SAFE_INTEGER);
  return threads <= cores ? DEFAULT_SPIN : 0;
}

/** Returns once ints[index] !== value (spinning first, then sleeping). */
export function waitWhileEqual(ints: Int32Array, index: number, value: number, spin: number): void {
  for (let i = 0; i < spin; i++) if (Atomics.load(ints, index) !== value) return;
  while (Atomics.load(ints, index) === value) Atomics.wait(ints, index, value);
}
