// Every kernel works on one flat Float32Array (the arena: a shared wasm memory) and takes
// float offsets into it, so JavaScript and WebAssembly kernels are interchangeable and a
// hot loop never allocates a view.
//
// Dimension legend: B rows of the batch shard, I inputs of a layer, O outputs, C classes.

export type KernelName = 'naive' | 'js' | 'wasm';

/** An arena: float32 in production; float64 lets tests run the same code as an exact reference. */
export type Floats = Float32Array | Float64Array;

export interface Kernels {
  readonly name: KernelName;
  /** out: B×O = a: B×I · wᵀ (w: O×I) + bias: O */
  linearForward(out: number, a: number, w: number, bias: number, B: number, I: number, O: number): void;
  /**
   * dw: O×I = dzᵀ·a, db: O = Σ_rows dz (dz: B×O, a: B×I). Overwrites rather than adds: each
   * gradient slot is written by exactly one shard per step, so no zeroing pass is needed.
   */
  linearBackwardParams(dw: number, db: number, dz: number, a: number, B: number, I: number, O: number): void;
  /** da: B×I = dz: B×O · w: O×I */
  linearBackwardInput(da: number, dz: number, w: number, B: number, I: number, O: number): void;
  /** x: n ← α(x), in place; act is an ACTIVATION_CODE */
  activationForward(act: number, x: number, n: number): void;
  /** d: n ← d ⊙ α'(z), with α' written through the activation's output a = α(z) */
  activationBackward(act: number, d: number, a: number, n: number): void;
  /**
   * logits: B×C → softmax(logits) − onehot(labels) in place (labels: B class indices stored
   * as floats); returns Σ_rows −log softmax(logits)[label].
   */
  softmaxCrossEntropy(logits: number, labels: number, B: number, C: number): number;
  /**
   * For j in [from, to): g = (Σ_k slots[k·stride + j]) · invBatch + weightDecay·w[j] summed in
   * slot order k = 0…nSlots−1 (the fixed order that makes results independent of threads),
   * v[j] = momentum·v[j] + g, w[j] −= lr·v[j]  (PyTorch's SGD convention).
   */
  reduceAndUpdate(
    params: number,
    velocity: number,
    slots: number,
    stride: number,
    nSlots: number,
    from: number,
    to: number,
    lr: number,
    momentum: number,
    weightDecay: number,
    invBatch: number,
  ): void;
}
