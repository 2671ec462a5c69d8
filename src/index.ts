// The library entry: training, evaluation, data and model files.
export { type Dataset, loadDataset } from './data/dataset.js';
export { parseIdx, readIdxFile } from './data/idx.js';
export { DataError, GradpoolError, ModelFileError, TrainingError, UsageError } from './errors.js';
export { loadModel, modelFromSafetensors, saveModel } from './io/model-file.js';
export { type Activation, type NetworkLayout, networkLayout } from './nn/layout.js';
export type { Model } from './nn/model.js';
export { CONFIG_FIELDS, defaultConfig, resolveConfig, type TrainConfig } from './train/config.js';
export { type Evaluation, evaluate } from './train/evaluate.js';
export { type EpochMetrics, type TrainEvent, type TrainResult, train } from './train/trainer.js';
