import { PIXEL_SCALE } from './gather.js';
import type { Floats, Kernels } from './types.js';

// Textbook loops with float64 accumulators: the reference every fast kernel is tested against.
export function naiveKernels(m: Floats): Kernels {
  return {
    name: 'naive',
    linearForward(out, a, w, bias, B, I, O, _pack, outStride = O) {
      for (let r = 0; r < B; r++) {
        for (let o = 0; o < O; o++) {
          let s = m[bias + o];
          for (let k = 0; k < I; k++) s += m[a + r * I + k] * m[w + o * I + k];
          m[out + r * outStride + o] = s;
        }
      }
    },
    // needs no scratch: reads dz where it is
    linearBackwardParams(dw, db, dz, a, B, I, O, o0, o1, _pack) {
      for (let o = o0; o < o1; o++) {
        for (let k = 0; k < I; k++) {
          let s = 0;
          for (let r = 0; r < B; r++) s += m[dz + r * O + o] * m[a + r * I + k];
          m[dw + (o - o0) * I + k] = s;
        }
        let sb = 0;
        for (let r = 0; r < B; r++) sb += m[dz + r * O + o];
        m[db + o - o0] = sb;
      }
    },
    linearBackwardInput(da, dz, w, B, I, O) {
      for (let r = 0; r < B; r++) {
        for (let k = 0; k < I; k++) {
          let s = 0;
          for (let o = 0; o < O; o++) s += m[dz + r * O + o] * m[w + o * I + k];
          m[da + r * I + k] = s;
        }
      }
    },
    activationForward(act, x, n) {
      for (let i = x; i < x + n; i++) m[i] = activate(act, m[i]);
    },
    activationBackward(act, d, a, n) {
      for (let i = 0; i < n; i++) m[d + i] *= derivativeFromOutput(act, m[a + i]);
    },
    softmaxCrossEntropy(logits, labels, B, C) {
      let loss = 0;
      for (let r = 0; r < B; r++) {
        const row = logits + r * C;
        let max = Number.NEGATIVE_INFINITY;
        for (let c = 0; c < C; c++) max = Math.max(max, m[row + c]);
        let sum = 0;
        for (let c = 0; c < C; c++) sum += Math.exp(m[row + c] - max);
        const label = m[labels + r];
        loss += Math.log(sum) + max - m[row + label];
        for (let c = 0; c < C; c++) m[row + c] = Math.exp(m[row + c] - max) / sum - (c === label ? 1 : 0);
      }
      return loss;
    },
    sgdUpdate(
      params,
      velocity,
      paramsOut,
      velocityOut,
      grad,
      n,
      lr,
      momentum,
      weightDecay,
      invBatch,
      nesterov,
    ) {
      for (let j = 0; j < n; j++) {
        const w = m[params + j];
        const g = m[grad + j] * invBatch + weightDecay * w;
        const v = momentum * m[velocity + j] + g;
        m[velocityOut + j] = v;
        m[paramsOut + j] = w - lr * (nesterov ? g + momentum * m[velocityOut + j] : m[velocityOut + j]);
      }
    },
    adamUpdate(
      params,
      mm,
      vv,
      paramsOut,
      mOut,
      vOut,
      grad,
      n,
      stepSize,
      b1,
      b2,
      eps,
      wd,
      decay,
      invBc2,
      inv,
    ) {
      for (let j = 0; j < n; j++) {
        const w = m[params + j];
        const g = m[grad + j] * inv + wd * w;
        m[mOut + j] = b1 * m[mm + j] + (1 - b1) * g;
        m[vOut + j] = b2 * m[vv + j] + (1 - b2) * g * g;
        const denom = Math.sqrt(m[vOut + j]) * invBc2 + eps;
        m[paramsOut + j] = w * decay - stepSize * (m[mOut + j] / denom);
      }
    },
    gatherInputs(dst, inputs, rows, from, B, features) {
      const scale = inputs instanceof Uint8Array ? PIXEL_SCALE : 1;
      for (let r = 0; r < B; r++) {
        const row = rows ? rows[from + r] : from + r;
        for (let c = 0; c < features; c++) m[dst + r * features + c] = inputs[row * features + c] * scale;
      }
    },
  };
}

export function activate(act: number, z: number): number {
  if (act === 0) return Math.max(z, 0); // NaN passes through
  if (act === 1) return Math.tanh(z);
  return 1 / (1 + Math.exp(-z));
}

export function derivativeFromOutput(act: number, a: number): number {
  if (act === 0) return a > 0 ? 1 : 0;
  if (act === 1) return 1 - a * a;
  return a * (1 - a);
}
