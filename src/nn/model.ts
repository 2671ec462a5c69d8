import { type Activation, type NetworkLayout, networkLayout } from './layout.js';

/** A trained network: its layout and its own copy of the parameters (layout order). */
export interface Model {
  readonly layout: NetworkLayout;
  readonly params: Float32Array;
}

export function modelFromParams(layout: NetworkLayout, params: Float32Array): Model {
  if (params.length !== layout.size)
    throw new RangeError(`expected ${layout.size} parameters, got ${params.length}`);
  return { layout, params: Float32Array.from(params) };
}

export function emptyModel(sizes: readonly number[], activation: Activation): Model {
  const layout = networkLayout(sizes, activation);
  return { layout, params: new Float32Array(layout.size) };
}
