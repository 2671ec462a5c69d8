import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { naiveKernels } from '../src/nn/kernels/naive.js';
import type { Kernels } from '../src/nn/kernels/types.js';
import { instantiateWasmKernels } from '../src/nn/kernels/wasm.js';
import { compileWasmVariant } from '../src/nn/kernels/wasm-module.js';
import { OPTIMIZERS, type OptimizerName, STEP_SCALARS, type UpdateSlots } from '../src/nn/optim/index.js';
import { learningRate, type Schedule, type ScheduleName } from '../src/nn/optim/schedule.js';
import { defaultConfig } from '../src/train/config.js';
import { arena, fill, fixture, kernelsOn } from './helpers.js';

// Every optimizer and schedule against PyTorch 1.13's own torch.optim and lr_scheduler in
// float64 (test/fixtures/optim-reference.json, from ../shared/reference/optim.json).

interface OptimCase {
  name: string;
  class: string;
  hyper: {
    lr: number;
    momentum?: number;
    weight_decay?: number;
    nesterov?: boolean;
    betas?: number[];
    eps?: number;
  };
  paramsAfterEachStep: number[][];
  finalState: Record<string, number[]>;
}
interface Reference {
  optimizers: { initialParams: number[]; gradients: number[][]; cases: OptimCase[] };
  schedules: { name: string; baseLr: number; steps: number; torch: string; lrs: number[] }[];
}
const ref = fixture<Reference>('optim-reference.json');

const OPTIMIZER_OF: Record<string, OptimizerName> = { SGD: 'sgd', Adam: 'adam', AdamW: 'adamw' };
/** PyTorch's state names, which are ours too (SGD's momentum_buffer is our `momentum`). */
const STATE_OF: Record<string, string> = {
  momentum_buffer: 'momentum',
  exp_avg: 'exp_avg',
  exp_avg_sq: 'exp_avg_sq',
};

function settingsOf(c: OptimCase): Record<string, number | boolean> {
  const h = c.hyper;
  return {
    ...defaultConfig(),
    momentum: h.momentum ?? 0,
    nesterov: h.nesterov ?? false,
    beta1: h.betas?.[0] ?? 0.9,
    beta2: h.betas?.[1] ?? 0.999,
    eps: h.eps ?? 1e-8,
    weightDecay: h.weight_decay ?? 0,
  } as unknown as Record<string, number | boolean>;
}

/**
 * Six steps of a case on an arena of `m` (float64 or float32), through the optimizer's own
 * stepScalars and update, as a block's owner runs them: reads copy (t & 1), writes the other.
 * The reference's gradients are already means, so invBatch is 1.
 */
function runCase(k: Kernels, m: Float32Array | Float64Array, c: OptimCase) {
  const o = OPTIMIZERS[OPTIMIZER_OF[c.class]];
  const n = ref.optimizers.initialParams.length;
  // past the first 64 KiB, which a wasm module keeps for its own data and stack
  const at = (i: number) => 16384 + i * 64;
  const slots: UpdateSlots = {
    params: [at(0), at(1)],
    state: o.state.map((_, j): [number, number] => [at(2 + 2 * j), at(3 + 2 * j)]),
  };
  const grad = at(8);
  m.set(ref.optimizers.initialParams, slots.params[0]);
  const scalars = new Float64Array(STEP_SCALARS);
  const after: number[][] = [];
  ref.optimizers.gradients.forEach((g, t) => {
    m.set(g, grad);
    o.stepScalars(settingsOf(c), c.hyper.lr, t + 1, scalars, 0);
    o.update(k, slots, t & 1, 0, grad, n, scalars, 0, 1);
    after.push(Array.from(m.subarray(slots.params[1 - (t & 1)], slots.params[1 - (t & 1)] + n)));
  });
  const last = ref.optimizers.gradients.length & 1;
  const state = Object.fromEntries(
    o.state.map((name, j) => [name, Array.from(m.subarray(slots.state[j][last], slots.state[j][last] + n))]),
  );
  return { after, state };
}

function assertClose(got: number[], want: number[], atol: number, rtol: number, what: string) {
  got.forEach((g, i) => {
    const err = Math.abs(g - want[i]);
    assert.ok(err <= atol + rtol * Math.abs(want[i]), `${what}[${i}]: ${g} vs ${want[i]} (error ${err})`);
  });
}

async function wasmBuilds(): Promise<{ name: string; k: Kernels; m: Float32Array }[]> {
  const out: { name: string; k: Kernels; m: Float32Array }[] = [];
  for (const variant of ['simd', 'relaxed'] as const) {
    const { module } = await compileWasmVariant(variant);
    if (!module) continue;
    const { memory, m } = arena(65536);
    out.push({ name: `wasm-${variant}`, k: await instantiateWasmKernels(memory, module), m });
  }
  return out;
}

describe('optimizers against PyTorch', () => {
  for (const c of ref.optimizers.cases) {
    it(`${c.name}: float64 arithmetic equals torch.optim.${c.class} to 1e-12`, () => {
      const m = new Float64Array(65536);
      const { after, state } = runCase(naiveKernels(m), m, c);
      c.paramsAfterEachStep.forEach((want, t) => {
        assertClose(after[t], want, 1e-12, 1e-12, `step ${t + 1}`);
      });
      for (const [torchName, want] of Object.entries(c.finalState))
        assertClose(state[STATE_OF[torchName]], want, 1e-12, 1e-12, torchName);
    });

    // Parameters of order 1 and updates of at most lr per step (Adam's step is bounded by
    // lr·√(1−β₂ᵗ)/(1−β₁ᵗ) ≈ lr): six float32 steps round each intermediate to 2⁻²⁴ relative,
    // a few 1e-7 absolute in all; 1e-5 absolute + 1e-5 relative leaves a margin of 10× over
    // rounding, while a wrong bias correction or a coupled decay in AdamW is off by 1e-4 or more.
    it(`${c.name}: float32 kernels (js and wasm builds) equal torch.optim.${c.class} to float32 rounding`, async () => {
      const { memory, m } = arena(65536);
      const builds = [{ name: 'js', k: await kernelsOn('js', memory), m }, ...(await wasmBuilds())];
      for (const b of builds) {
        const { after, state } = runCase(b.k, b.m, c);
        c.paramsAfterEachStep.forEach((want, t) => {
          assertClose(after[t], want, 1e-5, 1e-5, `${b.name} step ${t + 1}`);
        });
        for (const [torchName, want] of Object.entries(c.finalState))
          assertClose(state[STATE_OF[torchName]], want, 1e-5, 1e-5, `${b.name} ${torchName}`);
      }
    });
  }

  it('Adam with weight decay 0 and AdamW with weight decay 0 are the same update', () => {
    const base = ref.optimizers.cases.find((c) => c.name === 'adam') as OptimCase;
    const m1 = new Float64Array(65536);
    const m2 = new Float64Array(65536);
    const a = runCase(naiveKernels(m1), m1, base);
    const w = runCase(naiveKernels(m2), m2, { ...base, class: 'AdamW' });
    assert.deepEqual(w.after, a.after);
  });
});

// The wasm update kernels compute in float32, one rounding per operation, unfused in both
// builds: a Math.fround emulation of the same operations in the same order gives their bits.
describe('wasm update kernels round as their float32 formulas', () => {
  const f = Math.fround;
  it('Adam and AdamW, over a ragged length, from one copy into the other and in place', async () => {
    for (const { name, k, m } of await wasmBuilds()) {
      const n = 1003;
      const [w, mm, vv, w2, m2, v2, grad] = [0, 1, 2, 3, 4, 5, 6].map((i) => 16384 + i * 1024);
      fill(m, w, n, 3);
      fill(m, mm, n, 4, -0.1, 0.1);
      fill(m, vv, n, 5, 0, 0.01);
      fill(m, grad, n, 6, -30, 30);
      for (const [wd, decay] of [
        [0.05, 1],
        [0, 1 - 0.01 * 0.05],
      ]) {
        const s = [0.01 / (1 - 0.9 ** 3), 0.9, 0.999, 1e-8, wd, decay, 1 / Math.sqrt(1 - 0.999 ** 3)];
        const [step, b1, b2, eps, l2, dec, bc2] = s;
        const want = { w: [] as number[], m: [] as number[], v: [] as number[] };
        for (let j = 0; j < n; j++) {
          const x = m[w + j];
          const g = f(f(m[grad + j] * f(1 / 128)) + f(f(l2) * x));
          const m1 = f(f(f(b1) * m[mm + j]) + f(f(1 - b1) * g));
          const v1 = f(f(f(b2) * m[vv + j]) + f(f(1 - b2) * f(g * g)));
          const denom = f(f(f(Math.sqrt(v1)) * f(bc2)) + f(eps));
          want.w.push(f(f(x * f(dec)) - f(f(step) * f(m1 / denom))));
          want.m.push(m1);
          want.v.push(v1);
        }
        const before = m.slice(w, w + 3 * 1024);
        k.adamUpdate(w, mm, vv, w2, m2, v2, grad, n, step, b1, b2, eps, l2, dec, bc2, 1 / 128);
        assert.deepEqual(Array.from(m.subarray(w2, w2 + n)), want.w, `${name} params`);
        assert.deepEqual(Array.from(m.subarray(m2, m2 + n)), want.m, `${name} exp_avg`);
        assert.deepEqual(Array.from(m.subarray(v2, v2 + n)), want.v, `${name} exp_avg_sq`);
        assert.deepEqual(m.slice(w, w + 3 * 1024), before, 'the source copy is untouched');
        k.adamUpdate(w, mm, vv, w, mm, vv, grad, n, step, b1, b2, eps, l2, dec, bc2, 1 / 128);
        assert.deepEqual(Array.from(m.subarray(w, w + n)), want.w, `${name} in place`);
        m.set(before, w); // the next case starts from the same values
      }
    }
  });

  it('SGD with and without Nesterov momentum', async () => {
    for (const { name, k, m } of await wasmBuilds()) {
      const n = 1003;
      const [w, v, w2, v2, grad] = [0, 1, 2, 3, 4].map((i) => 16384 + i * 1024);
      fill(m, w, n, 7);
      fill(m, v, n, 8, -0.1, 0.1);
      fill(m, grad, n, 9, -30, 30);
      for (const nesterov of [0, 1]) {
        const want: number[] = [];
        for (let j = 0; j < n; j++) {
          const x = m[w + j];
          const g = f(f(m[grad + j] * f(1 / 128)) + f(f(1e-3) * x));
          const vel = f(f(f(0.9) * m[v + j]) + g);
          const d = nesterov ? f(g + f(f(0.9) * vel)) : vel;
          want.push(f(x - f(f(0.05) * d)));
        }
        k.sgdUpdate(w, v, w2, v2, grad, n, 0.05, 0.9, 1e-3, 1 / 128, nesterov);
        assert.deepEqual(Array.from(m.subarray(w2, w2 + n)), want, `${name}, nesterov ${nesterov}`);
      }
    }
  });
});

describe('learning-rate schedules against torch.optim.lr_scheduler', () => {
  // each reference case as our settings (PyTorch's arguments are in the case's `torch` field)
  const settings: Record<string, Partial<Schedule> & { name: ScheduleName }> = {
    step: { name: 'step', stepSize: 7, gamma: 0.5 },
    cosine: { name: 'cosine', lrMin: 0.001 },
    warmup_cosine: { name: 'cosine', warmupSteps: 5, warmupStartFactor: 0.1, lrMin: 0 },
    onecycle: { name: 'onecycle' },
  };
  for (const c of ref.schedules) {
    it(`${c.name}: ${c.torch}, every step's rate to float64 rounding`, () => {
      const s: Schedule = {
        lr: c.baseLr,
        totalSteps: c.steps,
        warmupSteps: 0,
        warmupStartFactor: 1,
        lrMin: 0,
        stepSize: 1,
        gamma: 1,
        ...settings[c.name],
      };
      // PyTorch's schedulers update the rate recursively (a product per step), ours in closed
      // form: the two agree to a few float64 ulps, far below any difference of formula.
      c.lrs.forEach((want, t) => {
        assertClose([learningRate(s, t)], [want], 1e-15, 1e-12, `step ${t}`);
      });
    });
  }

  it('constant is the base rate, with its warm-up rising linearly to it', () => {
    const s: Schedule = {
      name: 'constant',
      lr: 0.2,
      totalSteps: 10,
      warmupSteps: 4,
      warmupStartFactor: 0.25,
      lrMin: 0,
      stepSize: 1,
      gamma: 1,
    };
    assertClose(
      Array.from({ length: 6 }, (_, t) => learningRate(s, t)),
      [0.05, 0.0875, 0.125, 0.1625, 0.2, 0.2],
      1e-15,
      1e-14,
      'rate',
    );
  });
});

describe('the config fields', () => {
  it('name every setting of the config, and only those', async () => {
    const { CONFIG_FIELDS } = await import('../src/train/config.js');
    assert.deepEqual(Object.keys(CONFIG_FIELDS).sort(), Object.keys(defaultConfig()).sort());
  });
});
