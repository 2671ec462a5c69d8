import { UsageError } from '../errors.js';
import type { KernelName } from '../nn/kernels/types.js';
import { compileWasmKernels } from '../nn/kernels/wasm-module.js';
import type { KernelChoice } from './config.js';

export interface ResolvedKernels {
  name: KernelName;
  /** what ran, for logs and benchmarks: js, wasm-simd or wasm-relaxed-simd */
  label: string;
  module?: WebAssembly.Module;
}

/** auto: wasm SIMD where it compiles on this runtime, plain JavaScript otherwise. */
export async function resolveKernels(choice: KernelChoice): Promise<ResolvedKernels> {
  if (choice === 'js') return { name: 'js', label: 'js' };
  const compiled = await compileWasmKernels();
  if (compiled) {
    const label = compiled.variant === 'relaxed' ? 'wasm-relaxed-simd' : 'wasm-simd';
    return { name: 'wasm', label, module: compiled.module };
  }
  if (choice === 'wasm')
    throw new UsageError('--kernels wasm: the WebAssembly SIMD kernels are not available here');
  return { name: 'js', label: 'js' };
}
