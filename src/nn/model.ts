import type { NetworkLayout } from './layout.js';

/** A trained network: its layout and its own copy of the parameters (layout order). */
export interface Model {
  readonly layout: NetworkLayout;
  readonly params: Float32Array;
  /** what its file's __metadata__ says (how it was trained), when it was read from one */
  readonly metadata?: Readonly<Record<string, string>>;
}

export function modelFromParams(layout: NetworkLayout, params: Float32Array): Model {
  if (params.length !== layout.size)
    throw new RangeError(`expected ${layout.size} parameters, got ${params.length}`);
  return { layout, params: Float32Array.from(params) };
}
