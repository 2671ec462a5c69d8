import { type Dataset, loadDataset } from '../data/dataset.js';
import { UsageError } from '../errors.js';
import type { Model } from '../nn/model.js';
import { type KernelChoice, resolveConfig } from './config.js';
import { resolveKernels } from './kernels.js';
import { StepPool, type StepStats } from './pool.js';

export interface Evaluation {
  /** mean cross-entropy */
  loss: number;
  accuracy: number;
  count: number;
  /** confusion[label][predicted] */
  confusion: number[][];
}

export interface EvaluateOptions {
  threads?: number;
  kernels?: KernelChoice;
  dataset?: Dataset;
}

/** Loss, accuracy and confusion matrix of a model on a dataset's test split, across the pool. */
export async function evaluate(
  model: Model,
  data: string | Dataset,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  // checked as train checks them: library callers get the CLI's messages, not piscina's
  const { threads, kernels: choice } = resolveConfig({ threads: options.threads, kernels: options.kernels });
  const dataset = typeof data === 'string' ? await loadDataset(data) : data;
  const sizes = model.layout.sizes;
  if (sizes[0] !== dataset.features || sizes[sizes.length - 1] !== dataset.classes) {
    // the usual cause: data other than the model's own, which its file's metadata names
    const trainedOn = model.metadata?.data;
    const note = trainedOn && trainedOn !== dataset.spec ? `; the model was trained on ${trainedOn}` : '';
    throw new UsageError(
      `the model expects ${sizes[0]} inputs and ${sizes[sizes.length - 1]} classes; ${dataset.spec} has ${dataset.features} and ${dataset.classes}${note}`,
    );
  }
  const kernels = await resolveKernels(choice);
  const pool = await StepPool.forNetwork({ net: model.layout, dataset, threads, kernels, batchRows: 0 });
  try {
    pool.params.set(model.params);
    const stats: StepStats = { loss: 0, correct: 0 };
    await pool.evaluate('test', stats);
    const C = dataset.classes;
    const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
    const n = dataset.test.count;
    for (let i = 0; i < n; i++) confusion[dataset.test.labels[i]][pool.predictions[i]]++;
    return { loss: stats.loss / n, accuracy: stats.correct / n, count: n, confusion };
  } finally {
    await pool.close();
  }
}
