import { UsageError } from '../errors.js';
import type { KernelName } from '../nn/kernels/types.js';
import { compileWasmKernels, compileWasmVariant } from '../nn/kernels/wasm-module.js';
import type { KernelChoice } from './config.js';

export interface ResolvedKernels {
  name: KernelName;
  /** what ran, for logs and benchmarks: js, wasm-simd or wasm-relaxed-simd */
  label: string;
  module?: WebAssembly.Module;
}

/**
 * auto: the fastest wasm build that runs here, plain JavaScript where none does; wasm: the
 * same, or an error; wasm-simd and wasm-relaxed-simd: that build, or an error saying why not
 * (so a run can reproduce the bytes of one made elsewhere).
 */
export async function resolveKernels(choice: KernelChoice): Promise<ResolvedKernels> {
  if (choice === 'js') return { name: 'js', label: 'js' };
  if (choice === 'wasm-simd' || choice === 'wasm-relaxed-simd') {
    const r = await compileWasmVariant(choice === 'wasm-simd' ? 'simd' : 'relaxed');
    if (!r.module) throw new UsageError((name) => `${name('kernels')} ${choice}: ${r.reason}`, 'kernels');
    return { name: 'wasm', label: choice, module: r.module };
  }
  const compiled = await compileWasmKernels();
  if (compiled) {
    const label = compiled.variant === 'relaxed' ? 'wasm-relaxed-simd' : 'wasm-simd';
    return { name: 'wasm', label, module: compiled.module };
  }
  if (choice === 'wasm')
    throw new UsageError(
      (name) => `${name('kernels')} wasm: the WebAssembly SIMD kernels are not available here`,
      'kernels',
    );
  return { name: 'js', label: 'js' };
}
