// One flat block holds every parameter (llm.c style): layer i's weight (O×I, PyTorch's
// nn.Linear convention) followed by its bias (O). Momentum reuses the same layout, so an
// update is a single loop over a range.

export type Activation = 'relu' | 'tanh' | 'sigmoid';
export const ACTIVATIONS: readonly Activation[] = ['relu', 'tanh', 'sigmoid'];

/** Numeric codes so workers and wasm kernels can switch without strings. */
export const ACTIVATION_CODE: Record<Activation, number> = { relu: 0, tanh: 1, sigmoid: 2 };

export interface LayerView {
  /** fan-in I */
  readonly inputs: number;
  /** fan-out O */
  readonly outputs: number;
  /** float offset of the O×I weight within a parameter block */
  readonly weight: number;
  /** float offset of the O bias within a parameter block */
  readonly bias: number;
}

/** The output head: softmax + cross-entropy (classes) or identity + squared error (regression). */
export type Loss = 'cross-entropy' | 'squared-error';
export const LOSSES: readonly Loss[] = ['cross-entropy', 'squared-error'];

export interface NetworkLayout {
  /** [inputs, hidden..., outputs] */
  readonly sizes: readonly number[];
  readonly activation: Activation;
  readonly loss: Loss;
  readonly layers: readonly LayerView[];
  /** total number of parameters */
  readonly size: number;
}

/** Largest parameter count we accept: params, momentum and the batch buffers must fit a 4 GiB wasm memory. */
export const MAX_PARAMS = 50_000_000;

/** Weights and biases of a network with these layer sizes. */
export function parameterCount(sizes: readonly number[]): number {
  let n = 0;
  for (let i = 0; i + 1 < sizes.length; i++) n += (sizes[i] + 1) * sizes[i + 1];
  return n;
}

export function networkLayout(
  sizes: readonly number[],
  activation: Activation,
  loss: Loss = 'cross-entropy',
): NetworkLayout {
  if (sizes.length < 2) throw new RangeError(`a network needs at least 2 layer sizes, got ${sizes.length}`);
  for (const n of sizes) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`layer sizes must be positive integers, got ${n}`);
  }
  if (!ACTIVATIONS.includes(activation)) throw new RangeError(`unknown activation '${activation}'`);
  if (!LOSSES.includes(loss)) throw new RangeError(`unknown loss '${loss}'`);
  const layers: LayerView[] = [];
  let offset = 0;
  for (let i = 0; i + 1 < sizes.length; i++) {
    const inputs = sizes[i];
    const outputs = sizes[i + 1];
    layers.push({ inputs, outputs, weight: offset, bias: offset + outputs * inputs });
    offset += outputs * inputs + outputs;
  }
  if (offset > MAX_PARAMS) {
    throw new RangeError(`network ${sizes.join('-')} has ${offset} parameters; the limit is ${MAX_PARAMS}`);
  }
  return { sizes: [...sizes], activation, loss, layers, size: offset };
}
