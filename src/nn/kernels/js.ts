import { gatherInputs } from './gather.js';
import { activate, derivativeFromOutput, naiveKernels } from './naive.js';
import type { Kernels } from './types.js';

// Plain JavaScript kernels: the fallback where WebAssembly SIMD is missing. Loop orders keep
// the innermost loop contiguous, products are register-blocked by four, and rows of dz that
// are zero (relu) are skipped. Accumulation is in float64 (JS numbers), rounded on store.
export function jsKernels(m: Float32Array): Kernels {
  const naive = naiveKernels(m);
  return {
    name: 'js',
    // out: B×O = a: B×I · wᵀ + bias; four dot products share each load of a
    linearForward(out, a, w, bias, B, I, O, _pack, outStride = O) {
      for (let r = 0; r < B; r++) {
        const ar = a + r * I;
        const or = out + r * outStride;
        let o = 0;
        for (; o + 4 <= O; o += 4) {
          const w0 = w + o * I;
          const w1 = w0 + I;
          const w2 = w1 + I;
          const w3 = w2 + I;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          for (let k = 0; k < I; k++) {
            const x = m[ar + k];
            s0 += x * m[w0 + k];
            s1 += x * m[w1 + k];
            s2 += x * m[w2 + k];
            s3 += x * m[w3 + k];
          }
          m[or + o] = s0 + m[bias + o];
          m[or + o + 1] = s1 + m[bias + o + 1];
          m[or + o + 2] = s2 + m[bias + o + 2];
          m[or + o + 3] = s3 + m[bias + o + 3];
        }
        for (; o < O; o++) {
          const wo = w + o * I;
          let s = 0;
          for (let k = 0; k < I; k++) s += m[ar + k] * m[wo + k];
          m[or + o] = s + m[bias + o];
        }
      }
    },
    // rows [o0, o1) of dw = dzᵀ·a as a sum of outer products, row by row
    // needs no scratch: reads dz where it is
    linearBackwardParams(dw, db, dz, a, B, I, O, o0, o1, _pack) {
      for (let o = o0; o < o1; o++) {
        const wo = dw + (o - o0) * I;
        m.fill(0, wo, wo + I);
        let sb = 0;
        for (let r = 0; r < B; r++) {
          const s = m[dz + r * O + o];
          sb += s;
          if (s === 0) continue;
          const ar = a + r * I;
          for (let k = 0; k < I; k++) m[wo + k] += s * m[ar + k];
        }
        m[db + o - o0] = sb;
      }
    },
    // da: B×I = dz · w, accumulating rows of w scaled by dz
    linearBackwardInput(da, dz, w, B, I, O) {
      for (let r = 0; r < B; r++) {
        const dr = da + r * I;
        m.fill(0, dr, dr + I);
        for (let o = 0; o < O; o++) {
          const s = m[dz + r * O + o];
          if (s === 0) continue;
          const wo = w + o * I;
          for (let k = 0; k < I; k++) m[dr + k] += s * m[wo + k];
        }
      }
    },
    activationForward(act, x, n) {
      if (act === 0) {
        for (let i = x; i < x + n; i++) if (m[i] < 0) m[i] = 0; // NaN passes through: divergence must stay visible
      } else {
        for (let i = x; i < x + n; i++) m[i] = activate(act, m[i]);
      }
    },
    activationBackward(act, d, a, n) {
      for (let i = 0; i < n; i++) m[d + i] *= derivativeFromOutput(act, m[a + i]);
    },
    softmaxCrossEntropy: naive.softmaxCrossEntropy,
    sgdUpdate: naive.sgdUpdate,
    adamUpdate: naive.adamUpdate,
    gatherInputs: (dst, inputs, rows, from, B, features) =>
      gatherInputs(m, dst, inputs, rows, from, B, features),
  };
}
