import type { FieldSpec } from '../../fields.js';
import type { Optimizer, OptimizerName, OptimizerSettings } from './optimizer.js';

// Adam and AdamW, PyTorch's conventions (torch.optim.Adam / AdamW, bias-corrected):
//   Adam:  g = ∇/B + λw                          AdamW: g = ∇/B, w ← w·(1 − lr·λ)
//   m = β₁m + (1 − β₁)g    v = β₂v + (1 − β₂)g²    w ← w − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
// (the kernel multiplies by 1/√(1 − β₂ᵗ): equal to PyTorch's division to float32 rounding)
// One kernel does both: the coordinator passes Adam's λ as the gradient's decay and AdamW's
// as the factor (1 − lr·λ), computed once per step in float64 like the bias corrections.

const fields: Record<string, FieldSpec> = {
  beta1: {
    flag: 'beta1',
    kind: 'number',
    min: 0,
    max: 1,
    below: true,
    describe: "Adam's first-moment decay β₁ (0 ≤ β₁ < 1)",
  },
  beta2: {
    flag: 'beta2',
    kind: 'number',
    min: 0,
    max: 1,
    below: true,
    describe: "Adam's second-moment decay β₂ (0 ≤ β₂ < 1)",
  },
  eps: { flag: 'eps', kind: 'number', min: 0, above: true, max: 1, describe: "Adam's ε (> 0)" },
};

const defaults: OptimizerSettings = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

function adamFamily(name: OptimizerName, decoupled: boolean): Optimizer {
  return {
    name,
    state: ['exp_avg', 'exp_avg_sq'],
    fields,
    defaults,
    stepScalars(s, lr, t, out, at) {
      const beta1 = s.beta1 as number;
      const beta2 = s.beta2 as number;
      const lambda = s.weightDecay as number;
      out[at] = lr / (1 - beta1 ** t);
      out[at + 1] = beta1;
      out[at + 2] = beta2;
      out[at + 3] = s.eps as number;
      out[at + 4] = decoupled ? 0 : lambda;
      out[at + 5] = decoupled ? 1 - lr * lambda : 1;
      out[at + 6] = 1 / Math.sqrt(1 - beta2 ** t);
    },
    update(k, slots, cur, at, grad, n, x, s, invBatch) {
      const next = 1 - cur;
      const m = slots.state[0];
      const v = slots.state[1];
      k.adamUpdate(
        slots.params[cur] + at,
        m[cur] + at,
        v[cur] + at,
        slots.params[next] + at,
        m[next] + at,
        v[next] + at,
        grad,
        n,
        x[s],
        x[s + 1],
        x[s + 2],
        x[s + 3],
        x[s + 4],
        x[s + 5],
        x[s + 6],
        invBatch,
      );
    },
  };
}

export const adam = adamFamily('adam', false);
export const adamw = adamFamily('adamw', true);
