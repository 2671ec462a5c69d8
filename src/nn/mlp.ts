import { applyDropout, type DropoutDraw, maskGradient } from './dropout.js';
import type { Floats, Kernels } from './kernels/types.js';
import { ACTIVATION_CODE, type NetworkLayout } from './layout.js';
import type { BatchPlan } from './scratch.js';

// Forward and backward over rows [r0, r0+B) of a batch plan. All offsets are floats into the
// arena the kernels were built on; the rows' inputs and labels must already be gathered.
// Training splits the backward pass in two (see src/train/control.ts): deltas per shard of
// rows, then weight gradients per block of output neurons over the whole batch.

const rowsOf = (buffer: number, r0: number, width: number) => buffer + r0 * width;

/**
 * Forward pass to logits in plan.acts[last]; hidden activations stay for backward. With a
 * dropout draw (training, on a plan with masks) each hidden layer's output is masked into the
 * next layer's input buffer; without one the plan must have none. From layer `from` on: the
 * rows' outputs of the layers below it must be in the plan already (activateFirstLayer).
 */
export function forward(
  k: Kernels,
  net: NetworkLayout,
  params: number,
  p: BatchPlan,
  r0: number,
  B: number,
  dropout?: DropoutDraw,
  m?: Floats,
  from = 0,
): void {
  const act = ACTIVATION_CODE[net.activation];
  const last = net.layers.length - 1;
  for (let l = from; l <= last; l++) {
    const L = net.layers[l];
    const out = rowsOf(p.acts[l + 1], r0, L.outputs);
    if (l > 0 && p.masks[l] >= 0) {
      if (!dropout || !m) throw new Error('a plan with dropout masks needs a dropout draw');
      applyDropout(m, dropout, l, p.acts[l], p.masks[l], p.inputs[l], r0, B, L.inputs);
    }
    k.linearForward(
      out,
      rowsOf(p.inputs[l], r0, L.inputs),
      params + L.weight,
      params + L.bias,
      B,
      L.inputs,
      L.outputs,
      p.pack,
    );
    if (l < last) k.activationForward(act, out, B * L.outputs);
  }
}

/**
 * The first layer's outputs [o0, o1) for the batch's first B rows, before the activation, into
 * their place in the first layer's output (acts[1]): a thread's slice of a forward split by
 * output neurons. Each output is the same sum, in the same order, as in a forward by rows.
 */
export function forwardFirstLayerSlice(
  k: Kernels,
  net: NetworkLayout,
  params: number,
  p: BatchPlan,
  o0: number,
  o1: number,
  B: number,
): void {
  const L = net.layers[0];
  const w = params + L.weight + o0 * L.inputs;
  k.linearForward(
    p.acts[1] + o0,
    p.inputs[0],
    w,
    params + L.bias + o0,
    B,
    L.inputs,
    o1 - o0,
    p.pack,
    L.outputs,
  );
}

/**
 * The activation of rows [r0, r0 + B) of the first layer's output, once every slice of it is
 * in place (forwardFirstLayerSlice): what forward(…, from = 1) goes on from.
 */
export function activateFirstLayer(
  k: Kernels,
  net: NetworkLayout,
  p: BatchPlan,
  r0: number,
  B: number,
): void {
  const O = net.layers[0].outputs;
  k.activationForward(ACTIVATION_CODE[net.activation], rowsOf(p.acts[1], r0, O), B * O);
}

/** The first index of the row's largest output: the predicted class (ties to the lower class). */
export function argmax(m: ArrayLike<number>, row: number, C: number): number {
  let best = 0;
  for (let c = 1; c < C; c++) if (m[row + c] > m[row + best]) best = c;
  return best;
}

/** Counts rows whose largest logit is the label. Must run before softmaxCrossEntropy overwrites logits. */
export function countCorrect(m: Floats, logits: number, labels: number, B: number, C: number): number {
  let correct = 0;
  for (let r = 0; r < B; r++) if (argmax(m, logits + r * C, C) === m[labels + r]) correct++;
  return correct;
}

/**
 * Squared error of outputs against targets (both B × T): Σ (y − t)² over the rows and outputs
 * in row order, in float64; leaves dZ = 2·(y − t) in the outputs (each element on its own, so
 * the same whatever the shards; PyTorch's mse_loss(reduction='sum') and its gradient).
 */
export function squaredError(m: Floats, outputs: number, targets: number, B: number, T: number): number {
  let sum = 0;
  for (let i = 0; i < B * T; i++) {
    const d = m[outputs + i] - m[targets + i];
    sum += d * d;
    m[outputs + i] = 2 * d;
  }
  return sum;
}

/**
 * Forward and loss of the rows; leaves dZ_out in the outputs (softmax − onehot, or 2·(y − t)).
 * result = [Σ loss, correct] (correct: 0 for regression). With `outputs`, each row's raw
 * outputs (logits, or regression values) are copied to outputs[outputsAt + r·C …] first.
 */
export function forwardLoss(
  k: Kernels,
  m: Floats,
  net: NetworkLayout,
  params: number,
  p: BatchPlan,
  r0: number,
  B: number,
  result: Float64Array,
  outputs?: Float32Array,
  outputsAt = 0,
  dropout?: DropoutDraw,
): number {
  forward(k, net, params, p, r0, B, dropout, m);
  const C = net.sizes[net.sizes.length - 1];
  if (outputs) {
    const z = rowsOf(p.acts[p.acts.length - 1], r0, C);
    for (let i = 0; i < B * C; i++) outputs[outputsAt * C + i] = m[z + i];
  }
  return rowsLoss(k, m, net, p, r0, B, result);
}

/** The loss of rows [r0, r0 + B) after their forward: result = [Σ loss, correct]; leaves dZ_out. */
function rowsLoss(
  k: Kernels,
  m: Floats,
  net: NetworkLayout,
  p: BatchPlan,
  r0: number,
  B: number,
  result: Float64Array,
) {
  const C = net.sizes[net.sizes.length - 1];
  const z = rowsOf(p.acts[p.acts.length - 1], r0, C);
  const targets = rowsOf(p.targets, r0, p.targetWidth);
  if (net.loss === 'squared-error') {
    result[1] = 0;
    result[0] = squaredError(m, z, targets, B, C);
  } else {
    result[1] = countCorrect(m, z, targets, B, C);
    result[0] = k.softmaxCrossEntropy(z, targets, B, C);
  }
  return result[0];
}

/**
 * Forward, loss, and the backpropagated dZ of every layer for the rows:
 * dZ_out = softmax − onehot, dZ_prev = (dZ·W) ⊙ α'(A_prev) (⊙ the dropout mask, with dropout).
 * Returns Σ loss (also result[0]).
 */
export function forwardDeltas(
  k: Kernels,
  m: Floats,
  net: NetworkLayout,
  params: number,
  p: BatchPlan,
  r0: number,
  B: number,
  result: Float64Array,
  dropout?: DropoutDraw,
): number {
  const loss = forwardLoss(k, m, net, params, p, r0, B, result, undefined, 0, dropout);
  backpropagate(k, m, net, params, p, r0, B);
  return loss;
}

/**
 * forwardDeltas over consecutive shards of `shardRows` rows in one call per kernel, rows
 * [r0, r0 + B): each product then reads W once for all of them, not once a shard. The loss and
 * correct count go per shard into stats[2i], stats[2i + 1] from `statsAt`, as one call per
 * shard would give them. The model bytes are those of one call per shard: forward and
 * activations treat every row on its own, and the input gradient sums a row in one order in
 * any call as long as its tiles of 4 rows start where the shards' do (shardRows is a multiple
 * of 4 and only the batch's last shard is short). From layer `from` on, as forward.
 */
export function forwardDeltasOfShards(
  k: Kernels,
  m: Floats,
  net: NetworkLayout,
  params: number,
  p: BatchPlan,
  r0: number,
  B: number,
  shardRows: number,
  stats: Float64Array,
  statsAt: number,
  result: Float64Array,
  dropout?: DropoutDraw,
  from = 0,
): void {
  forward(k, net, params, p, r0, B, dropout, m, from);
  for (let i = 0, r = r0; r < r0 + B; i++, r += shardRows) {
    rowsLoss(k, m, net, p, r, Math.min(shardRows, r0 + B - r), result);
    stats[2 * (statsAt + i)] = result[0];
    stats[2 * (statsAt + i) + 1] = result[1];
  }
  backpropagate(k, m, net, params, p, r0, B);
}

/** dZ of every layer below the output from the output's (dZ·W ⊙ α'(A), ⊙ the dropout mask). */
function backpropagate(
  k: Kernels,
  m: Floats,
  net: NetworkLayout,
  params: number,
  p: BatchPlan,
  r0: number,
  B: number,
) {
  const act = ACTIVATION_CODE[net.activation];
  for (let l = net.layers.length - 1; l > 0; l--) {
    const L = net.layers[l];
    const da = rowsOf(p.deltas[l], r0, L.inputs);
    k.linearBackwardInput(
      da,
      rowsOf(p.deltas[l + 1], r0, L.outputs),
      params + L.weight,
      B,
      L.inputs,
      L.outputs,
      p.pack,
    );
    k.activationBackward(act, da, rowsOf(p.acts[l], r0, L.inputs), B * L.inputs);
    if (p.masks[l] >= 0) maskGradient(m, p.deltas[l], p.masks[l], r0, B, L.inputs);
  }
}

/** Σ over the plan's first B rows of layer l's weight and bias gradients for outputs [o0, o1). */
export function weightGradients(
  k: Kernels,
  net: NetworkLayout,
  p: BatchPlan,
  l: number,
  o0: number,
  o1: number,
  B: number,
  dw: number,
  db: number,
  pack: number,
): void {
  const L = net.layers[l];
  k.linearBackwardParams(dw, db, p.deltas[l + 1], p.inputs[l], B, L.inputs, L.outputs, o0, o1, pack);
}

/**
 * The whole backward pass of rows [0, B) on one thread: writes Σ_rows of every parameter's
 * gradient at `grad` (params' layout). The reference the parallel step is tested against.
 */
export function forwardBackward(
  k: Kernels,
  m: Floats,
  net: NetworkLayout,
  params: number,
  grad: number,
  p: BatchPlan,
  B: number,
  result: Float64Array,
  dropout?: DropoutDraw,
): number {
  const loss = forwardDeltas(k, m, net, params, p, 0, B, result, dropout);
  net.layers.forEach((L, l) => {
    weightGradients(k, net, p, l, 0, L.outputs, B, grad + L.weight, grad + L.bias, p.pack);
  });
  return loss;
}

/**
 * Copies rows `rows[from … from+B)` of a split into the plan at row r0, with their targets:
 * uint8 pixels as floats scaled by 1/255 (the dataset stays uint8 in shared memory; this is
 * the only conversion), float32 features as they are.
 */
export function gatherRows(
  k: Kernels,
  m: Floats,
  p: BatchPlan,
  r0: number,
  inputs: Uint8Array | Float32Array,
  targets: Float32Array,
  features: number,
  rows: Int32Array | null,
  from: number,
  B: number,
): void {
  const T = p.targetWidth;
  for (let r = 0; r < B; r++) {
    const row = rows ? rows[from + r] : from + r;
    const t = p.targets + (r0 + r) * T;
    for (let j = 0; j < T; j++) m[t + j] = targets[row * T + j];
  }
  k.gatherInputs(p.acts[0] + r0 * features, inputs, rows, from, B, features);
}
