// What the machine gives T threads at once when they share nothing: each thread runs a kernel
// on memory of its own for the same interval. Per-thread GFLOP/s that falls as T grows is the
// hardware's doing (shared cores, clocks, a busy host), not the trainer's, and bounds the
// efficiency any data-parallel step can reach there. Beside it, the same forward kernel on one
// weight matrix that all T threads rewrite a band of between rounds: what fetching parameters
// from the cores that updated them costs, the part of training's compute cost that sharing
// adds.

import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { NativeVariant } from '../src/nn/kernels/native.js';
import { sharedFloats } from './ceiling-layout.js';
import type { CeilingTask } from './ceiling-worker.js';

export interface CeilingRow {
  threads: number;
  /** mean over the threads, GFLOP/s */
  maddPerThread: number;
  /** the native register-only peak's, where the native kernels loaded */
  nativeMaddPerThread: number | null;
  forwardPerThread: number;
  /** forwardPerThread ÷ the first row's */
  forwardEfficiency: number;
  /** the forward kernel on parameters the other threads rewrote since this thread last read them */
  sharedForwardPerThread: number;
  /** the same work split by output neurons: own parameters, the whole batch's inputs */
  columnsForwardPerThread: number;
}

const WORKER = new URL('./ceiling-worker.js', import.meta.url);

async function runAtOnce(task: Omit<CeilingTask, 'sync'>, ms: number): Promise<number> {
  const sync = new SharedArrayBuffer(24);
  const pages = Math.ceil((sharedFloats(task.threads) * 4) / 65536) + 1;
  const shared =
    task.kind === 'forward-shared' || task.kind === 'forward-columns'
      ? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true })
      : undefined;
  const flags = new Int32Array(sync);
  const results: Promise<number>[] = [];
  const workers: Worker[] = [];
  for (let t = 0; t < task.threads; t++) {
    const worker = new Worker(WORKER, { workerData: { ...task, sync, shared, index: t } });
    workers.push(worker);
    results.push(
      new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
    );
  }
  try {
    while (Atomics.load(flags, 1) < task.threads) {
      const wait = Atomics.waitAsync(flags, 1, Atomics.load(flags, 1), 50);
      if (wait.async) await wait.value;
    }
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 0);
    await new Promise((resolve) => setTimeout(resolve, ms));
    Atomics.store(flags, 2, 1);
    const gflops = await Promise.all(results);
    return gflops.reduce((s, x) => s + x, 0) / gflops.length;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Per-thread GFLOP/s of register-only multiply-adds and of the forward kernel, T threads at once.
 * The forward runs the native kernels of `native` where given (as training does), else `kernels`.
 */
export async function parallelCeiling(
  threads: readonly number[],
  kernels: WebAssembly.Module,
  peakFile: URL,
  native: NativeVariant | null,
  ms = 500,
): Promise<CeilingRow[]> {
  const fwd = { module: kernels, native: native ?? undefined };
  const peak = await WebAssembly.compile(readFileSync(peakFile));
  // two rounds over the thread counts, the better of each: one slow moment on a shared host
  // (seen on the 16-core machine: 24 against 36 GFLOP/s a few seconds apart) is not the hardware
  const madd = new Array<number>(threads.length).fill(0);
  const nativeMadd = new Array<number>(threads.length).fill(0);
  const forward = new Array<number>(threads.length).fill(0);
  const sharedForward = new Array<number>(threads.length).fill(0);
  const columnsForward = new Array<number>(threads.length).fill(0);
  for (let round = 0; round < 2; round++) {
    for (const [i, T] of threads.entries()) {
      madd[i] = Math.max(madd[i], await runAtOnce({ kind: 'madd', module: peak, threads: T }, ms));
      if (native)
        nativeMadd[i] = Math.max(
          nativeMadd[i],
          await runAtOnce({ kind: 'native-madd', native, threads: T }, ms),
        );
      forward[i] = Math.max(forward[i], await runAtOnce({ kind: 'forward', ...fwd, threads: T }, ms));
      sharedForward[i] = Math.max(
        sharedForward[i],
        await runAtOnce({ kind: 'forward-shared', ...fwd, threads: T }, ms),
      );
      columnsForward[i] = Math.max(
        columnsForward[i],
        await runAtOnce({ kind: 'forward-columns', ...fwd, threads: T }, ms),
      );
    }
  }
  return threads.map((T, i) => ({
    threads: T,
    maddPerThread: madd[i],
    nativeMaddPerThread: native ? nativeMadd[i] : null,
    forwardPerThread: forward[i],
    forwardEfficiency: forward[i] / forward[0],
    sharedForwardPerThread: sharedForward[i],
    columnsForwardPerThread: columnsForward[i],
  }));
}
