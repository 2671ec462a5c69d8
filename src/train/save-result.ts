import { saveModel } from '../io/model-file.js';
import { CONFIG_FIELDS, type TrainConfig } from './config.js';
import type { TrainResult } from './trainer.js';

// Settings that describe how a model was trained; the machine's (threads, kernels choice,
// retries, timeouts) do not change the bytes and are left out.
const RECIPE: readonly (keyof TrainConfig)[] = (Object.keys(CONFIG_FIELDS) as (keyof TrainConfig)[]).filter(
  (k) => !['threads', 'kernels', 'maxRetries', 'stepTimeout', 'hidden', 'activation'].includes(k),
);

/** Writes a run's model with the settings that made it in __metadata__ (CLI and server alike). */
export function saveTrainedModel(path: string, result: TrainResult): void {
  const { config, outcome } = result;
  const recipe = Object.fromEntries(RECIPE.map((k) => [k, config[k]]));
  saveModel(path, result.model, {
    seed: String(config.seed),
    data: config.data,
    epochs: String(config.epochs),
    optimizer: config.optimizer,
    keptEpoch: String(outcome.keptEpoch),
    stopped: outcome.stopped,
    kernels: result.kernels,
    // every setting of the recipe, as JSON (hidden and activation are the layers' own keys)
    recipe: JSON.stringify(recipe),
  });
}
