// The other side of src/train/core-latency.ts's ping-pong: answers each of `rounds` flags the
// main thread raises (1) by lowering it (0), then reports how many it answered.
import { parentPort, workerData } from 'node:worker_threads';

/** Answers `rounds` flags; in a function, so that the JIT optimises the loop as a whole. */
function answer(flag: Int32Array, rounds: number): number {
  let answered = 0;
  for (let i = 0; i < rounds; i++) {
    while (Atomics.load(flag, 0) !== 1);
    Atomics.store(flag, 0, 0);
    answered++;
  }
  return answered;
}

const { flag, rounds } = workerData as { flag: Int32Array; rounds: number };
Atomics.store(flag, 1, 1); // ready
parentPort?.postMessage(answer(flag, rounds));
