import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
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
// row, encoded with the model's own standardisation and categories. Files are compared by
// their real paths, so ./xy.csv, xy.csv and ../run/xy.csv are one file; the model records the
// path as training was given it, relative to the folder training ran in.

export async function datasetForModel(model: Model, spec: string): Promise<Dataset> {
  const p = model.preprocessing ?? IMAGE_PREPROCESSING;
  const source = parseDataSpec(spec);
  if (p.kind === 'image') {
    if (source.kind === 'csv') throw new UsageError(`the model reads images; ${spec} is a CSV file`, 'data');
    return loadDataset(spec);
  }
  if (source.kind !== 'csv')
    throw new UsageError(`the model reads CSV columns; ${spec} is not csv:FILE`, 'data');
  if (model.metadata?.recipe && isTrainingFile(model.metadata.data, source.path))
    return recipeDataset(model, p, spec);
  const test = await encodeCsv(source.path, p, true);
  return tableDataset(spec, p, test);
}

/**
 * Whether `path` is the file the model was trained on (metadata `data`, csv:PATH as given to
 * training). The recorded file not found from here is an error when `path` is spelt as recorded.
 */
function isTrainingFile(recorded: string | undefined, path: string): boolean {
  if (!recorded?.startsWith('csv:')) return false;
  const trainedOn = recorded.slice(4);
  if (!existsSync(trainedOn)) {
    if (trainedOn !== path) return false;
    const where = isAbsolute(trainedOn)
      ? `recorded as ${trainedOn}`
      : `recorded as ${trainedOn} relative to where training ran; from here that is ${resolve(trainedOn)}`;
    throw new UsageError(
      (n) =>
        `the model's training data csv:${trainedOn} is not found (${where}): run eval from that folder, or give ${n('data')} csv:PATH`,
      'data',
    );
  }
  try {
    return realpathSync(trainedOn) === realpathSync(path);
  } catch {
    return false; // `path` does not exist: encodeCsv says so
  }
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
