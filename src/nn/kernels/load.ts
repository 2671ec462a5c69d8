import { jsKernels } from './js.js';
import { naiveKernels } from './naive.js';
import { type NativeVariant, nativeKernels } from './native.js';
import type { KernelName, Kernels } from './types.js';
import { instantiateWasmKernels } from './wasm.js';

/**
 * What a thread needs to build its kernels: the implementation, and the wasm build's module or
 * the native variant. Structured-clonable, so the coordinator decides once and every worker
 * builds the same kernels.
 */
export interface KernelSource {
  readonly name: KernelName;
  readonly module?: WebAssembly.Module;
  readonly native?: NativeVariant;
}

/** Builds the kernel set `source` names over a shared arena memory. */
export async function loadKernels(source: KernelSource, memory: WebAssembly.Memory): Promise<Kernels> {
  const m = new Float32Array(memory.buffer);
  if (source.name === 'naive') return naiveKernels(m);
  if (source.name === 'js') return jsKernels(m);
  if (source.name === 'native') {
    if (!source.native) throw new Error('native kernels need a variant (isa, fused)');
    return nativeKernels(memory, source.native);
  }
  return instantiateWasmKernels(memory, source.module);
}
