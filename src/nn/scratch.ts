import { kernelScratchFloats } from './kernels/types.js';
import type { NetworkLayout } from './layout.js';

/**
 * Float offsets of the buffers for a batch of up to `rows` rows, row-major, so a shard of rows
 * [r0, r0+B) of any of them starts at `buffer + r0 × width`:
 *   acts[l]   rows × sizes[l]: acts[0] the gathered input; acts[last] the logits, then dz
 *   deltas[l] rows × sizes[l]: dZ of layer l's pre-activation (deltas[last] === acts[last];
 *             deltas[0] is unused, −1); only when planned withDeltas
 *   masks[l]  rows × sizes[l], hidden layers only and only planned withDropout (else −1):
 *             each unit's dropout factor, 0 or 1/(1 − p), for the step's rows
 *   inputs[l] what layer l reads: acts[0] for the first; acts[l], or with dropout acts[l] ⊙
 *             masks[l] in a buffer of its own (acts[l] keeps α(z) for the derivative)
 *   targets   rows × targetWidth floats: class indices (cross-entropy, width 1) or target
 *             values (squared error, one per output)
 *   pack      the kernels' scratch (kernelScratchFloats), for passes over the plan on one
 *             thread; a parallel step gives each thread its own (see withScratch)
 */
export interface BatchPlan {
  readonly rows: number;
  readonly acts: readonly number[];
  readonly deltas: readonly number[];
  readonly masks: readonly number[];
  readonly inputs: readonly number[];
  readonly targets: number;
  /** floats per row of targets */
  readonly targetWidth: number;
  readonly pack: number;
  /** first float and floats used, rounded up to ALIGN */
  readonly base: number;
  readonly size: number;
}

/** 16 floats = 64 bytes: every region starts on a cache line, which SIMD loads like. */
export const ALIGN = 16;
export const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

export function batchPlan(
  layout: NetworkLayout,
  rows: number,
  base: number,
  withDeltas = true,
  withDropout = false,
): BatchPlan {
  const start = align(base);
  let at = start;
  const take = (n: number): number => {
    const first = at;
    at = align(at + n);
    return first;
  };
  const acts = layout.sizes.map((n) => take(rows * n));
  const last = layout.sizes.length - 1;
  const deltas = layout.sizes.map((n, l) => {
    if (l === last) return acts[last];
    return l > 0 && withDeltas ? take(rows * n) : -1;
  });
  const hidden = (l: number) => withDeltas && withDropout && l > 0 && l < last;
  const masks = layout.sizes.map((n, l) => (hidden(l) ? take(rows * n) : -1));
  const inputs = layout.sizes.slice(0, last).map((n, l) => (hidden(l) ? take(rows * n) : acts[l]));
  const targetWidth = layout.loss === 'cross-entropy' ? 1 : layout.sizes[last];
  const targets = take(rows * targetWidth);
  const pack = take(kernelScratchFloats(layout.sizes, rows));
  return { rows, acts, deltas, masks, inputs, targets, targetWidth, pack, base: start, size: at - start };
}

/** The same buffers with another thread's kernel scratch, for threads sharing one batch. */
export function withScratch(p: BatchPlan, pack: number): BatchPlan {
  return { ...p, pack };
}
