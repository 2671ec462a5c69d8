import type { Floats, Kernels } from './kernels/types.js';
import { ACTIVATION_CODE, type NetworkLayout } from './layout.js';
import type { ScratchPlan } from './scratch.js';

// Forward and backward of one shard. All offsets are floats into the arena the kernels
// were built on; the shard's inputs and labels must already be in scratch.input / labels.

/** Forward pass to logits in scratch.acts[last]; hidden activations stay for backward. */
export function forward(k: Kernels, net: NetworkLayout, params: number, s: ScratchPlan, B: number): void {
  const act = ACTIVATION_CODE[net.activation];
  const last = net.layers.length - 1;
  for (let l = 0; l <= last; l++) {
    const L = net.layers[l];
    k.linearForward(s.acts[l + 1], s.acts[l], params + L.weight, params + L.bias, B, L.inputs, L.outputs);
    if (l < last) k.activationForward(act, s.acts[l + 1], B * L.outputs);
  }
}

/**
 * Counts rows whose largest logit is the label; writes each row's predicted class into
 * `predictions` at `at + r` when given. Must run before softmaxCrossEntropy overwrites logits.
 */
export function countCorrect(
  m: Floats,
  logits: number,
  labels: number,
  B: number,
  C: number,
  predictions?: Uint8Array,
  at = 0,
): number {
  let correct = 0;
  for (let r = 0; r < B; r++) {
    const row = logits + r * C;
    let best = 0;
    for (let c = 1; c < C; c++) if (m[row + c] > m[row + best]) best = c;
    if (best === m[labels + r]) correct++;
    if (predictions) predictions[at + r] = best;
  }
  return correct;
}

/**
 * Forward, loss and backward of B rows; writes Σ_rows of every parameter's gradient into the
 * slot at `grad` (same layout as params). Returns the summed loss; `result[0]` gets it too and
 * `result[1]` the number of correct predictions.
 */
export function forwardBackward(
  k: Kernels,
  m: Floats,
  net: NetworkLayout,
  params: number,
  grad: number,
  s: ScratchPlan,
  B: number,
  result: Float64Array,
): number {
  forward(k, net, params, s, B);
  const last = net.layers.length - 1;
  const C = net.layers[last].outputs;
  const logits = s.acts[last + 1];
  result[1] = countCorrect(m, logits, s.labels, B, C);
  const loss = k.softmaxCrossEntropy(logits, s.labels, B, C);
  result[0] = loss;

  const act = ACTIVATION_CODE[net.activation];
  let dz = logits;
  for (let l = last; l >= 0; l--) {
    const L = net.layers[l];
    k.linearBackwardParams(grad + L.weight, grad + L.bias, dz, s.acts[l], B, L.inputs, L.outputs);
    if (l === 0) break;
    const da = s.delta[l & 1];
    k.linearBackwardInput(da, dz, params + L.weight, B, L.inputs, L.outputs);
    k.activationBackward(act, da, s.acts[l], B * L.inputs);
    dz = da;
  }
  return loss;
}

/** Forward and loss only (evaluation). Returns the summed loss; result[1] gets the correct count. */
export function forwardLoss(
  k: Kernels,
  m: Floats,
  net: NetworkLayout,
  params: number,
  s: ScratchPlan,
  B: number,
  result: Float64Array,
  predictions?: Uint8Array,
  predictionsAt = 0,
): number {
  forward(k, net, params, s, B);
  const last = net.layers.length - 1;
  const C = net.layers[last].outputs;
  const logits = s.acts[last + 1];
  result[1] = countCorrect(m, logits, s.labels, B, C, predictions, predictionsAt);
  const loss = k.softmaxCrossEntropy(logits, s.labels, B, C);
  result[0] = loss;
  return loss;
}

/**
 * Copies rows `rows[from … from+B)` of a Uint8 image set into scratch as floats scaled by 1/255,
 * and their labels. The dataset stays Uint8 in shared memory; this is the only conversion.
 */
export function gatherRows(
  m: Floats,
  s: ScratchPlan,
  images: Uint8Array,
  labels: Uint8Array,
  features: number,
  rows: Int32Array | null,
  from: number,
  B: number,
): void {
  const scale = 1 / 255;
  for (let r = 0; r < B; r++) {
    const row = rows ? rows[from + r] : from + r;
    const src = row * features;
    const dst = s.input + r * features;
    for (let c = 0; c < features; c++) m[dst + c] = images[src + c] * scale;
    m[s.labels + r] = labels[row];
  }
}
