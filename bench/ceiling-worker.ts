// One thread of bench/parallel-ceiling.ts: runs one kernel, starting and stopping with the
// others, and reports its GFLOP/s.

import { parentPort, workerData } from 'node:worker_threads';
import { loadNativeAddon, type NativeVariant, nativeKernels } from '../src/nn/kernels/native.js';
import { instantiateWasmKernels } from '../src/nn/kernels/wasm.js';
import { B, BASE, BATCH, I, O, PACK, PRIVATE, sharedFloats } from './ceiling-layout.js';

export interface CeilingTask {
  /**
   * madd: multiply-adds on registers. forward: A·Wᵀ on memory of this thread's own.
   * forward-shared: the same product on one W that all threads share, each round after every
   * thread rewrote its own rows of it, as training's forward reads parameters their owners
   * just updated. forward-columns: the same rounds, but each thread computes its own rows of W
   * (its band of output neurons) for the whole batch, whose inputs all threads rewrote: the
   * split that would keep W where it was updated and move the inputs instead.
   */
  readonly kind: 'madd' | 'native-madd' | 'forward' | 'forward-shared' | 'forward-columns';
  /** the kernels build (forward) or assembly/peak.ts (madd); unused by native-madd */
  readonly module?: WebAssembly.Module;
  /**
   * native-madd: the native variant whose register-only peak (native/src/peak.c) runs; the
   * forward kinds: the native kernels they run instead of the wasm module's, where given
   */
  readonly native?: NativeVariant;
  /** Int32 [go, ready, stop, arrived, phase, decision] */
  readonly sync: SharedArrayBuffer;
  readonly threads: number;
  /** forward-shared: the memory all threads use, and this thread's index */
  readonly shared?: WebAssembly.Memory;
  readonly index?: number;
}

const GO = 0;
const READY = 1;
const STOP = 2;
const ARRIVED = 3;
const PHASE = 4;
const DECISION = 5;
const { kind, module, sync, threads, shared, native, index = 0 } = workerData as CeilingTask;
const flags = new Int32Array(sync);

let call: () => number;
/** forward-shared and -columns: one round, or false once the threads have agreed to stop */
let round: (() => number | false) | null = null;
if (kind === 'native-madd') {
  const load = loadNativeAddon();
  if (!load.addon || !native) throw new Error('native-madd needs the native kernels');
  const { addon } = load;
  call = () => addon.peak(native.isa, native.fused, 200_000);
} else if (kind === 'madd') {
  if (!module) throw new Error('madd needs assembly/peak.ts');
  const instance = await WebAssembly.instantiate(module, { env: { abort() {} } });
  const peakMadd = instance.exports.peakMadd as (n: number, seed: number) => number;
  const rounds = 20_000;
  call = () => {
    peakMadd(rounds, 0.5);
    return rounds * 96;
  };
} else {
  const own = kind === 'forward';
  const floats = own ? BASE + B * I + O * I + O + B * O + PACK : sharedFloats(threads);
  const pages = Math.ceil((floats * 4) / 65536) + 1;
  const memory = own ? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }) : shared;
  if (!memory) throw new Error(`${kind} needs the shared memory`);
  const m = new Float32Array(memory.buffer);
  const k = native ? nativeKernels(memory, native) : await instantiateWasmKernels(memory, module);
  const w = BASE;
  const bias = w + O * I;
  const batch = bias + O; // BATCH × I inputs, shared
  const mine = own ? bias + O : batch + BATCH * I + index * PRIVATE;
  const a = mine;
  const out = a + B * I;
  const pack = out + B * O;
  const velocity = pack + PACK; // O × I: enough for any thread's rows
  const outBand = velocity + O * I; // BATCH × O: enough for any thread's band
  if (own || index === 0) for (let i = w; i < bias + O; i++) m[i] = Math.sin(i) * 0.05;
  for (let i = a; i < out; i++) m[i] = Math.sin(i) * 0.5;
  call = () => {
    k.linearForward(out, a, w, bias, B, I, O, pack);
    return 2 * B * I * O;
  };
  if (!own) {
    // each thread owns a band of W's rows and updates it in place, as phase 2 does; in
    // training each thread runs 32/T shards of 4 rows per step, the first of them on
    // parameters fetched from their owners
    const rows0 = Math.floor((O * index) / threads);
    const rows1 = Math.floor((O * (index + 1)) / threads);
    const shards = Math.max(1, Math.round(32 / threads));
    const columns = kind === 'forward-columns';
    // this thread's rows of the batch, rewritten each round as phase 1's gather does
    const batch0 = batch + Math.floor((BATCH * index) / threads) * I;
    const batch1 = batch + Math.floor((BATCH * (index + 1)) / threads) * I;
    round = () => {
      // the thread's A stands in for a gradient: any bounded values do
      for (let r = rows0; r < rows1; r += B) {
        const at = w + r * I;
        const v = velocity + (r - rows0) * I;
        k.sgdUpdate(at, v, at, v, a, Math.min(B, rows1 - r) * I, 1e-6, 0.9, 0, 1, 0);
      }
      if (columns) for (let i = batch0; i < batch1; i++) m[i] = m[a + (i % (B * I))];
      if (barrier()) return false;
      const t0 = performance.now();
      let flop = 0;
      if (columns) {
        const n = rows1 - rows0;
        k.linearForward(outBand, batch, w + rows0 * I, bias + rows0, BATCH, I, n, pack);
        flop = 2 * BATCH * I * n;
      } else {
        for (let s = 0; s < shards; s++) flop += call();
      }
      elapsed += performance.now() - t0;
      barrier();
      return flop;
    };
  }
}

let elapsed = 0;
/** Spins until all threads arrive; returns whether the stop flag was up when the last one did. */
function barrier(): boolean {
  const phase = Atomics.load(flags, PHASE);
  if (Atomics.add(flags, ARRIVED, 1) + 1 === threads) {
    Atomics.store(flags, DECISION, Atomics.load(flags, STOP));
    Atomics.store(flags, ARRIVED, 0);
    Atomics.add(flags, PHASE, 1);
  } else {
    while (Atomics.load(flags, PHASE) === phase);
  }
  return Atomics.load(flags, DECISION) !== 0;
}

const warmEnd = performance.now() + 200;
if (!round) while (performance.now() < warmEnd) call();
Atomics.add(flags, READY, 1);
Atomics.notify(flags, READY);
Atomics.wait(flags, GO, 0);
let flop = 0;
if (round) {
  // every thread runs the same rounds: the stop is decided inside a barrier
  for (let f = round(); f !== false; f = round()) flop += f;
} else {
  const t0 = performance.now();
  while (Atomics.load(flags, STOP) === 0) flop += call();
  elapsed = performance.now() - t0;
}
parentPort?.postMessage(flop / (elapsed / 1000) / 1e9);
