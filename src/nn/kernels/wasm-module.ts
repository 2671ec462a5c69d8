import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';

// Finding and compiling the kernels. Two builds of assembly/kernels.ts: plain 128-bit SIMD,
// and the same with relaxed-SIMD fused multiply-add, which Node 20 keeps behind a V8 flag.
// We turn that flag on before the first compile (V8 reads it at validation time) and keep
// the plain build as the fallback wherever relaxed SIMD does not validate.
//
// Relaxed SIMD leaves it to the runtime whether a multiply-add rounds once or twice, and V8
// fuses it only where the CPU has FMA3 (x64 without it, or a VM that hides it, gets a multiply
// and an add). The relaxed build counts as available only where a probe finds it fused: where
// it is not, it computes exactly what the plain build does, and a run labelled
// wasm-relaxed-simd there would not give the bytes the same label gives elsewhere.

export const WASM_FILES = {
  simd: new URL('../../../kernels.wasm', import.meta.url),
  relaxed: new URL('../../../kernels-relaxed.wasm', import.meta.url),
} as const;

export type WasmVariant = keyof typeof WASM_FILES;

export interface CompiledKernels {
  readonly variant: WasmVariant;
  readonly module: WebAssembly.Module;
}

/** A build, or why it cannot be used here. */
export type VariantResult = { module: WebAssembly.Module } | { module: null; reason: string };

let relaxedFlagSet = false;

/** The fastest build this runtime accepts, or null when none can be loaded. */
export async function compileWasmKernels(allowRelaxed = true): Promise<CompiledKernels | null> {
  const order: WasmVariant[] = allowRelaxed ? ['relaxed', 'simd'] : ['simd'];
  for (const variant of order) {
    const r = await compileWasmVariant(variant);
    if (r.module) return { variant, module: r.module };
  }
  return null;
}

const compiled = new Map<WasmVariant, Promise<VariantResult>>();

/**
 * One named build: its module, or the reason it cannot run here. Compiled and probed once per
 * process: the answer cannot change while it runs, and every train, eval, bench and job asks.
 */
export function compileWasmVariant(variant: WasmVariant): Promise<VariantResult> {
  let result = compiled.get(variant);
  if (!result) {
    result = compileAndProbe(variant);
    compiled.set(variant, result);
  }
  return result;
}

async function compileAndProbe(variant: WasmVariant): Promise<VariantResult> {
  let bytes: Buffer;
  try {
    bytes = await readFile(WASM_FILES[variant]);
  } catch {
    return { module: null, reason: `${WASM_FILES[variant].pathname} is missing (run npm run build)` };
  }
  if (variant === 'relaxed' && !WebAssembly.validate(bytes) && !relaxedFlagSet) {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    relaxedFlagSet = true;
  }
  if (!WebAssembly.validate(bytes)) {
    return {
      module: null,
      reason:
        variant === 'relaxed'
          ? `this runtime (Node ${process.version}) does not accept relaxed SIMD`
          : `this runtime (Node ${process.version}) does not accept WebAssembly SIMD`,
    };
  }
  const module = await WebAssembly.compile(bytes);
  if (variant === 'relaxed' && !(await maddIsFused(module))) {
    return {
      module: null,
      reason:
        'this CPU has no fused multiply-add for WebAssembly (FMA3 on x64), so relaxed SIMD would compute what wasm-simd does',
    };
  }
  return { module };
}

/**
 * Whether the build's multiply-add rounds once here. For a = 1 + 2⁻¹², a·a − 1 is exactly
 * 2⁻¹¹ + 2⁻²⁴, which a float32 holds; rounding a·a to float32 first loses the 2⁻²⁴.
 */
export async function maddIsFused(module: WebAssembly.Module): Promise<boolean> {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory, abort: () => {} } });
  const probe = instance.exports.maddProbe as (a: number, b: number, c: number) => number;
  const a = 1 + 2 ** -12;
  return probe(a, a, -1) !== 2 ** -11;
}
