import { saveModel } from '../io/model-file.js';
import type { TrainResult } from './trainer.js';

/** Writes a run's model with the settings that made it in __metadata__ (CLI and server alike). */
export function saveTrainedModel(path: string, result: TrainResult): void {
  saveModel(path, result.model, {
    seed: String(result.config.seed),
    data: result.config.data,
    epochs: String(result.config.epochs),
  });
}
