// Every kernel works on one flat Float32Array (the arena: a shared wasm memory) and takes
// float offsets into it, so JavaScript and WebAssembly kernels are interchangeable and a
// hot loop never allocates a view.
//
// Dimension legend: B rows of the batch shard, I inputs of a layer, O outputs, C classes.

/** The implementations: naive (the tests' reference), js, wasm and native (the same arithmetic as wasm). */
export type KernelName = 'naive' | 'js' | 'wasm' | 'native';

/** Outputs per chunk of dz in linearBackwardParams: its scratch holds PACK_OUTPUTS × (3B + 4) floats. */
export const PACK_OUTPUTS = 8;
/** Rows per tile of linearForward and linearBackwardInput, which pack a tile into scratch. */
export const TILE_ROWS = 4;

/**
 * Floats of the scratch (`pack`) one thread's kernels need for a layout of `sizes` and batches
 * of up to `rows` rows: a chunk of dz's columns and the lists of their nonzero rows (weight
 * gradient), a tile of a layer's input rows (forward), a tile of dz's rows and the lists of
 * their nonzero outputs (input gradient), or the native forward's up to 12 packed rows
 * (native/src/linear.c gp_linear_forward_pack).
 */
export function kernelScratchFloats(sizes: readonly number[], rows: number): number {
  const widest = Math.max(...sizes);
  return Math.max(
    PACK_OUTPUTS * (3 * Math.max(1, rows) + 4),
    TILE_ROWS * (2 * widest + 4),
    3 * TILE_ROWS * widest + 16,
  );
}

/** An arena: float32 in production; float64 lets tests run the same code as an exact reference. */
export type Floats = Float32Array | Float64Array;

export interface Kernels {
  readonly name: KernelName;
  /**
   * out: B×O = a: B×I · wᵀ (w: O×I) + bias: O, out's rows `outStride` floats apart (default O;
   * at least O, and the floats between rows are left as they were: a slice of a wider output).
   * `pack` is the caller's scratch of kernelScratchFloats floats, which the kernel may overwrite
   * (so one per thread).
   */
  linearForward(
    out: number,
    a: number,
    w: number,
    bias: number,
    B: number,
    I: number,
    O: number,
    pack: number,
    outStride?: number,
  ): void;
  /**
   * Rows [o0, o1) of the weight gradient: dw[(o−o0)·I + k] = Σ_r dz[r·O + o]·a[r·I + k] and
   * db[o−o0] = Σ_r dz[r·O + o], summed over r = 0…B−1 in that order (dz: B×O, a: B×I). Writes,
   * not adds. o0 must be a multiple of 4 so the SIMD tiles, and so the rounding, of a given
   * output never depend on how the outputs were split among threads. A kernel may skip the
   * rows where dz is ±0: for finite a that changes no bit of a sum. `pack` is the caller's
   * scratch of kernelScratchFloats floats, which the kernel may overwrite.
   */
  linearBackwardParams(
    dw: number,
    db: number,
    dz: number,
    a: number,
    B: number,
    I: number,
    O: number,
    o0: number,
    o1: number,
    pack: number,
  ): void;
  /** da: B×I = dz: B×O · w: O×I, summed over o in order (zeros of dz may be skipped); `pack` as for linearForward */
  linearBackwardInput(da: number, dz: number, w: number, B: number, I: number, O: number, pack: number): void;
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
   * SGD with momentum and weight decay over n values, PyTorch's convention, reading one copy
   * of the parameters and velocity and writing the other (so a failed step leaves the
   * current copy intact): g = grad·invBatch + weightDecay·w, v' = momentum·v + g, and
   * w' = w − lr·v', or with nesterov (1) w' = w − lr·(g + momentum·v'). The output may alias
   * the input.
   */
  sgdUpdate(
    params: number,
    velocity: number,
    paramsOut: number,
    velocityOut: number,
    grad: number,
    n: number,
    lr: number,
    momentum: number,
    weightDecay: number,
    invBatch: number,
    nesterov: number,
  ): void;
  /**
   * Adam over n values, PyTorch's formulas (equal to its values to float32 rounding), reading (params, m, v) and
   * writing (paramsOut, mOut, vOut), which may alias them:
   *   g = grad·invBatch + weightDecay·w     w₀ = w·decay
   *   m' = beta1·m + (1 − beta1)·g          v' = beta2·v + (1 − beta2)·g·g
   *   w' = w₀ − stepSize · m' / (√v' · invBc2Sqrt + eps)
   * stepSize = lr / (1 − β₁ᵗ) and invBc2Sqrt = 1 / √(1 − β₂ᵗ) are the step's bias corrections; Adam
   * passes its L2 coefficient as weightDecay and decay 1, AdamW weightDecay 0 and decay 1 − lr·λ.
   */
  adamUpdate(
    params: number,
    m: number,
    v: number,
    paramsOut: number,
    mOut: number,
    vOut: number,
    grad: number,
    n: number,
    stepSize: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    decay: number,
    invBc2Sqrt: number,
    invBatch: number,
  ): void;
  /**
   * dst: B × features ← rows rows[from + r] (from + r where rows is null) of a dataset's inputs,
   * which live outside the arena: uint8 pixels scaled by 1/255 (src/nn/kernels/gather.ts's
   * PIXEL_SCALE, the double product rounded once to float32), float32 features as they are.
   * Every row must be one of the inputs': the native build refuses one that is not (a
   * RangeError; the rows before it are written); the others do not check (the floats would be
   * NaN).
   */
  gatherInputs(
    dst: number,
    inputs: Uint8Array | Float32Array,
    rows: Int32Array | null,
    from: number,
    B: number,
    features: number,
  ): void;
}
