import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { naiveKernels } from '../src/nn/kernels/naive.js';
import { ACTIVATIONS, type Activation, networkLayout } from '../src/nn/layout.js';
import { forwardBackward, forwardLoss } from '../src/nn/mlp.js';
import { batchPlan } from '../src/nn/scratch.js';
import { arena, fill, fixture, kernelsOn, worstFiniteDifference } from './helpers.js';

// The squared-error head (identity output, Σ (y − t)², dZ = 2·(y − t)) against PyTorch's
// float64 values in shared/reference/optim.json's `mse` case, on every kernel build, and
// against central finite differences in float64.

interface MseCase {
  layers: number[];
  activation: Activation;
  inputs: number[];
  targets: number[];
  weights: number[][];
  biases: number[][];
  outputs: number[];
  lossSum: number;
  gradWeights: number[][];
  gradBiases: number[][];
}

const ref = fixture<{ mse: MseCase }>('optim-reference.json').mse;

function flat(net: ReturnType<typeof networkLayout>, weights: number[][], biases: number[][]): number[] {
  const out: number[] = [];
  net.layers.forEach((_, i) => {
    out.push(...weights[i], ...biases[i]);
  });
  return out;
}

describe('squared-error head matches PyTorch (optim.json mse)', () => {
  for (const kernels of ['naive', 'js', 'wasm'] as const) {
    it(`${kernels}: outputs, loss and every gradient`, async () => {
      const net = networkLayout(ref.layers, ref.activation, 'squared-error');
      const T = ref.layers.at(-1)!;
      const B = ref.targets.length / T;
      const base = 16384;
      const s = batchPlan(net, B, base + 2 * net.size);
      const { memory, m } = arena(s.base + s.size + 16);
      const k = await kernelsOn(kernels, memory);
      m.set(flat(net, ref.weights, ref.biases), base);
      m.set(ref.inputs, s.acts[0]);
      m.set(ref.targets, s.targets);
      assert.equal(s.targetWidth, T);
      const outputs = new Float32Array(B * T);
      const result = new Float64Array(2);
      const loss = forwardLoss(k, m, net, base, s, 0, B, result, outputs);
      outputs.forEach((y, i) => {
        assert.ok(Math.abs(y - ref.outputs[i]) < 1e-5, `output ${i}: ${y} vs ${ref.outputs[i]}`);
      });
      assert.ok(Math.abs(loss - ref.lossSum) < 1e-4 * ref.lossSum, `loss ${loss} vs ${ref.lossSum}`);
      m.set(ref.inputs, s.acts[0]);
      forwardBackward(k, m, net, base, base + net.size, s, B, result);
      const want = flat(net, ref.gradWeights, ref.gradBiases);
      want.forEach((g, j) => {
        const got = m[base + net.size + j];
        assert.ok(Math.abs(got - g) <= 1e-5 + 1e-4 * Math.abs(g), `gradient ${j}: ${got} vs ${g}`);
      });
    });
  }
});

describe('squared-error gradients equal central finite differences (float64)', () => {
  for (const activation of ACTIVATIONS) {
    it(`${activation}, 6-5-3 on 4 rows`, () => {
      const net = networkLayout([6, 5, 3], activation, 'squared-error');
      const B = 4;
      const s = batchPlan(net, B, 2 * net.size);
      const m = new Float64Array(s.base + s.size);
      const k = naiveKernels(m);
      fill(m, 0, net.size, 7, -0.8, 0.8);
      fill(m, s.acts[0], B * 6, 3, -1, 1);
      fill(m, s.targets, B * 3, 5, -2, 2);
      const input = m.slice(s.acts[0], s.acts[0] + B * 6);
      const result = new Float64Array(2);
      forwardBackward(k, m, net, 0, net.size, s, B, result);
      const loss = () => {
        m.set(input, s.acts[0]);
        return forwardLoss(k, m, net, 0, s, 0, B, result);
      };
      const { worst, where } = worstFiniteDifference(m, net.size, net.size, loss);
      assert.ok(worst < 1e-6, `max relative error ${worst.toExponential(2)} at ${where}`);
    });
  }
});
