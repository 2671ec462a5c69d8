import type { NetworkLayout } from './layout.js';

/** Float offsets of one worker's private buffers for shards of up to `rows` rows. */
export interface ScratchPlan {
  readonly rows: number;
  /** rows × sizes[0]: the gathered, scaled input */
  readonly input: number;
  /** acts[l]: rows × sizes[l]; acts[0] === input; the last holds logits, then dz */
  readonly acts: readonly number[];
  /** two rows × maxWidth buffers for dA / dZ of hidden layers, used in turn */
  readonly delta: readonly [number, number];
  /** rows labels, as floats */
  readonly labels: number;
  /** floats used, rounded up to ALIGN */
  readonly size: number;
}

/** 16 floats = 64 bytes: every region starts on a cache line, which SIMD loads like. */
export const ALIGN = 16;
export const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

export function scratchPlan(layout: NetworkLayout, rows: number, base: number): ScratchPlan {
  let at = align(base);
  const take = (n: number): number => {
    const start = at;
    at = align(at + n);
    return start;
  };
  const acts = layout.sizes.map((n) => take(rows * n));
  const delta: [number, number] = [take(rows * layout.maxWidth), take(rows * layout.maxWidth)];
  const labels = take(rows);
  return { rows, input: acts[0], acts, delta, labels, size: at - align(base) };
}
