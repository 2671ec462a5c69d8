import assert from 'node:assert/strict';
import { it } from 'node:test';
import { naiveKernels } from '../src/nn/kernels/naive.js';
import { ACTIVATIONS, networkLayout } from '../src/nn/layout.js';
import { forwardBackward, forwardLoss } from '../src/nn/mlp.js';
import { batchPlan } from '../src/nn/scratch.js';
import { fill, worstFiniteDifference } from './helpers.js';

// Backprop (src/nn/mlp.ts over the naive kernels) run in float64 against central finite
// differences of the loss, for every activation and depths 1–3. With h = 1e-5 the
// truncation error is O(h²) ≈ 1e-10 relative to curvature, so 1e-6 is a strict bound.

const H = 1e-5;
const TOLERANCE = 1e-6;
const SHAPES: Record<number, number[]> = { 1: [6, 4], 2: [6, 5, 4], 3: [7, 6, 5, 3] };

for (const activation of ACTIVATIONS) {
  for (const depth of [1, 2, 3]) {
    it(`${activation}, depth ${depth}: gradients equal central finite differences`, () => {
      const net = networkLayout(SHAPES[depth], activation);
      const B = 5;
      const s = batchPlan(net, B, 2 * net.size);
      const m = new Float64Array(s.base + s.size);
      const k = naiveKernels(m);
      fill(m, 0, net.size, 11 + depth, -0.8, 0.8);
      fill(m, s.acts[0], B * net.sizes[0], 3, 0, 1);
      for (let r = 0; r < B; r++) m[s.targets + r] = r % net.sizes[net.sizes.length - 1];
      const input = m.slice(s.acts[0], s.acts[0] + B * net.sizes[0]);
      const result = new Float64Array(2);
      forwardBackward(k, m, net, 0, net.size, s, B, result);
      const loss = () => {
        m.set(input, s.acts[0]);
        return forwardLoss(k, m, net, 0, s, 0, B, result);
      };
      const { worst, where } = worstFiniteDifference(m, net.size, net.size, loss, H);
      assert.ok(worst < TOLERANCE, `max relative error ${worst.toExponential(2)} at ${where}`);
    });
  }
}
