import { ModelFileError } from '../errors.js';
import { networkLayout } from '../nn/layout.js';
import type { Model } from '../nn/model.js';
import { optimizerNamed } from '../nn/optim/index.js';
import { writeFileAtomic } from './atomic-write.js';
import {
  BEST_PREFIX,
  CHECKPOINT_FORMAT,
  checkpointDigest,
  modelFromDecoded,
  modelMetadata,
  modelTensors,
  readModelBytes,
} from './model-file.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type Tensor } from './safetensors.js';

// A checkpoint is a model file (same tensors, so it loads as a model too) plus the optimizer's
// state (momentum.* for SGD, exp_avg.* and exp_avg_sq.* for Adam), the best epoch's weights
// (best.*) when one is kept, and, in __metadata__, the config, the training state and a
// SHA-256 over all of it. With these, a resumed run repeats the uninterrupted one exactly,
// mid-epoch included.

export { CHECKPOINT_FORMAT };

/** Where training stands: enough to regenerate the epoch's permutation and continue. */
export interface TrainState {
  /** the epoch in progress (1-based) */
  epoch: number;
  /** steps of that epoch already applied */
  step: number;
  /** the shuffle generator's state before it drew this epoch's permutation */
  epochRng: number[];
  /** running sums of the epoch so far, so its reported metrics match an uninterrupted run */
  epochLoss: number;
  epochCorrect: number;
  epochSeen: number;
  /** metrics of completed epochs */
  metrics: unknown[];
  /** kernel variant that produced these bytes (js, wasm-simd, wasm-relaxed-simd) */
  kernels: string;
  /** the epoch with the best validation loss so far; its weights are the best.* tensors when the run keeps the best */
  bestEpoch?: number | null;
}

export interface Checkpoint {
  readonly config: Record<string, unknown>;
  readonly model: Model;
  /** the optimizer's state buffers, in its declaration's order (config.optimizer; sgd if absent) */
  readonly optimizerState: readonly Float32Array[];
  /** the weights of state.bestEpoch */
  readonly best?: Float32Array | null;
  readonly state: TrainState;
}

/** The checkpoint's optimizer: its config's, or SGD for checkpoints from before there was a choice. */
function optimizerOf(config: Record<string, unknown>) {
  return optimizerNamed(config.optimizer === undefined ? 'sgd' : String(config.optimizer));
}

export function saveCheckpoint(path: string, c: Checkpoint): void {
  const { layout } = c.model;
  const names = optimizerOf(c.config).state;
  if (names.length !== c.optimizerState.length)
    throw new RangeError('optimizer state does not match its optimizer');
  const tensors = new Map<string, Tensor>([
    ...modelTensors(c.model),
    ...names.flatMap((name, i) => [...modelTensors({ layout, params: c.optimizerState[i] }, name)]),
    ...(c.best ? modelTensors({ layout, params: c.best }, BEST_PREFIX) : []),
  ]);
  const config = JSON.stringify(c.config);
  const state = JSON.stringify(c.state);
  const metadata = modelMetadata(c.model, {
    format: CHECKPOINT_FORMAT,
    config,
    state,
    sha256: checkpointDigest(tensors, config, state),
  });
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Reads and verifies a checkpoint; any problem is a ModelFileError naming the file and the check. */
export function loadCheckpoint(path: string): Checkpoint {
  const bytes = readModelBytes(path);
  try {
    const decoded = decodeSafetensors(bytes);
    const { metadata } = decoded;
    if (metadata.format !== CHECKPOINT_FORMAT) {
      throw new ModelFileError(
        `__metadata__.format is ${JSON.stringify(metadata.format)}, expected "${CHECKPOINT_FORMAT}"`,
      );
    }
    // The parameters are checked as a model (digest, architecture, shapes, finite values).
    const config = parseObject(metadata.config, 'config');
    let optimizer: ReturnType<typeof optimizerOf>;
    try {
      optimizer = optimizerOf(config);
    } catch (e) {
      throw new ModelFileError(`__metadata__.config: ${(e as Error).message}`);
    }
    // its own optimizer's state and the best weights, nothing else: stray tensors are damage
    const prefixes = [...optimizer.state, BEST_PREFIX];
    const model = modelFromDecoded(decoded, { format: CHECKPOINT_FORMAT, extraPrefixes: prefixes });
    // each other prefix read as a model of the same layout: shapes and finite values checked
    const tensorsOf = (prefix: string) =>
      modelFromDecoded(decoded, {
        format: CHECKPOINT_FORMAT,
        prefix,
        extraPrefixes: ['layers', ...prefixes.filter((p) => p !== prefix)],
        verified: true,
      }).params;
    const optimizerState = optimizer.state.map(tensorsOf);
    const state = parseObject(metadata.state, 'state') as unknown as TrainState;
    const hasBest = decoded.tensors.has(`${BEST_PREFIX}.0.weight`);
    // a run that keeps the last epoch tracks the best one for early stopping without its weights
    const keepsBest = config.keep === 'best' && Number.isInteger(state.bestEpoch);
    if (hasBest !== keepsBest)
      throw new ModelFileError('__metadata__.state.bestEpoch and the best.* tensors disagree');
    if (
      !Number.isInteger(state.epoch) ||
      !Number.isInteger(state.step) ||
      !Array.isArray(state.epochRng) ||
      state.epochRng.length !== 4
    ) {
      throw new ModelFileError('__metadata__.state is incomplete');
    }
    networkLayout(model.layout.sizes, model.layout.activation);
    return { config, model, optimizerState, best: hasBest ? tensorsOf(BEST_PREFIX) : null, state };
  } catch (e) {
    if (e instanceof SafetensorsError || e instanceof ModelFileError) {
      throw new ModelFileError(`${path}: not a valid gradpool checkpoint: ${e.message}`);
    }
    throw e;
  }
}

function parseObject(text: string | undefined, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text ?? '');
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v;
  } catch {}
  throw new ModelFileError(`__metadata__.${what} is not a JSON object`);
}
