import { createHash, type Hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  featureCount,
  outputCount,
  type Preprocessing,
  parsePreprocessing,
  taskOf,
} from '../data/preprocessing.js';
import { LOSS_OF } from '../data/task.js';
import { ModelFileError } from '../errors.js';
import {
  ACTIVATIONS,
  type Activation,
  LOSSES,
  type Loss,
  type NetworkLayout,
  networkLayout,
} from '../nn/layout.js';
import type { Model } from '../nn/model.js';
import { OPTIMIZERS } from '../nn/optim/index.js';
import { writeFileAtomic } from './atomic-write.js';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type Tensor } from './safetensors.js';

// The model file: safetensors with layers.{i}.weight (O×I) and layers.{i}.bias, and the
// architecture in __metadata__, so numpy and PyTorch users can load it without us. Since
// version 2 the metadata also holds a SHA-256 over the tensors and the rest of the metadata,
// checked on load: a flipped byte is an error naming the file, not a silently wrong model.
// Other safetensors readers ignore it.

export const MODEL_FORMAT = 'gradpool-mlp';
/** 1: no digest (read as is); 2: `sha256` in __metadata__ */
export const MODEL_VERSION = '2';
const VERSIONS = ['1', '2'];
const DAMAGED = 'checksum mismatch: the file was changed or damaged after it was written';

export function modelTensors(model: Model, prefix = 'layers'): Map<string, Tensor> {
  const tensors = new Map<string, Tensor>();
  model.layout.layers.forEach((L, i) => {
    tensors.set(`${prefix}.${i}.weight`, {
      shape: [L.outputs, L.inputs],
      data: model.params.subarray(L.weight, L.weight + L.outputs * L.inputs),
    });
    tensors.set(`${prefix}.${i}.bias`, {
      shape: [L.outputs],
      data: model.params.subarray(L.bias, L.bias + L.outputs),
    });
  });
  return tensors;
}

export function modelMetadata(model: Model, extra: Record<string, string> = {}): Record<string, string> {
  return {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    layers: model.layout.sizes.join(','),
    activation: model.layout.activation,
    // written where they differ from what files without them meant: cross-entropy over images
    ...(model.layout.loss === 'cross-entropy' ? {} : { loss: model.layout.loss }),
    ...(model.preprocessing && model.preprocessing.kind !== 'image'
      ? { preprocessing: JSON.stringify(model.preprocessing) }
      : {}),
    ...extra,
  };
}

export function saveModel(path: string, model: Model, extra: Record<string, string> = {}): void {
  const tensors = modelTensors(model);
  const metadata = modelMetadata(model, extra);
  writeFileAtomic(path, encodeSafetensors(tensors, { ...metadata, sha256: modelDigest(tensors, metadata) }));
}

/**
 * SHA-256 over the tensors (by name, in name order) and the metadata other than the digest
 * itself (by key, in key order): what a model file holds, whatever order its header lists it in.
 */
export function modelDigest(tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string>): string {
  const h = createHash('sha256');
  hashTensors(h, tensors, (name, t) => `${name}\0${t.shape.join(',')}\0`);
  const keys = Object.keys(metadata)
    .filter((k) => k !== 'sha256')
    .sort();
  h.update(JSON.stringify(keys.map((k) => [k, metadata[k]])));
  return h.digest('hex');
}

/** A checkpoint's SHA-256: its tensors (by name, in name order), its config and its state. */
export function checkpointDigest(
  tensors: ReadonlyMap<string, Tensor>,
  config: string,
  state: string,
): string {
  const h = createHash('sha256');
  // the name alone before each tensor's bytes: the format checkpoints have had from the start
  hashTensors(h, tensors, (name) => name);
  h.update(config);
  h.update(state);
  return h.digest('hex');
}

/** Each tensor in name order: `label(name, tensor)`, then its bytes. */
function hashTensors(
  h: Hash,
  tensors: ReadonlyMap<string, Tensor>,
  label: (name: string, t: Tensor) => string,
): void {
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name) as Tensor;
    h.update(label(name, t));
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
}

/** A file's digest must match what it holds: a checkpoint's always, a model's since version 2. */
function checkDigest(tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string>): void {
  if (metadata.format === CHECKPOINT_FORMAT) {
    if (checkpointDigest(tensors, metadata.config ?? '', metadata.state ?? '') !== metadata.sha256)
      throw new ModelFileError(DAMAGED);
    return;
  }
  if (!VERSIONS.includes(metadata.version))
    throw new ModelFileError(
      `__metadata__.version ${JSON.stringify(metadata.version)} is not one this gradpool reads (${VERSIONS.join(', ')})`,
    );
  if (metadata.sha256 === undefined) {
    if (metadata.version === '1') return; // written before models carried a digest
    throw new ModelFileError('__metadata__.sha256 is missing');
  }
  if (modelDigest(tensors, metadata) !== metadata.sha256) throw new ModelFileError(DAMAGED);
}

/** A model or checkpoint file's bytes; an unreadable file is a ModelFileError naming it. */
export function readModelBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ModelFileError(
      `${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/** Reads and checks a gradpool model file; any problem is a ModelFileError naming the file. */
export function loadModel(path: string): Model {
  const bytes = readModelBytes(path);
  try {
    return modelFromSafetensors(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError || e instanceof ModelFileError) {
      throw new ModelFileError(`${path}: not a valid gradpool model: ${e.message}`);
    }
    throw e;
  }
}

export interface ReadOptions {
  /** expected __metadata__.format; by default a model, or a checkpoint read as a model */
  format?: string;
  /** tensor name prefix to read (layers, or an optimizer's state in checkpoints) */
  prefix?: string;
  /** other prefixes that may be present */
  extraPrefixes?: readonly string[];
  /** the digest was checked already (a second view of the same decoded file) */
  verified?: boolean;
}

export const CHECKPOINT_FORMAT = 'gradpool-checkpoint';

/** A checkpoint's tensors besides layers.*: every optimizer's state, and the best epoch's weights. */
export const BEST_PREFIX = 'best';
export const CHECKPOINT_PREFIXES: readonly string[] = [
  ...new Set(Object.values(OPTIMIZERS).flatMap((o) => o.state)),
  BEST_PREFIX,
];

/** Builds a model from safetensors bytes, checking digest, architecture, shapes and that values are finite. */
export function modelFromSafetensors(bytes: Uint8Array, options: ReadOptions = {}): Model {
  return modelFromDecoded(decodeSafetensors(bytes), options);
}

/** modelFromSafetensors on a file already decoded (a checkpoint reads two models from one). */
export function modelFromDecoded(
  decoded: ReturnType<typeof decodeSafetensors>,
  options: ReadOptions = {},
): Model {
  const prefix = options.prefix ?? 'layers';
  const { tensors, metadata } = decoded;
  const accepted = options.format ? [options.format] : [MODEL_FORMAT, CHECKPOINT_FORMAT];
  if (!accepted.includes(metadata.format)) {
    throw new ModelFileError(
      `__metadata__.format is ${JSON.stringify(metadata.format)}, expected "${options.format ?? MODEL_FORMAT}"`,
    );
  }
  if (!options.verified) checkDigest(tensors, metadata);
  const sizes = (metadata.layers ?? '').split(',').map(Number);
  if (sizes.length < 2 || !sizes.every((n) => Number.isInteger(n) && n > 0)) {
    throw new ModelFileError(`__metadata__.layers ${JSON.stringify(metadata.layers)} is not a list of sizes`);
  }
  const activation = metadata.activation as Activation;
  if (!ACTIVATIONS.includes(activation)) {
    throw new ModelFileError(
      `__metadata__.activation ${JSON.stringify(metadata.activation)} is not one of ${ACTIVATIONS.join(', ')}`,
    );
  }
  const loss = (metadata.loss ?? 'cross-entropy') as Loss;
  if (!LOSSES.includes(loss))
    throw new ModelFileError(
      `__metadata__.loss ${JSON.stringify(metadata.loss)} is not one of ${LOSSES.join(', ')}`,
    );
  let layout: ReturnType<typeof networkLayout>;
  try {
    layout = networkLayout(sizes, activation, loss);
  } catch (e) {
    throw new ModelFileError((e as Error).message);
  }
  const preprocessing = preprocessingOf(metadata, layout);
  const params = new Float32Array(layout.size);
  const expected = new Set<string>();
  layout.layers.forEach((L, i) => {
    for (const [name, shape, at] of [
      [`${prefix}.${i}.weight`, [L.outputs, L.inputs], L.weight],
      [`${prefix}.${i}.bias`, [L.outputs], L.bias],
    ] as const) {
      expected.add(name);
      const t = tensors.get(name);
      if (!t) throw new ModelFileError(`tensor ${name} is missing`);
      if (t.shape.length !== shape.length || t.shape.some((d, j) => d !== shape[j])) {
        throw new ModelFileError(
          `tensor ${name} has shape [${t.shape.join(',')}], expected [${shape.join(',')}]`,
        );
      }
      for (let j = 0; j < t.data.length; j++) {
        if (!Number.isFinite(t.data[j]))
          throw new ModelFileError(`tensor ${name} holds a non-finite value at ${j}`);
      }
      params.set(t.data, at);
    }
  });
  const others = options.extraPrefixes ?? (metadata.format === CHECKPOINT_FORMAT ? CHECKPOINT_PREFIXES : []);
  for (const name of tensors.keys()) {
    if (expected.has(name) || others.some((p) => name.startsWith(`${p}.`))) continue;
    throw new ModelFileError(`unexpected tensor ${name} for layers ${sizes.join(',')}`);
  }
  return { layout, params, metadata, ...(preprocessing ? { preprocessing } : {}) };
}

/** The file's preprocessing, checked against the layout's inputs, outputs and loss. */
function preprocessingOf(metadata: Record<string, string>, layout: NetworkLayout): Preprocessing | undefined {
  if (metadata.preprocessing === undefined) {
    if (layout.loss !== 'cross-entropy')
      throw new ModelFileError('a regression model needs __metadata__.preprocessing');
    return undefined;
  }
  const p = parsePreprocessing(metadata.preprocessing, (why) => new ModelFileError(`__metadata__: ${why}`));
  const sizes = layout.sizes;
  const inputs = p.kind === 'table' ? featureCount(p.inputs) : sizes[0];
  if (inputs !== sizes[0] || outputCount(p) !== sizes.at(-1))
    throw new ModelFileError(
      `__metadata__.preprocessing gives ${inputs} inputs and ${outputCount(p)} outputs; the layers have ${sizes[0]} and ${sizes.at(-1)}`,
    );
  if (LOSS_OF[taskOf(p)] !== layout.loss)
    throw new ModelFileError(
      `__metadata__.preprocessing is for ${taskOf(p)}, but the loss is ${layout.loss}`,
    );
  return p;
}
