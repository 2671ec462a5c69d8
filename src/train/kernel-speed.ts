import { MIN_BLOCK_OUTPUTS } from '../nn/arena.js';
import { loadKernels } from '../nn/kernels/load.js';
import type { Kernels } from '../nn/kernels/types.js';
import { SHARD_ROWS } from './control.js';
import { kernelsDescription, type ResolvedKernels } from './kernels.js';

// The kernels' speed on the products one step of the reference recipe (784-256-128-10, batch
// 128, shards of SHARD_ROWS rows, blocks of 8 to 32 outputs: the smallest here) runs, in GFLOP/s on one thread.
// The shapes are the reference recipe's whatever network a user trains, so figures compare across machines.
// `gradpool bench` times them with a plain loop; the suite in bench/ with tinybench.

/** Float offsets of the operands in an arena of at least KERNEL_ARENA_FLOATS floats. */
const A = 16384;
const W = A + 128 * 784;
const BIAS = W + 256 * 784;
const DZ = BIAS + 256;
const OUT = DZ + 128 * 256;
const PACK = OUT + 256 * 784 + 256;
/** dz with 70 % of its entries zero, as behind a relu after an epoch: the gradient kernels skip them */
const DZ_RELU = PACK + 16384;
const R = SHARD_ROWS;
const N = MIN_BLOCK_OUTPUTS;
/** floats the operands need */
export const KERNEL_ARENA_FLOATS = DZ_RELU + 128 * 256;

export interface KernelShape {
  readonly kernel: string;
  /** B×I×O, and what it stands for */
  readonly shape: string;
  /** the dense product's floating-point operations */
  readonly flops: number;
  readonly run: (k: Kernels) => void;
}

export const KERNEL_SHAPES: readonly KernelShape[] = [
  {
    kernel: 'forward A·Wᵀ',
    shape: `${R}×784×256 (one shard)`,
    flops: 2 * R * 784 * 256,
    run: (k) => k.linearForward(OUT, A, W, BIAS, R, 784, 256, PACK),
  },
  {
    kernel: 'forward A·Wᵀ',
    shape: '128×784×256',
    flops: 2 * 128 * 784 * 256,
    run: (k) => k.linearForward(OUT, A, W, BIAS, 128, 784, 256, PACK),
  },
  {
    kernel: 'weight grad dZᵀ·A',
    shape: `128×784×${N} (one block of 8)`,
    flops: 2 * 128 * 784 * N,
    run: (k) => k.linearBackwardParams(OUT, OUT + N * 784, DZ, A, 128, 784, 256, 0, N, PACK),
  },
  {
    kernel: 'weight grad dZᵀ·A',
    shape: `128×784×${N} (one block of 8), dZ 70 % zero`,
    flops: 2 * 128 * 784 * N,
    run: (k) => k.linearBackwardParams(OUT, OUT + N * 784, DZ_RELU, A, 128, 784, 256, 0, N, PACK),
  },
  {
    kernel: 'weight grad dZᵀ·A',
    shape: '128×784×256',
    flops: 2 * 128 * 784 * 256,
    run: (k) => k.linearBackwardParams(OUT, OUT + 256 * 784, DZ, A, 128, 784, 256, 0, 256, PACK),
  },
  {
    kernel: 'input grad dZ·W',
    shape: `${R}×256×128 (one shard)`,
    flops: 2 * R * 256 * 128,
    run: (k) => k.linearBackwardInput(OUT, DZ, W, R, 256, 128, PACK),
  },
  {
    kernel: 'input grad dZ·W',
    shape: `${R}×256×128 (one shard), dZ 70 % zero`,
    flops: 2 * R * 256 * 128,
    run: (k) => k.linearBackwardInput(OUT, DZ_RELU, W, R, 256, 128, PACK),
  },
];

/** A shared memory holding the operands, filled with fixed values (dense, but for DZ_RELU). */
export function kernelArena(): WebAssembly.Memory {
  const pages = Math.ceil((KERNEL_ARENA_FLOATS * 4) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const m = new Float32Array(memory.buffer);
  for (let i = A; i < DZ_RELU; i++) m[i] = Math.sin(i) * 0.5;
  for (let i = 0; i < 128 * 256; i++) m[DZ_RELU + i] = (i * 2654435761) % 10 < 3 ? m[DZ + i] : 0;
  return memory;
}

export interface KernelSpeedRow {
  kernel: string;
  shape: string;
  /** the kernels timed: js, or an arithmetic and its implementation (wasm-relaxed-simd arithmetic, native avx512) */
  variant: string;
  gflops: number;
  /** mean time of one call, in the fastest round */
  meanUs: number;
}

/**
 * Times each of KERNEL_SHAPES on one thread with the given kernels: `rounds` rounds of about
 * `ms` milliseconds each, after a warm-up, keeping each shape's fastest round (a neighbour on a
 * shared machine slows some rounds, never speeds one up).
 */
export async function measureKernelSpeed(
  resolved: ResolvedKernels,
  options: { ms?: number; rounds?: number } = {},
): Promise<KernelSpeedRow[]> {
  const ms = options.ms ?? 100;
  const rounds = options.rounds ?? 3;
  const k = await loadKernels(resolved, kernelArena());
  const rows: KernelSpeedRow[] = [];
  for (const s of KERNEL_SHAPES) {
    const warmEnd = performance.now() + ms / 4;
    let calls = 0;
    while (performance.now() < warmEnd || calls < 2) {
      s.run(k);
      calls++;
    }
    let best = Number.POSITIVE_INFINITY;
    for (let r = 0; r < rounds; r++) {
      let n = 0;
      const t0 = performance.now();
      const end = t0 + ms / rounds;
      let t = t0;
      do {
        s.run(k);
        n++;
        t = performance.now();
      } while (t < end);
      best = Math.min(best, (t - t0) / n);
    }
    rows.push({
      kernel: s.kernel,
      shape: s.shape,
      variant: kernelsDescription(resolved),
      gflops: s.flops / (best * 1e6),
      meanUs: best * 1000,
    });
  }
  return rows;
}

/** Markdown table of kernel speeds, one column per variant measured. */
export function kernelSpeedTable(rows: readonly KernelSpeedRow[]): string {
  const variants = [...new Set(rows.map((r) => r.variant))];
  const lines = [
    `| kernel | shape (B×I×O) | ${variants.join(' | ')} |`,
    `| --- | --- |${variants.map(() => ' ---: |').join('')}`,
  ];
  for (const s of KERNEL_SHAPES) {
    const cells = variants.map(
      (v) =>
        rows
          .find((r) => r.kernel === s.kernel && r.shape === s.shape && r.variant === v)
          ?.gflops.toFixed(1) ?? '—',
    );
    lines.push(`| ${s.kernel} | ${s.shape} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
