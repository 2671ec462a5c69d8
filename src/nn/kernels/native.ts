import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernels } from './types.js';

// The native build of the kernels (native/, a Node-API addon in C built by `npm install`):
// the same arithmetic as the wasm builds, in the same order, so a model trained on either is
// the same bytes; only faster. It is optional: where it was not built, or does not load, or
// the CPU lacks what it needs, everything runs on wasm and this module says why.

export const NATIVE_ADDON = new URL('../../../../native/build/Release/gradpool_native.node', import.meta.url);

/** The instruction sets the addon is compiled for, fastest first: x64's two, then arm64's. */
export const NATIVE_ISAS = ['avx512', 'avx2', 'neon'] as const;
/** The architectures the addon builds for. */
export const NATIVE_ARCHS: readonly string[] = ['x64', 'arm64'];
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
  /** arm64's Advanced SIMD (in every arm64 CPU) */
  readonly neon: boolean;
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
  if (!NATIVE_ARCHS.includes(process.arch))
    return {
      addon: null,
      reason: `no native build for ${process.arch} (${NATIVE_ARCHS.join(' and ')} only)`,
    };
  const path = fileURLToPath(NATIVE_ADDON);
  if (!existsSync(path)) {
    return {
      addon: null,
      reason: `the addon was not built (${path} is missing; npm run build:native in the project, or npm rebuild gradpool --foreground-scripts, builds it or says why not)`,
    };
  }
  const stale = staleReason(path);
  if (stale) return { addon: null, reason: stale };
  let addon: NativeAddon;
  let cpu: NativeCpu;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
    cpu = addon.cpu();
  } catch (e) {
    // e.g. built for another Node ABI: the first line says which
    const first = String(e instanceof Error ? e.message : e).split('\n')[0];
    return { addon: null, reason: `the addon does not load: ${first}` };
  }
  const isas = NATIVE_ISAS.filter((isa) => cpu[isa] === true);
  if (isas.length === 0) return { addon: null, reason: 'this CPU has none of AVX-512F, AVX2 and NEON' };
  return { addon, isas };
}

/**
 * Why an addon built from other sources than native/src holds (an old build, in a clone
 * whose sources moved on) must not run: its kernels could sum in another order under the
 * same arithmetic's name. scripts/build-native.mjs records the sources' hash beside the build.
 */
function staleReason(addonPath: string): string | null {
  const recorded = join(dirname(addonPath), 'sources.sha256');
  const sources = fileURLToPath(new URL('../../../../native', import.meta.url));
  if (!existsSync(join(sources, 'src'))) return null; // nothing to compare against
  const rebuild = 'npm run build:native rebuilds it';
  if (!existsSync(recorded)) return `the addon's sources are not recorded (${rebuild})`;
  if (readFileSync(recorded, 'utf8').trim() !== nativeSourcesHash(sources))
    return `the addon was built from other sources than native/src (${rebuild})`;
  return null;
}

/** SHA-256 of binding.gyp and src/'s files in name order: scripts/build-native.mjs's twin. */
export function nativeSourcesHash(dir: string): string {
  const hash = createHash('sha256');
  const files = [
    'binding.gyp',
    ...readdirSync(join(dir, 'src'))
      .sort()
      .map((f) => join('src', f)),
  ];
  for (const f of files)
    hash
      .update(f)
      .update('\0')
      .update(readFileSync(join(dir, f)))
      .update('\0');
  return hash.digest('hex');
}

/**
 * The native variant for an arithmetic: the fastest instruction set that computes it here,
 * or why none does. `GRADPOOL_NATIVE_ISA` (avx512, avx2 or neon) names one instead, so the
 * builds of both x64 ISAs can be tested and measured on one machine; `off` runs as if none were
 * built.
 */
export function nativeVariant(fused: boolean): NativeVariant | { reason: string } {
  const load = loadNativeAddon();
  if (!load.addon) return { reason: load.reason };
  if (fused && !load.addon.cpu().fma) return { reason: 'this CPU has no fused multiply-add (FMA3)' };
  const asked = process.env.GRADPOOL_NATIVE_ISA;
  if (asked !== undefined && asked !== '') {
    if (asked === 'off') return { reason: 'GRADPOOL_NATIVE_ISA=off' };
    if (!(NATIVE_ISAS as readonly string[]).includes(asked)) {
      return { reason: `GRADPOOL_NATIVE_ISA=${asked}: expected ${NATIVE_ISAS.join(', ')} or off` };
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
