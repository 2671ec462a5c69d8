import { jsKernels } from './js.js';
import { naiveKernels } from './naive.js';
import type { KernelName, Kernels } from './types.js';
import { instantiateWasmKernels } from './wasm.js';

/** Builds the named kernel set over a shared arena memory. */
export async function loadKernels(
  name: KernelName,
  memory: WebAssembly.Memory,
  wasmModule?: WebAssembly.Module,
): Promise<Kernels> {
  const m = new Float32Array(memory.buffer);
  if (name === 'naive') return naiveKernels(m);
  if (name === 'js') return jsKernels(m);
  return instantiateWasmKernels(memory, wasmModule);
}
