import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KernelName } from '../src/nn/kernels/types.js';
import { ACTIVATION_CODE, type Activation, networkLayout } from '../src/nn/layout.js';
import { forwardBackward } from '../src/nn/mlp.js';
import { batchPlan } from '../src/nn/scratch.js';
import { arena, fixture, kernelsOn, worstRatio } from './helpers.js';

// Forward, loss, gradients and SGD against float64 values computed independently with numpy
// (test/fixtures/mlp-reference.json, from ../shared/reference). Our arithmetic is float32 on
// values of order 1 summed over at most 16 terms, so agreement to atol 1e-5 + rtol 1e-4 leaves
// a wide margin over rounding (≈1e-6) while any wrong index or sign is off by far more.

interface Case {
  name: string;
  sizes: number[];
  activation: Activation;
  x: number[][];
  labels: number[];
  weights: number[][][];
  biases: number[][];
  probabilities: number[][];
  lossSum: number;
  dWeightsSum: number[][][];
  dBiasesSum: number[][];
}
interface SgdCase extends Omit<Case, 'probabilities' | 'lossSum' | 'dWeightsSum' | 'dBiasesSum'> {
  lr: number;
  momentum: number;
  weightDecay: number;
  stepsOnSameBatch: number;
  paramsAfterEachStep: { weights: number[][][]; biases: number[][] }[];
}
const ref = fixture<{ cases: Case[]; sgd: SgdCase }>('mlp-reference.json');

const ATOL = 1e-5;
const RTOL = 1e-4;

/** The parameters of a case flattened in our layout (weights O×I row-major, then bias). */
function flatParams(
  sizes: number[],
  activation: Activation,
  weights: number[][][],
  biases: number[][],
): number[] {
  const net = networkLayout(sizes, activation);
  const out = new Array<number>(net.size);
  net.layers.forEach((L, i) => {
    weights[i].forEach((row, o) => {
      row.forEach((v, k) => {
        out[L.weight + o * L.inputs + k] = v;
      });
    });
    biases[i].forEach((v, o) => {
      out[L.bias + o] = v;
    });
  });
  return out;
}

async function setUp(
  kernels: KernelName,
  c: Omit<Case, 'probabilities' | 'lossSum' | 'dWeightsSum' | 'dBiasesSum'>,
) {
  const net = networkLayout(c.sizes, c.activation);
  const B = c.x.length;
  const params = 0;
  const grad = net.size;
  const velocity = 2 * net.size;
  const scratch = batchPlan(net, B, 3 * net.size);
  const { memory, m } = arena(scratch.base + scratch.size + 16384);
  // Leave the wasm module's reserved first 64 KiB alone: shift everything by RESERVED.
  const base = 16384;
  const k = await kernelsOn(kernels, memory);
  m.set(flatParams(c.sizes, c.activation, c.weights, c.biases), base + params);
  const s = batchPlan(net, B, base + 3 * net.size);
  c.x.forEach((row, r) => {
    m.set(row, s.acts[0] + r * c.sizes[0]);
  });
  c.labels.forEach((l, r) => {
    m[s.targets + r] = l;
  });
  return { net, B, m, k, s, params: base + params, grad: base + grad, velocity: base + velocity };
}

for (const kernels of ['naive', 'js', 'wasm'] as const) {
  describe(`${kernels} kernels match the float64 reference`, () => {
    for (const c of ref.cases) {
      it(`${c.name}: loss, probabilities and every gradient`, async () => {
        const { net, B, m, k, s, params, grad } = await setUp(kernels, c);
        const result = new Float64Array(2);
        const loss = forwardBackward(k, m, net, params, grad, s, B, result);
        assert.ok(Math.abs(loss - c.lossSum) <= ATOL + RTOL * c.lossSum, `loss ${loss} vs ${c.lossSum}`);
        const C = c.sizes[c.sizes.length - 1];
        const logits = s.acts[s.acts.length - 1];
        for (let r = 0; r < B; r++) {
          for (let j = 0; j < C; j++) {
            const p = m[logits + r * C + j] + (j === c.labels[r] ? 1 : 0);
            assert.ok(
              Math.abs(p - c.probabilities[r][j]) <= ATOL,
              `p[${r}][${j}] ${p} vs ${c.probabilities[r][j]}`,
            );
          }
        }
        const want = flatParams(c.sizes, c.activation, c.dWeightsSum, c.dBiasesSum);
        const w = worstRatio(m, grad, want, 0, net.size, ATOL, RTOL);
        assert.ok(w.worst <= 1, `gradient ${w.at}: ${w.got} vs ${w.want} (ratio ${w.worst.toFixed(2)})`);
        assert.equal(ACTIVATION_CODE[c.activation] >= 0, true);
      });
    }

    it('three SGD steps with momentum and weight decay', async () => {
      const c = ref.sgd;
      const { net, B, m, k, s, params, grad, velocity } = await setUp(kernels, c);
      const result = new Float64Array(2);
      c.paramsAfterEachStep.forEach((after, step) => {
        // the input and labels stay; the forward pass overwrites only activations
        forwardBackward(k, m, net, params, grad, s, B, result);
        k.sgdUpdate(
          params,
          velocity,
          params,
          velocity,
          grad,
          net.size,
          c.lr,
          c.momentum,
          c.weightDecay,
          1 / B,
          0,
        );
        const want = flatParams(c.sizes, c.activation, after.weights, after.biases);
        const w = worstRatio(m, params, want, 0, net.size, ATOL, RTOL);
        assert.ok(w.worst <= 1, `step ${step + 1}, param ${w.at}: ${w.got} vs ${w.want}`);
      });
    });
  });
}
