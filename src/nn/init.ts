import type { NetworkLayout } from './layout.js';
import { Rng } from './rng.js';

/**
 * He-uniform (relu) or Xavier-uniform (tanh, sigmoid) weights, zero biases, drawn layer by
 * layer, row by row from one seeded stream, so a seed fixes the initial model exactly.
 */
export function initParams(layout: NetworkLayout, seed: number, params: Float32Array, base = 0): void {
  const rng = new Rng(seed);
  for (const layer of layout.layers) {
    const bound =
      layout.activation === 'relu'
        ? Math.sqrt(6 / layer.inputs)
        : Math.sqrt(6 / (layer.inputs + layer.outputs));
    const w0 = base + layer.weight;
    const n = layer.inputs * layer.outputs;
    for (let i = 0; i < n; i++) params[w0 + i] = (2 * rng.nextFloat() - 1) * bound;
    params.fill(0, base + layer.bias, base + layer.bias + layer.outputs);
  }
}
