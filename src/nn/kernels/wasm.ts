import { gatherInputs } from './gather.js';
import type { Kernels } from './types.js';
import { compileWasmKernels } from './wasm-module.js';

// WebAssembly SIMD kernels (assembly/kernels.ts, built by AssemblyScript into dist/kernels*.wasm).
// The module imports the arena as its shared memory, so kernels read and write the same
// bytes as JavaScript: offsets are passed in floats and scaled to bytes here.

interface WasmExports {
  linearForward(
    out: number,
    a: number,
    w: number,
    bias: number,
    B: number,
    I: number,
    O: number,
    pack: number,
    ldo: number,
  ): void;
  linearBackwardParams(
    dw: number,
    db: number,
    dz: number,
    a: number,
    B: number,
    I: number,
    O: number,
    o0: number,
    o1: number,
    pack: number,
  ): void;
  linearBackwardInput(da: number, dz: number, w: number, B: number, I: number, O: number, pack: number): void;
  activationForward(act: number, x: number, n: number): void;
  activationBackward(act: number, d: number, a: number, n: number): void;
  softmaxCrossEntropy(logits: number, labels: number, B: number, C: number): number;
  sgdUpdate(
    params: number,
    velocity: number,
    paramsOut: number,
    velocityOut: number,
    grad: number,
    n: number,
    lr: number,
    momentum: number,
    weightDecay: number,
    invBatch: number,
    nesterov: number,
  ): void;
  adamUpdate(
    params: number,
    m: number,
    v: number,
    paramsOut: number,
    mOut: number,
    vOut: number,
    grad: number,
    n: number,
    stepSize: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    decay: number,
    invBc2Sqrt: number,
    invBatch: number,
  ): void;
}

export async function instantiateWasmKernels(
  memory: WebAssembly.Memory,
  module?: WebAssembly.Module,
): Promise<Kernels> {
  const mod = module ?? (await compileWasmKernels())?.module;
  if (!mod) throw new Error('wasm kernels unavailable: dist/kernels.wasm is missing or does not validate');
  const instance = await WebAssembly.instantiate(mod, { env: { memory, abort: wasmAbort } });
  const x = instance.exports as unknown as WasmExports;
  const arena = new Float32Array(memory.buffer);
  return {
    name: 'wasm',
    linearForward: (out, a, w, bias, B, I, O, pack, outStride = O) =>
      x.linearForward(out * 4, a * 4, w * 4, bias * 4, B, I, O, pack * 4, outStride),
    linearBackwardParams: (dw, db, dz, a, B, I, O, o0, o1, pack) =>
      x.linearBackwardParams(dw * 4, db * 4, dz * 4, a * 4, B, I, O, o0, o1, pack * 4),
    linearBackwardInput: (da, dz, w, B, I, O, pack) =>
      x.linearBackwardInput(da * 4, dz * 4, w * 4, B, I, O, pack * 4),
    activationForward: (act, p, n) => x.activationForward(act, p * 4, n),
    activationBackward: (act, d, a, n) => x.activationBackward(act, d * 4, a * 4, n),
    softmaxCrossEntropy: (logits, labels, B, C) => x.softmaxCrossEntropy(logits * 4, labels * 4, B, C),
    sgdUpdate: (
      params,
      velocity,
      paramsOut,
      velocityOut,
      grad,
      n,
      lr,
      momentum,
      weightDecay,
      invBatch,
      nesterov,
    ) =>
      x.sgdUpdate(
        params * 4,
        velocity * 4,
        paramsOut * 4,
        velocityOut * 4,
        grad * 4,
        n,
        lr,
        momentum,
        weightDecay,
        invBatch,
        nesterov,
      ),
    // spelled out: a rest parameter would allocate an array per call in the update's loop
    adamUpdate: (params, m, v, paramsOut, mOut, vOut, grad, n, step, b1, b2, eps, wd, decay, bc2, inv) =>
      x.adamUpdate(
        params * 4,
        m * 4,
        v * 4,
        paramsOut * 4,
        mOut * 4,
        vOut * 4,
        grad * 4,
        n,
        step,
        b1,
        b2,
        eps,
        wd,
        decay,
        bc2,
        inv,
      ),
    gatherInputs: (dst, inputs, rows, from, B, features) =>
      gatherInputs(arena, dst, inputs, rows, from, B, features),
  };
}

function wasmAbort(): never {
  throw new Error('wasm kernel aborted');
}
