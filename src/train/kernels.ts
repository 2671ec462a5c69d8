import { UsageError } from '../errors.js';
import type { KernelName } from '../nn/kernels/types.js';
import { compileWasmKernels } from '../nn/kernels/wasm.js';
import type { KernelChoice } from './config.js';

export interface ResolvedKernels {
  name: KernelName;
  module?: WebAssembly.Module;
}

/** auto: wasm SIMD where it compiles on this runtime, plain JavaScript otherwise. */
export async function resolveKernels(choice: KernelChoice): Promise<ResolvedKernels> {
  if (choice === 'js') return { name: 'js' };
  const module = await compileWasmKernels();
  if (module) return { name: 'wasm', module };
  if (choice === 'wasm')
    throw new UsageError('--kernels wasm: the WebAssembly SIMD kernels are not available here');
  return { name: 'js' };
}
