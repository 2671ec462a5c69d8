// Learning-rate schedules: pure functions of the run's step, evaluated by the coordinator in
// float64 for every step, equal (to float64 rounding) to what PyTorch's schedulers give when
// stepped once per optimizer step. A warm-up is PyTorch's LinearLR followed, through
// SequentialLR, by the schedule counted from the warm-up's end.

export type ScheduleName = 'constant' | 'step' | 'cosine' | 'onecycle';
export const SCHEDULES: readonly ScheduleName[] = ['constant', 'step', 'cosine', 'onecycle'];

export interface Schedule {
  readonly name: ScheduleName;
  /** the base rate (onecycle: the peak, max_lr) */
  readonly lr: number;
  /** the run's steps, all epochs */
  readonly totalSteps: number;
  /** steps of linear warm-up from lr·warmupStartFactor (not with onecycle, which has its own) */
  readonly warmupSteps: number;
  readonly warmupStartFactor: number;
  /** cosine: the rate it anneals to (eta_min) */
  readonly lrMin: number;
  /** step: steps between decays (StepLR's step_size), and the factor (gamma) */
  readonly stepSize: number;
  readonly gamma: number;
}

/**
 * OneCycleLR's defaults, which gradpool keeps: 30 % of the run rising from lr/25, then down to
 * lr/25e4. The rate only: PyTorch's cycle_momentum (on by default) is not applied.
 */
const ONECYCLE = { pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4 };

/** The rate step `t` (0-based over the run) uses. */
export function learningRate(s: Schedule, t: number): number {
  if (s.name === 'onecycle') return oneCycle(s.lr, s.totalSteps, t);
  if (t < s.warmupSteps) {
    // LinearLR(start_factor, end_factor = 1, total_iters = warmupSteps)
    const f = s.warmupStartFactor;
    return s.lr * (f + ((1 - f) * t) / s.warmupSteps);
  }
  const u = t - s.warmupSteps;
  switch (s.name) {
    case 'constant':
      return s.lr;
    case 'step':
      return s.lr * s.gamma ** Math.floor(u / s.stepSize);
    case 'cosine': {
      const T = s.totalSteps - s.warmupSteps;
      return s.lrMin + ((s.lr - s.lrMin) * (1 + Math.cos((Math.PI * u) / T))) / 2;
    }
  }
}

/** torch.optim.lr_scheduler.OneCycleLR with anneal_strategy='cos', three_phase=False, cycle_momentum=False. */
function oneCycle(maxLr: number, total: number, t: number): number {
  const initial = maxLr / ONECYCLE.divFactor;
  const min = initial / ONECYCLE.finalDivFactor;
  const peak = ONECYCLE.pctStart * total - 1;
  const [start, end, from, to] = t <= peak ? [0, peak, initial, maxLr] : [peak, total - 1, maxLr, min];
  const pct = (t - start) / (end - start);
  return to + ((from - to) / 2) * (Math.cos(Math.PI * pct) + 1);
}
