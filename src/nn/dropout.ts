import type { Floats } from './kernels/types.js';

// Inverted dropout on hidden units, with masks that are a pure function of (seed, the run's
// step, the row's index in the dataset, layer, unit): a counter-based hash, not a generator's
// stream, so no thread count, shard cut or resume can change which units a step drops.

/** What a training step's forward needs to draw its masks; one per thread, updated per step. */
export interface DropoutDraw {
  /** keep a unit when its hash is ≥ this: round(p · 2³²) */
  threshold: number;
  /** 1 / (1 − p), as float32 */
  scale: number;
  seed: number;
  /** the run's step index (0-based, modulo 2³²) */
  step: number;
  /** the step's rows: dataset row = order[first + r] for batch row r */
  order: Int32Array;
  first: number;
}

export function dropoutDraw(rate: number, seed: number, order: Int32Array): DropoutDraw {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
  return {
    threshold: Math.round(rate * 2 ** 32),
    scale: Math.fround(1 / (1 - rate)),
    seed,
    step: 0,
    order,
    first: 0,
  };
}

/** lowbias32 (Chris Wellons' hash-prospector): a full-avalanche 32-bit mix. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The hash a unit's keep decision is made from (exported for the tests of its rate). */
export function unitHash(seed: number, step: number, row: number, layer: number, unit: number): number {
  return mix32(rowKey(seed, step, row, layer) + Math.imul(unit + 1, 0x9e3779b9));
}

function rowKey(seed: number, step: number, row: number, layer: number): number {
  return mix32(mix32(mix32(mix32(seed ^ 0x2545f491) ^ step) ^ row) ^ layer);
}

/**
 * For batch rows [r0, r0 + B) of hidden layer `layer` (n units): writes each unit's factor
 * (0 or scale) to `mask` and a ⊙ factor to `out` (both rows × n from the batch's start).
 * One float32 multiply per unit, so JavaScript's rounding here is the kernels' rounding.
 */
export function applyDropout(
  m: Floats,
  d: DropoutDraw,
  layer: number,
  a: number,
  mask: number,
  out: number,
  r0: number,
  B: number,
  n: number,
): void {
  for (let r = r0; r < r0 + B; r++) {
    const key = rowKey(d.seed, d.step, d.order[d.first + r], layer);
    const at = r * n;
    for (let u = 0; u < n; u++) {
      const f = mix32(key + Math.imul(u + 1, 0x9e3779b9)) >= d.threshold ? d.scale : 0;
      m[mask + at + u] = f;
      m[out + at + u] = m[a + at + u] * f;
    }
  }
}

/** d ⊙= mask over rows [r0, r0 + B) of n units: the dropped units pass no gradient back. */
export function maskGradient(m: Floats, d: number, mask: number, r0: number, B: number, n: number): void {
  for (let i = r0 * n; i < (r0 + B) * n; i++) m[d + i] *= m[mask + i];
}
