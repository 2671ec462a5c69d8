import { ModelFileError } from '../errors.js';
import { networkLayout } from '../nn/layout.js';
import type { Model } from '../nn/model.js';
import { writeFileAtomic } from './atomic-write.js';
import {
  CHECKPOINT_FORMAT,
  checkpointDigest,
  modelFromDecoded,
  modelMetadata,
  modelTensors,
  readModelBytes,
} from './model-file.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type Tensor } from './safetensors.js';

// A checkpoint is a model file (same tensors, so it loads as a model too) plus momentum.*
// tensors and, in __metadata__, the config, the training state and a SHA-256 over all of it.
// With these, a resumed run repeats the uninterrupted one exactly, mid-epoch included.

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
}

export interface Checkpoint {
  readonly config: Record<string, unknown>;
  readonly model: Model;
  readonly velocity: Float32Array;
  readonly state: TrainState;
}

export function saveCheckpoint(path: string, c: Checkpoint): void {
  const tensors = new Map<string, Tensor>([
    ...modelTensors(c.model),
    ...modelTensors({ layout: c.model.layout, params: c.velocity }, 'momentum'),
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
    const model = modelFromDecoded(decoded, { format: CHECKPOINT_FORMAT, extraPrefixes: ['momentum'] });
    const momentum = modelFromDecoded(decoded, {
      format: CHECKPOINT_FORMAT,
      prefix: 'momentum',
      extraPrefixes: ['layers'],
      verified: true,
    });
    const config = parseObject(metadata.config, 'config');
    const state = parseObject(metadata.state, 'state') as unknown as TrainState;
    if (
      !Number.isInteger(state.epoch) ||
      !Number.isInteger(state.step) ||
      !Array.isArray(state.epochRng) ||
      state.epochRng.length !== 4
    ) {
      throw new ModelFileError('__metadata__.state is incomplete');
    }
    networkLayout(model.layout.sizes, model.layout.activation);
    return { config, model, velocity: momentum.params, state };
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
