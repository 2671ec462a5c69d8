// One thread of bench/parallel-ceiling.ts: runs one kernel on memory of its own, starting
// and stopping with the others, and reports its GFLOP/s.

import { parentPort, workerData } from 'node:worker_threads';
import { instantiateWasmKernels } from '../src/nn/kernels/wasm.js';
import { SHARD_ROWS } from '../src/train/control.js';

export interface CeilingTask {
  readonly kind: 'madd' | 'forward';
  /** the kernels build (forward) or assembly/peak.ts (madd) */
  readonly module: WebAssembly.Module;
  /** Int32 [go, ready, stop] */
  readonly sync: SharedArrayBuffer;
  readonly threads: number;
}

const GO = 0;
const READY = 1;
const STOP = 2;
const { kind, module, sync } = workerData as CeilingTask;
const flags = new Int32Array(sync);

// Forward A·Wᵀ on one phase-1 shard of the reference recipe: W is 0.8 MB, the whole first layer.
const B = SHARD_ROWS;
const I = 784;
const O = 256;
let call: () => number;
if (kind === 'madd') {
  const instance = await WebAssembly.instantiate(module, { env: { abort() {} } });
  const peakMadd = instance.exports.peakMadd as (n: number, seed: number) => number;
  const rounds = 20_000;
  call = () => {
    peakMadd(rounds, 0.5);
    return rounds * 96;
  };
} else {
  const floats = 16384 + B * I + O * I + O + B * O + 4 * I;
  const memory = new WebAssembly.Memory({
    initial: Math.ceil((floats * 4) / 65536) + 1,
    maximum: Math.ceil((floats * 4) / 65536) + 1,
    shared: true,
  });
  const m = new Float32Array(memory.buffer);
  for (let i = 16384; i < floats; i++) m[i] = Math.sin(i) * 0.5;
  const k = await instantiateWasmKernels(memory, module);
  const a = 16384;
  const w = a + B * I;
  const bias = w + O * I;
  const out = bias + O;
  const pack = out + B * O;
  call = () => {
    k.linearForward(out, a, w, bias, B, I, O, pack);
    return 2 * B * I * O;
  };
}

const warmEnd = performance.now() + 200;
while (performance.now() < warmEnd) call();
Atomics.add(flags, READY, 1);
Atomics.notify(flags, READY);
Atomics.wait(flags, GO, 0);
let flop = 0;
const t0 = performance.now();
while (Atomics.load(flags, STOP) === 0) flop += call();
const seconds = (performance.now() - t0) / 1000;
parentPort?.postMessage(flop / seconds / 1e9);
