import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Kernels } from './types.js';

// The native build of the kernels (native/, a Node-API addon in C built by `npm install`):
// the same arithmetic as the wasm builds, in the same order, so a model trained on either is
// the same bytes; only faster. It is optional: where it was not built, or does not load, or
// the CPU lacks what it needs, everything runs on wasm and this module says why.

export const NATIVE_ADDON = new URL('../../../../native/build/Release/gradpool_native.node', import.meta.url);

/** The instruction sets the addon is compiled for, fastest first. */
export const NATIVE_ISAS = ['avx512', 'avx2'] as const;
export type NativeIsa = (typeof NATIVE_ISAS)[number];

/** One native kernel set: an instruction set and an arithmetic (fused = wasm-relaxed-simd's). */
export interface NativeVariant {
  readonly isa: NativeIsa;
  readonly fused: boolean;
}

interface NativeCpu {
  readonly avx512f: boolean;
  /** everything the avx512 build needs: AVX-512 F, VL and DQ, and FMA */
  readonly avx512: boolean;
  readonly avx2: boolean;
  readonly fma: boolean;
}

export interface NativeAddon {
  /** what this CPU offers the addon */
  cpu(): NativeCpu;
  /** the kernels over `arena` (offsets in floats, as in the Kernels contract); throws where the CPU lacks the variant */
  bind(arena: Float32Array, isa: NativeIsa, fused: boolean): Omit<Kernels, 'name'>;
  /** floating-point operations done by a register-only multiply-add loop of `iterations` (for the peak) */
  peak(isa: NativeIsa, fused: boolean, iterations: number): number;
}

export type NativeLoad = { addon: NativeAddon; isas: readonly NativeIsa[] } | { addon: null; reason: string };

let loaded: NativeLoad | undefined;

/**
 * The addon and the instruction sets this CPU runs it with, or why it cannot be used.
 * Loaded once per thread: neither answer changes while a process runs.
 */
export function loadNativeAddon(): NativeLoad {
  loaded ??= tryLoad();
  return loaded;
}

function tryLoad(): NativeLoad {
  if (process.arch !== 'x64')
    return { addon: null, reason: `no native build for ${process.arch} (x64 only)` };
  const path = fileURLToPath(NATIVE_ADDON);
  if (!existsSync(path)) {
    return { addon: null, reason: `the addon was not built (${path} is missing; npm install builds it)` };
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (e) {
    // e.g. built for another Node ABI: the first line says which
    const first = String(e instanceof Error ? e.message : e).split('\n')[0];
    return { addon: null, reason: `the addon does not load: ${first}` };
  }
  const cpu = addon.cpu();
  const isas = NATIVE_ISAS.filter((isa) => (isa === 'avx512' ? cpu.avx512 : cpu.avx2));
  if (isas.length === 0) return { addon: null, reason: 'this CPU has neither AVX-512F nor AVX2' };
  return { addon, isas };
}

/**
 * The native variant for an arithmetic: the fastest instruction set that computes it here,
 * or why none does. `GRADPOOL_NATIVE_ISA` (avx512 or avx2) names one instead, so the builds
 * of both can be tested and measured on one machine.
 */
export function nativeVariant(fused: boolean): NativeVariant | { reason: string } {
  const load = loadNativeAddon();
  if (!load.addon) return { reason: load.reason };
  if (fused && !load.addon.cpu().fma) return { reason: 'this CPU has no fused multiply-add (FMA3)' };
  const asked = process.env.GRADPOOL_NATIVE_ISA;
  if (asked !== undefined && asked !== '') {
    if (!(NATIVE_ISAS as readonly string[]).includes(asked)) {
      return { reason: `GRADPOOL_NATIVE_ISA=${asked}: expected ${NATIVE_ISAS.join(' or ')}` };
    }
    const isa = asked as NativeIsa;
    if (!load.isas.includes(isa)) return { reason: `GRADPOOL_NATIVE_ISA=${isa}: this CPU has no ${isa}` };
    return { isa, fused };
  }
  return { isa: load.isas[0], fused };
}

/** The native kernels of `variant` over a shared memory (in any thread). */
export function nativeKernels(memory: WebAssembly.Memory, variant: NativeVariant): Kernels {
  const load = loadNativeAddon();
  if (!load.addon) throw new Error(`native kernels unavailable: ${load.reason}`);
  const bound = load.addon.bind(new Float32Array(memory.buffer), variant.isa, variant.fused);
  return { name: 'native', ...bound };
}
