import { UsageError } from '../errors.js';
import type { KernelSource } from '../nn/kernels/load.js';
import { loadNativeAddon, nativeVariant } from '../nn/kernels/native.js';
import { compileWasmVariant, type WasmVariant } from '../nn/kernels/wasm-module.js';
import type { KernelChoice } from './config.js';

// A kernel build is named by its arithmetic: js, wasm-simd (multiply, then add) or
// wasm-relaxed-simd (fused multiply-add where the wasm kernels call madd). The same
// arithmetic gives the same bytes on any machine and any thread count, whichever
// implementation computes it: the WebAssembly kernels, or the native ones (native/), which
// sum every output in the same order.

/** The arithmetics, as checkpoints record them. */
export type Arithmetic = 'js' | 'wasm-simd' | 'wasm-relaxed-simd';
export const ARITHMETICS: readonly Arithmetic[] = ['js', 'wasm-simd', 'wasm-relaxed-simd'];

export interface ResolvedKernels extends KernelSource {
  /** the arithmetic, which fixes the bytes: js, wasm-simd or wasm-relaxed-simd */
  label: Arithmetic;
  /** what computes it, for logs and benchmarks: js, wasm, or native avx512 / avx2 / neon */
  implementation: string;
  /** why the native kernels are not used where auto or an arithmetic would have taken them */
  nativeUnavailable?: string;
}

const ARITHMETIC_OF: Record<WasmVariant, Arithmetic> = { simd: 'wasm-simd', relaxed: 'wasm-relaxed-simd' };

/**
 * auto: the fastest arithmetic that runs here, on the native kernels where they loaded, else
 * on wasm, else plain JavaScript; native and wasm: the fastest arithmetic on that
 * implementation, or an error; wasm-simd and wasm-relaxed-simd: that arithmetic (natively
 * where the addon loaded), or an error saying why not, so a run can reproduce the bytes of one
 * made elsewhere. `arithmetic` pins the arithmetic for the choices that leave it open (a
 * resumed run keeps its checkpoint's).
 */
export async function resolveKernels(
  choice: KernelChoice,
  arithmetic?: Arithmetic,
): Promise<ResolvedKernels> {
  const pinned =
    choice === 'wasm-simd' || choice === 'wasm-relaxed-simd' || choice === 'js' ? choice : arithmetic;
  if (pinned === 'js') return { name: 'js', label: 'js', implementation: 'js' };
  const refuse = (reason: string): never => {
    throw new UsageError((name) => `${name('kernels')} ${choice}: ${reason}`, 'kernels');
  };
  const variants: WasmVariant[] = pinned
    ? [pinned === 'wasm-simd' ? 'simd' : 'relaxed']
    : ['relaxed', 'simd'];
  if (choice !== 'wasm') {
    const native = nativeBuild(variants);
    if ('name' in native) return native;
    if (choice === 'native') refuse(`native kernels unavailable: ${native.reason}`);
    const wasm = await wasmBuild(variants);
    if ('name' in wasm) return { ...wasm, nativeUnavailable: native.reason };
    if (pinned) refuse(wasm.reason);
    return { name: 'js', label: 'js', implementation: 'js', nativeUnavailable: native.reason };
  }
  const wasm = await wasmBuild(variants);
  if ('name' in wasm) return wasm;
  return refuse(pinned ? wasm.reason : 'the WebAssembly SIMD kernels are not available here');
}

/** The first of `variants` the native kernels compute here, or why none. */
function nativeBuild(variants: readonly WasmVariant[]): ResolvedKernels | { reason: string } {
  const load = loadNativeAddon();
  if (!load.addon) return { reason: load.reason };
  let reason = '';
  for (const v of variants) {
    const native = nativeVariant(v === 'relaxed');
    if ('reason' in native) {
      reason ||= native.reason;
      continue;
    }
    return { name: 'native', native, label: ARITHMETIC_OF[v], implementation: `native ${native.isa}` };
  }
  return { reason };
}

/** The first of `variants` that compiles and computes its arithmetic here, or why none. */
async function wasmBuild(variants: readonly WasmVariant[]): Promise<ResolvedKernels | { reason: string }> {
  let reason = '';
  for (const v of variants) {
    const r = await compileWasmVariant(v);
    if (r.module) return { name: 'wasm', module: r.module, label: ARITHMETIC_OF[v], implementation: 'wasm' };
    reason ||= r.reason;
  }
  return { reason };
}

/** "wasm-relaxed-simd arithmetic, native avx512", as the logs say it (a ResolvedKernels or a start event). */
export function kernelsDescription(k: { readonly label: string; readonly implementation: string }): string {
  return k.label === 'js' ? 'js' : `${k.label} arithmetic, ${k.implementation}`;
}
