import type { Preprocessing } from '../data/preprocessing.js';
import type { NetworkLayout } from './layout.js';

/** A trained network: its layout and its own copy of the parameters (layout order). */
export interface Model {
  readonly layout: NetworkLayout;
  readonly params: Float32Array;
  /** how raw inputs become its features and its outputs answers (absent: 28×28 images, /255) */
  readonly preprocessing?: Preprocessing;
  /** what its file's __metadata__ says (how it was trained), when it was read from one */
  readonly metadata?: Readonly<Record<string, string>>;
}

export function modelFromParams(
  layout: NetworkLayout,
  params: Float32Array,
  preprocessing?: Preprocessing,
): Model {
  if (params.length !== layout.size)
    throw new RangeError(`expected ${layout.size} parameters, got ${params.length}`);
  return { layout, params: Float32Array.from(params), ...(preprocessing ? { preprocessing } : {}) };
}
