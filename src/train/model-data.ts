import { encodeCsv } from '../data/csv-dataset.js';
import { type Dataset, loadDataset } from '../data/dataset.js';
import {
  featureCount,
  IMAGE_PREPROCESSING,
  outputCount,
  type TablePreprocessing,
} from '../data/preprocessing.js';
import { parseDataSpec } from '../data/spec.js';
import { sharedFloats } from '../data/split.js';
import { UsageError } from '../errors.js';
import type { Model } from '../nn/model.js';
import { resolveConfig } from './config.js';
import { csvOptions } from './prepare.js';

// The rows a model is evaluated on, prepared the model's way. Images load as they are. A
// table model on the file it was trained on gets that run's test rows (its recipe, from the
// model file, splits the file again the same way); on another CSV file every row is a test
// row, encoded with the model's own standardisation and categories.

export async function datasetForModel(model: Model, spec: string): Promise<Dataset> {
  const p = model.preprocessing ?? IMAGE_PREPROCESSING;
  const source = parseDataSpec(spec);
  if (p.kind === 'image') {
    if (source.kind === 'csv') throw new UsageError(`the model reads images; ${spec} is a CSV file`, 'data');
    return loadDataset(spec);
  }
  if (source.kind !== 'csv')
    throw new UsageError(`the model reads CSV columns; ${spec} is not csv:FILE`, 'data');
  if (spec === model.metadata?.data && model.metadata.recipe) return recipeDataset(model, p, spec);
  const test = await encodeCsv(source.path, p, true);
  return tableDataset(spec, p, test);
}

/** The training run's own split of its file, checked to fit the model as the run did. */
async function recipeDataset(model: Model, p: TablePreprocessing, spec: string): Promise<Dataset> {
  const config = resolveConfig({ ...JSON.parse(model.metadata!.recipe), data: spec });
  const dataset = await loadDataset(spec, csvOptions(config));
  if (JSON.stringify(dataset.preprocessing) !== JSON.stringify(p))
    throw new UsageError(
      `${spec} has changed since the model was trained (its statistics or categories differ); evaluate on a file with csv:FILE of test rows`,
      'data',
    );
  return dataset;
}

function tableDataset(spec: string, p: TablePreprocessing, test: Dataset['test']): Dataset {
  const outputs = outputCount(p);
  return {
    spec,
    task: p.target.task,
    features: featureCount(p.inputs),
    outputs,
    preprocessing: p,
    train: { inputs: sharedFloats(0), targets: sharedFloats(0), count: 0 },
    test,
  };
}
