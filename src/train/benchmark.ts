import type { Dataset } from '../data/dataset.js';
import { shapeOf } from '../data/shape.js';
import { coreCount, type MachineInfo, machineInfo } from '../machine.js';
import { initParams } from '../nn/init.js';
import type { Activation } from '../nn/layout.js';
import { type OptimizerName, type OptimizerSettings, optimizerNamed } from '../nn/optim/index.js';
import { permutation, Rng } from '../nn/rng.js';
import { defaultConfig, type KernelChoice } from './config.js';
import {
  MAX_STEPS,
  T_COMPUTE,
  T_GRADIENTS,
  T_SLICED_STEPS,
  T_UPDATE,
  T_WAIT_END,
  T_WAIT_MID,
  TIMING_FIELDS,
} from './control.js';
import { coreRoundTripNs } from './core-latency.js';
import { kernelsDescription, resolveKernels } from './kernels.js';
import { checkRunnable } from './plan.js';
import { StepPool, type StepStats } from './pool.js';

// Thread scaling of whole training steps on real data: the figure users care about. Used by
// `gradpool bench` and by the tinybench suite in bench/.

export interface ScalingOptions {
  dataset: Dataset;
  /** thread counts, measured and reported in ascending order (duplicates once) */
  threads: readonly number[];
  hidden?: readonly number[];
  activation?: Activation;
  batchSize?: number;
  kernels?: KernelChoice;
  /** the update each step applies (default sgd, lr 0.05, momentum 0.9) */
  optimizer?: OptimizerName;
  /** hidden units' dropout rate */
  dropout?: number;
  /**
   * the learning rate (default: 0.05 for sgd, 1e-3 for adam and adamw). How fast a step runs
   * depends on the weights it meets (the kernels skip the zeros of ReLU's gradients), so
   * optimizers are compared at a rate too small to move them: the same work, but the update.
   */
  lr?: number;
  /**
   * the least measured time per thread count: the same epoch, as many times as it takes
   * (SEGMENT_STEPS), after one run of it to warm up
   */
  seconds?: number;
  /**
   * passes over the thread counts; each count keeps its fastest pass. On a shared host one
   * slow moment otherwise skews every ratio to the first row.
   */
  rounds?: number;
  /** each measurement as it is taken (speed-up against the first count's best so far) */
  onRow?: (row: ScalingRow) => void;
}

export interface StepBreakdown {
  /** phases 0 and 1: gather, forward (with first-layer slices, theirs too), loss and deltas; mean per worker */
  computeMs: number;
  /** phase 2's weight-gradient products dZᵀ·A; mean per worker */
  gradientsMs: number;
  /** waiting at a step's barriers (phase 0's two, between the phases, and for the step's last block); mean per worker */
  waitMs: number;
  /** of waitMs, the waits before phase 2: phase 0's and phase 1's imbalance (the rest is phase 2's) */
  waitMidMs: number;
  /** phase 2's optimizer updates; mean per worker */
  updateMs: number;
  /** the rest of the step's wall time: publishing commands, waking, gathering stats */
  otherMs: number;
}

/**
 * The share of the step not spent computing forward, deltas and gradients: synchronisation,
 * update and the coordinator's work (there is no separate reduce: each parameter has one owner).
 */
export const overheadShare = (row: Pick<ScalingRow, 'stepMs' | 'breakdown'>): number =>
  1 - (row.breakdown.computeMs + row.breakdown.gradientsMs) / row.stepMs;

export interface ScalingRow {
  threads: number;
  samplesPerSec: number;
  /** samplesPerSec / samplesPerSec of the first row (the fewest threads) */
  speedup: number;
  /** speedup / (threads / threads of the first row) */
  efficiency: number;
  /**
   * Thread-time of forward, deltas and weight gradients per step, all threads together, ÷ the
   * first row's: above 1, each thread computes the same work slower than the first row's did.
   * efficiency = (computing share ÷ the first row's computing share) ÷ computeCost.
   */
  computeCost: number;
  stepMs: number;
  steps: number;
  breakdown: StepBreakdown;
  /** whether the first layer's forward went by output neurons (src/nn/arena.ts firstLayerSlices) */
  firstLayerSlices: boolean;
}

export interface ScalingResult {
  kernels: string;
  optimizer: OptimizerName;
  dropout: number;
  layers: number[];
  batchSize: number;
  rows: ScalingRow[];
  machine: MachineInfo;
  /**
   * ns for a flag to go between two threads' cores and back (coreRoundTripNs), before the
   * first thread count and after the last; absent on one core
   */
  coreRoundTripNs?: { before: number; after: number };
}

/**
 * What measureScaling times: one pass over the first min(SEGMENT_STEPS, rows ÷ batch) batches of
 * one fixed order of the training rows (Fashion-MNIST in batches of 128: 468, an epoch), the
 * same one for every thread count, after PRETRAIN_EPOCHS untimed passes over the same batches
 * (training reshuffles every epoch; this does not, so every count meets the same steps). A step gets faster as training goes on (the kernels skip more of ReLU's zeros):
 * the reference recipe at 1 thread on a Zen 2 core ran its epochs 1 to 10 at 84, 89, 91, 92, 93,
 * 93, 94, 94, 94 and 94k samples/s. Timing each count for the same seconds from the start had
 * favoured the counts that got further; the third epoch runs at the mean speed of a default run
 * of 10 epochs.
 */
export const SEGMENT_STEPS = 469;
export const PRETRAIN_EPOCHS = 2;

export async function measureScaling(options: ScalingOptions): Promise<ScalingResult> {
  const { dataset } = options;
  const batchSize = options.batchSize ?? 128;
  const counts = [...new Set(options.threads)].sort((a, b) => a - b);
  // impossible settings are refused before anything is measured
  const { net } = checkRunnable(shapeOf(dataset), {
    hidden: options.hidden ?? [256, 128],
    activation: options.activation ?? 'relu',
    batchSize,
    threads: counts[counts.length - 1],
    optimizer: options.optimizer,
    dropout: options.dropout,
  });
  const kernels = await resolveKernels(options.kernels ?? 'auto');
  const optimizer = optimizerNamed(options.optimizer ?? 'sgd');
  const defaults = defaultConfig();
  const settings = defaults as unknown as OptimizerSettings;
  const lr = options.lr ?? (optimizer.name === 'sgd' ? defaults.lr : 1e-3);
  const seconds = options.seconds ?? 2;
  const best: (ScalingRow | undefined)[] = [];
  const N = dataset.train.count;
  // the steps of a segment: an epoch (whole batches), at most SEGMENT_STEPS
  const segmentSteps = Math.max(1, Math.min(SEGMENT_STEPS, Math.floor(N / batchSize)));
  const rounds = options.rounds ?? 1;
  const order = new Int32Array(N);
  permutation(new Rng(1), order, N);
  /** segmentSteps steps from `first`, the serial of the first */
  const trainSegment = async (pool: StepPool, stats: StepStats[], first: number): Promise<void> => {
    for (let at = 0; at < segmentSteps; ) {
      const count = Math.min(MAX_STEPS, segmentSteps - at);
      await pool.trainSteps(at * batchSize, batchSize, count, stats, first + at);
      at += count;
    }
  };
  /** the weights and optimizer state after PRETRAIN_EPOCHS segments from the seed's (untimed) */
  const pretrain = async (pool: StepPool, stats: StepStats[]) => {
    initParams(net, 1, pool.params);
    for (const buffer of pool.state) buffer.fill(0);
    for (let e = 0; e < PRETRAIN_EPOCHS; e++) await trainSegment(pool, stats, e * segmentSteps);
    return { params: pool.params.slice(), state: pool.state.map((buffer) => buffer.slice()) };
  };
  let start: { params: Float32Array; state: Float32Array[] } | undefined;
  const twoCores = coreCount() >= 2;
  const before = twoCores ? await coreRoundTripNs() : 0;
  for (let round = 0; round < rounds; round++)
    for (const [index, threads] of counts.entries()) {
      const pool = await StepPool.forNetwork({
        net,
        dataset,
        threads,
        kernels,
        batchRows: batchSize,
        optimizer,
        dropout: options.dropout,
      });
      try {
        // Adam's bias corrections change every step, as in training
        pool.setStepScalars((t, out, at) => optimizer.stepScalars(settings, lr, t + 1, out, at));
        pool.order.set(order);
        const stats: StepStats[] = Array.from({ length: MAX_STEPS }, () => ({ loss: 0, correct: 0 }));
        // Every thread count trains the same steps (see SEGMENT_STEPS), from the same weights and
        // optimizer state, in commands of several steps as training runs them
        // (src/train/trainer.ts); the first segment is the warm-up, the others are timed.
        start ??= await pretrain(pool, stats);
        const { params, state } = start;
        const segment = async (): Promise<number> => {
          pool.params.set(params);
          for (const [i, buffer] of pool.state.entries()) buffer.set(state[i]);
          const t0 = performance.now();
          await trainSegment(pool, stats, PRETRAIN_EPOCHS * segmentSteps);
          return performance.now() - t0;
        };
        await segment();
        pool.timings.fill(0);
        let s = 0;
        let wall = 0;
        do {
          wall += await segment();
          s += segmentSteps;
        } while (wall < seconds * 1000);
        const mean = (field: number) => {
          let sum = 0;
          for (let w = 0; w < threads; w++) sum += pool.timings[w * TIMING_FIELDS + field];
          return sum / threads / s;
        };
        const stepMs = wall / s;
        const computeMs = mean(T_COMPUTE);
        const waitMidMs = mean(T_WAIT_MID);
        const waitMs = waitMidMs + mean(T_WAIT_END);
        const gradientsMs = mean(T_GRADIENTS);
        const updateMs = mean(T_UPDATE);
        const samplesPerSec = (s * batchSize * 1000) / wall;
        const row: ScalingRow = {
          threads,
          samplesPerSec,
          speedup: 1,
          efficiency: 1,
          computeCost: 1,
          stepMs,
          steps: s,
          // what the workers did, not what the plan said
          firstLayerSlices: mean(T_SLICED_STEPS) > 0,
          breakdown: {
            computeMs,
            gradientsMs,
            waitMs,
            waitMidMs,
            updateMs,
            otherMs: Math.max(0, stepMs - computeMs - gradientsMs - waitMs - updateMs),
          },
        };
        rateAgainst(row, (index === 0 ? undefined : best[0]) ?? row);
        if (!best[index] || row.samplesPerSec > (best[index]?.samplesPerSec ?? 0)) best[index] = row;
        options.onRow?.(row);
      } finally {
        await pool.close();
      }
    }
  const rows = best.filter((r): r is ScalingRow => r !== undefined);
  for (const r of rows) rateAgainst(r, rows[0]);
  const roundTrip = twoCores ? { coreRoundTripNs: { before, after: await coreRoundTripNs() } } : {};
  return {
    ...roundTrip,
    kernels: kernelsDescription(kernels),
    optimizer: optimizer.name,
    dropout: options.dropout ?? 0,
    layers: [...net.sizes],
    batchSize,
    rows,
    machine: machineInfo(),
  };
}

/** Speed-up, efficiency and compute cost of `row` against `base`. */
function rateAgainst(row: ScalingRow, base: ScalingRow): void {
  const computeThreadMs = (x: ScalingRow) => (x.breakdown.computeMs + x.breakdown.gradientsMs) * x.threads;
  row.speedup = row.samplesPerSec / base.samplesPerSec;
  row.efficiency = row.speedup / (row.threads / base.threads);
  row.computeCost = computeThreadMs(row) / computeThreadMs(base);
}

/** Markdown table of a scaling result. */
export function scalingTable(r: ScalingResult): string {
  const lines = [
    `${r.layers.join('-')}, batch ${r.batchSize}, ${r.optimizer}${r.dropout > 0 ? `, dropout ${r.dropout}` : ''}, kernels: ${r.kernels} — ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}`,
    '',
    '| threads | samples/s | speed-up | efficiency | step ms | forward + deltas | weight grads | wait (mid + end) | update | other | not computing | compute cost |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const x of r.rows) {
    const b = x.breakdown;
    const pct = (v: number) => `${((100 * v) / x.stepMs).toFixed(0)} %`;
    const share = (v: number) => ((100 * v) / x.stepMs).toFixed(1);
    lines.push(
      `| ${x.threads} | ${Math.round(x.samplesPerSec).toLocaleString('en-US')} | ${x.speedup.toFixed(2)}× | ${(x.efficiency * 100).toFixed(0)} % | ${x.stepMs.toFixed(3)} | ${pct(b.computeMs)} | ${pct(b.gradientsMs)} | ${pct(b.waitMs)} (${share(b.waitMidMs)} + ${share(b.waitMs - b.waitMidMs)}) | ${pct(b.updateMs)} | ${pct(b.otherMs)} | ${(100 * overheadShare(x)).toFixed(0)} % | ${x.computeCost.toFixed(2)}× |`,
    );
  }
  lines.push(
    '',
    'Compute cost: the thread-time of forward, deltas and weight gradients per step, all threads together, against the first row. Above 1× each thread computes the same work slower (caches and memory shared with the other threads, parameters fetched from the cores that updated them, clocks); efficiency = (computing share ÷ the first row’s) ÷ compute cost.',
  );
  const sliced = r.rows.filter((x) => x.firstLayerSlices).map((x) => x.threads);
  if (sliced.length)
    lines.push(
      '',
      `At ${sliced.join(', ')} threads the first layer's forward went by output neurons: each thread computed its slice of the outputs, for every row, from the weights it updates itself.`,
    );
  if (r.coreRoundTripNs)
    lines.push(
      '',
      `A flag between two threads' cores and back (JavaScript Atomics): ${r.coreRoundTripNs.before.toFixed(0)} ns before the rows, ${r.coreRoundTripNs.after.toFixed(0)} ns after. Where a host moves its vCPUs between cores that share a cache and cores that do not (on a Zen 2 KVM guest ~150 ns against ~500), threads scale differently in each.`,
    );
  const base = r.rows[0]?.threads ?? 1;
  if (base !== 1)
    lines.push('', `Speed-up and efficiency are against ${base} threads, the fewest measured, not 1.`);
  const cores = r.machine.cores;
  if (r.rows.some((x) => x.threads > cores))
    lines.push(
      '',
      `Rows above ${cores} thread${cores === 1 ? '' : 's'} run more threads than this machine has cores: they share cores and wait for each other.`,
    );
  return lines.join('\n');
}

/** 1, 2, 4, … up to the number of cores, and the number of cores itself. */
export function defaultThreadCounts(cores = coreCount()): number[] {
  const out: number[] = [];
  for (let t = 1; t < cores; t *= 2) out.push(t);
  out.push(cores);
  return out;
}
