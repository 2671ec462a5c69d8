import type { Dataset } from '../data/dataset.js';
import { UsageError } from '../errors.js';
import type { Model } from '../nn/model.js';
import { type KernelChoice, resolveConfig } from './config.js';
import { resolveKernels } from './kernels.js';
import { confusionMatrix, type RegressionScores, regressionScores, targetScalings } from './metrics.js';
import { datasetForModel } from './model-data.js';
import { StepPool, type StepStats } from './pool.js';

export interface Evaluation {
  /** mean cross-entropy, or mean squared error of the standardised targets (summed over targets) */
  loss: number;
  count: number;
  /** classification: the share of rows whose largest output is the label */
  accuracy?: number;
  /** classification: confusion[label][predicted] */
  confusion?: number[][];
  /** regression, in the targets' units */
  rmse?: number;
  mae?: number;
  r2?: number;
}

export interface EvaluateOptions {
  threads?: number;
  kernels?: KernelChoice;
  dataset?: Dataset;
}

/** Loss and scores of a model on a dataset's test split, across the pool. */
export async function evaluate(
  model: Model,
  data: string | Dataset,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  // checked as train checks them: library callers get the CLI's messages, not piscina's
  const { threads, kernels: choice } = resolveConfig({ threads: options.threads, kernels: options.kernels });
  const dataset = typeof data === 'string' ? await datasetForModel(model, data) : data;
  const sizes = model.layout.sizes;
  if (sizes[0] !== dataset.features || sizes[sizes.length - 1] !== dataset.outputs) {
    // the usual cause: data other than the model's own, which its file's metadata names
    const trainedOn = model.metadata?.data;
    const note = trainedOn && trainedOn !== dataset.spec ? `; the model was trained on ${trainedOn}` : '';
    throw new UsageError(
      `the model expects ${sizes[0]} inputs and ${sizes[sizes.length - 1]} outputs; ${dataset.spec} has ${dataset.features} and ${dataset.outputs}${note}`,
    );
  }
  const kernels = await resolveKernels(choice);
  const pool = await StepPool.forNetwork({ net: model.layout, dataset, threads, kernels, batchRows: 0 });
  try {
    pool.params.set(model.params);
    const stats: StepStats = { loss: 0, correct: 0 };
    await pool.evaluate('test', stats);
    const n = dataset.test.count;
    return { loss: stats.loss / n, count: n, ...scores(dataset, pool.outputs, stats) };
  } finally {
    await pool.close();
  }
}

function scores(dataset: Dataset, outputs: Float32Array, stats: StepStats): Partial<Evaluation> {
  const { test } = dataset;
  if (dataset.task === 'regress')
    return regressionScores(outputs, test, targetScalings(dataset)) as RegressionScores;
  return {
    accuracy: stats.correct / test.count,
    confusion: confusionMatrix(outputs, test.targets, test.count, dataset.outputs),
  };
}
