import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';

// Finding and compiling the kernels. Two builds of assembly/kernels.ts: plain 128-bit SIMD,
// and the same with relaxed-SIMD fused multiply-add, which Node 20 keeps behind a V8 flag.
// We turn that flag on before the first compile (V8 reads it at validation time) and keep
// the plain build as the fallback wherever relaxed SIMD does not validate.

export const WASM_FILES = {
  simd: new URL('../../../kernels.wasm', import.meta.url),
  relaxed: new URL('../../../kernels-relaxed.wasm', import.meta.url),
} as const;

export type WasmVariant = keyof typeof WASM_FILES;

export interface CompiledKernels {
  readonly variant: WasmVariant;
  readonly module: WebAssembly.Module;
}

let relaxedFlagSet = false;

/** The fastest build this runtime accepts, or null when none can be loaded. */
export async function compileWasmKernels(allowRelaxed = true): Promise<CompiledKernels | null> {
  const order: WasmVariant[] = allowRelaxed ? ['relaxed', 'simd'] : ['simd'];
  for (const variant of order) {
    let bytes: Buffer;
    try {
      bytes = await readFile(WASM_FILES[variant]);
    } catch {
      continue;
    }
    if (variant === 'relaxed' && !WebAssembly.validate(bytes) && !relaxedFlagSet) {
      setFlagsFromString('--experimental-wasm-relaxed-simd');
      relaxedFlagSet = true;
    }
    if (WebAssembly.validate(bytes)) return { variant, module: await WebAssembly.compile(bytes) };
  }
  return null;
}

/** One named build, for benchmarks comparing them; null when it does not validate here. */
export async function compileWasmVariant(variant: WasmVariant): Promise<WebAssembly.Module | null> {
  const compiled = await compileWasmKernels(variant === 'relaxed');
  return compiled?.variant === variant ? compiled.module : null;
}
