import type { Optimizer } from './optimizer.js';

// SGD with momentum, PyTorch's convention: g = ∇/B + λw, v = μv + g, w −= lr·v; with Nesterov,
// w −= lr·(g + μv). The velocity is PyTorch's momentum_buffer.

export const sgd: Optimizer = {
  name: 'sgd',
  state: ['momentum'],
  fields: {
    momentum: {
      flag: 'momentum',
      kind: 'number',
      min: 0,
      max: 1,
      below: true,
      describe: 'SGD momentum (0 ≤ μ < 1)',
    },
    nesterov: { flag: 'nesterov', kind: 'boolean', describe: "Nesterov momentum (PyTorch's form)" },
  },
  defaults: { momentum: 0.9, nesterov: false },
  stepScalars(s, lr, _t, out, at) {
    out[at] = lr;
    out[at + 1] = s.momentum as number;
    out[at + 2] = s.weightDecay as number;
    out[at + 3] = s.nesterov ? 1 : 0;
  },
  update(k, slots, cur, at, grad, n, x, s, invBatch) {
    const next = 1 - cur;
    const v = slots.state[0];
    k.sgdUpdate(
      slots.params[cur] + at,
      v[cur] + at,
      slots.params[next] + at,
      v[next] + at,
      grad,
      n,
      x[s],
      x[s + 1],
      x[s + 2],
      invBatch,
      x[s + 3],
    );
  },
};
