import { type Dataset, loadDataset } from '../data/dataset.js';
import { TrainingError, UsageError } from '../errors.js';
import { arenaPlan } from '../nn/arena.js';
import { initParams } from '../nn/init.js';
import { type NetworkLayout, networkLayout } from '../nn/layout.js';
import { type Model, modelFromParams } from '../nn/model.js';
import { permutation, Rng } from '../nn/rng.js';
import { resolveConfig, type TrainConfig } from './config.js';
import { EVAL_ROWS } from './control.js';
import { resolveKernels } from './kernels.js';
import { StepPool, type StepStats } from './pool.js';

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  samplesPerSec: number;
  seconds: number;
}

export type TrainEvent =
  | {
      type: 'start';
      config: TrainConfig;
      layers: readonly number[];
      params: number;
      trainCount: number;
      testCount: number;
      kernels: string;
      stepsPerEpoch: number;
    }
  | {
      type: 'step';
      epoch: number;
      step: number;
      stepsPerEpoch: number;
      loss: number;
      accuracy: number;
      samplesPerSec: number;
    }
  | ({ type: 'epoch' } & EpochMetrics);

export interface TrainOptions {
  onProgress?: (event: TrainEvent) => void;
  signal?: AbortSignal;
  /** an already loaded dataset (tests, the server); otherwise config.data is loaded */
  dataset?: Dataset;
  /** minimum ms between 'step' events */
  progressIntervalMs?: number;
}

export interface TrainResult {
  model: Model;
  metrics: EpochMetrics[];
  seconds: number;
  kernels: string;
}

/** Seeds of the two streams a run uses, both derived from --seed. */
const shuffleSeed = (seed: number) => (seed ^ 0x5bd1e995) >>> 0;

/**
 * Trains an MLP data-parallel over `config.threads` worker threads. Same config ⇒ the same
 * bytes in the returned parameters for any thread count.
 */
export async function train(input: Partial<TrainConfig>, options: TrainOptions = {}): Promise<TrainResult> {
  const config = resolveConfig(input);
  const dataset = options.dataset ?? (await loadDataset(config.data));
  if (config.batchSize > dataset.train.count) {
    throw new UsageError(
      `--batch-size ${config.batchSize} is larger than the ${dataset.train.count} training rows`,
    );
  }
  let net: NetworkLayout;
  try {
    net = networkLayout([dataset.features, ...config.hidden, dataset.classes], config.activation);
  } catch (e) {
    throw new UsageError(`--hidden ${config.hidden.join(',')}: ${(e as Error).message}`);
  }
  const plan = arenaPlan(net, config.batchSize, config.threads, EVAL_ROWS);
  const kernels = await resolveKernels(config.kernels);
  const pool = await StepPool.open({
    threads: config.threads,
    kernels: kernels.name,
    wasmModule: kernels.module,
    net,
    plan,
    dataset,
  });
  const started = performance.now();
  try {
    initParams(net, config.seed, pool.arena, plan.params);
    pool.setHyperparameters(config.lr, config.momentum, config.weightDecay);
    const rng = new Rng(shuffleSeed(config.seed));
    const N = dataset.train.count;
    const stepsPerEpoch = Math.ceil(N / config.batchSize);
    const emit = options.onProgress ?? (() => {});
    emit({
      type: 'start',
      config,
      layers: net.sizes,
      params: net.size,
      trainCount: N,
      testCount: dataset.test.count,
      kernels: kernels.label,
      stepsPerEpoch,
    });
    const interval = options.progressIntervalMs ?? 100;
    const metrics: EpochMetrics[] = [];
    const step: StepStats = { loss: 0, correct: 0 };
    for (let epoch = 1; epoch <= config.epochs; epoch++) {
      const epochStart = performance.now();
      permutation(rng, pool.order, N);
      let loss = 0;
      let correct = 0;
      let seen = 0;
      let lastYield = performance.now();
      for (let s = 0; s < stepsPerEpoch; s++) {
        const first = s * config.batchSize;
        const rows = Math.min(config.batchSize, N - first);
        pool.trainStep(first, rows, step);
        if (!Number.isFinite(step.loss)) {
          throw new TrainingError(
            `training diverged at epoch ${epoch}, step ${s + 1}: the loss is ${step.loss}; try a lower --lr (now ${config.lr})`,
          );
        }
        loss += step.loss;
        correct += step.correct;
        seen += rows;
        const now = performance.now();
        if (now - lastYield >= interval) {
          emit({
            type: 'step',
            epoch,
            step: s + 1,
            stepsPerEpoch,
            loss: loss / seen,
            accuracy: correct / seen,
            samplesPerSec: (seen * 1000) / (now - epochStart),
          });
          // Let timers, signals and I/O run; steps themselves block this thread.
          await new Promise((resolve) => setImmediate(resolve));
          lastYield = performance.now();
          if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
        }
      }
      const trainSeconds = (performance.now() - epochStart) / 1000;
      const test: StepStats = { loss: 0, correct: 0 };
      pool.evaluate('test', test);
      const m: EpochMetrics = {
        epoch,
        trainLoss: loss / N,
        trainAccuracy: correct / N,
        testLoss: test.loss / dataset.test.count,
        testAccuracy: test.correct / dataset.test.count,
        samplesPerSec: N / trainSeconds,
        seconds: (performance.now() - epochStart) / 1000,
      };
      metrics.push(m);
      emit({ type: 'epoch', ...m });
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
    }
    const model = modelFromParams(net, pool.params);
    return { model, metrics, seconds: (performance.now() - started) / 1000, kernels: kernels.label };
  } finally {
    await pool.close();
  }
}
