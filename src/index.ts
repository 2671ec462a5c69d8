// The library entry: training, evaluation, data, model and checkpoint files.
export { type CsvOptions, type Dataset, loadDataset } from './data/dataset.js';
export { parseIdx, readIdxFile } from './data/idx.js';
export type { Preprocessing } from './data/preprocessing.js';
export {
  DataError,
  fieldNaming,
  flagNaming,
  GradpoolError,
  ModelFileError,
  type Naming,
  TrainingError,
  UsageError,
} from './errors.js';
export { type Checkpoint, loadCheckpoint, saveCheckpoint, type TrainState } from './io/checkpoint.js';
export { loadModel, modelFromSafetensors, saveModel } from './io/model-file.js';
export { type Activation, type NetworkLayout, networkLayout } from './nn/layout.js';
export type { Model } from './nn/model.js';
export { CONFIG_FIELDS, defaultConfig, resolveConfig, type TrainConfig } from './train/config.js';
export { type EvaluateOptions, type Evaluation, evaluate } from './train/evaluate.js';
export { type Answer, Predictor, type PredictorOptions, predict } from './train/predictor.js';
export type { CheckpointOptions } from './train/run-checkpoints.js';
export {
  type EpochMetrics,
  type TrainEvent,
  TrainingInterrupted,
  type TrainOptions,
  type TrainResult,
  train,
} from './train/trainer.js';
