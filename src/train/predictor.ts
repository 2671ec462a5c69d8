import type { Dataset } from '../data/dataset.js';
import {
  categoryIndexes,
  classNames,
  encodeRow,
  featureCount,
  IMAGE_PREPROCESSING,
  type Preprocessing,
  taskOf,
  unscaled,
} from '../data/preprocessing.js';
import { sharedFloats } from '../data/split.js';
import { DataError } from '../errors.js';
import { argmax } from '../nn/mlp.js';
import type { Model } from '../nn/model.js';
import { type KernelChoice, resolveConfig } from './config.js';
import { resolveKernels } from './kernels.js';
import { StepPool, type StepStats } from './pool.js';

// Inference on a warm pool: the threads, the arena with the model's parameters and a shared
// input buffer of `capacity` rows are set up once; each call copies its rows in, runs the
// forward pass across the threads (the evaluation command, rows claimed in chunks) and reads
// the raw outputs back. predict(), `gradpool predict` and POST /jobs/:id/predict use it.
// Answers are keyed by class and column names, which may be any text (`__proto__`,
// `constructor`): they are objects without a prototype, and records are read by own keys only.

export interface PredictorOptions {
  threads?: number;
  kernels?: KernelChoice;
  /** rows per pass over the pool (a call with more runs in several passes) */
  capacity?: number;
}

/**
 * One row's answer: its class (and with probabilities, each class's), or its regression values.
 * The probabilities and values are objects without a prototype, so no name is lost to one.
 */
export type Answer =
  | { readonly class: string; readonly probabilities?: Readonly<Record<string, number>> }
  | { readonly values: Readonly<Record<string, number>> };

const DEFAULT_CAPACITY = 4096;

export class Predictor {
  private readonly inputs: Uint8Array | Float32Array;
  private readonly stats: StepStats = { loss: 0, correct: 0 };
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly model: Model,
    readonly preprocessing: Preprocessing,
    private readonly pool: StepPool,
    private readonly dataset: Dataset,
  ) {
    this.inputs = dataset.test.inputs;
  }

  static async open(model: Model, options: PredictorOptions = {}): Promise<Predictor> {
    const { threads, kernels: choice } = resolveConfig({
      threads: options.threads,
      kernels: options.kernels,
    });
    const preprocessing = model.preprocessing ?? IMAGE_PREPROCESSING;
    const capacity = Math.max(1, options.capacity ?? DEFAULT_CAPACITY);
    const features = model.layout.sizes[0];
    const images = preprocessing.kind === 'image';
    const inputs = images
      ? new Uint8Array(new SharedArrayBuffer(capacity * features))
      : sharedFloats(capacity * features);
    const width = taskOf(preprocessing) === 'classify' ? 1 : model.layout.sizes.at(-1)!;
    const empty = { inputs: sharedFloats(0), targets: sharedFloats(0), count: 0 };
    const dataset: Dataset = {
      spec: 'predict',
      task: taskOf(preprocessing),
      features,
      outputs: model.layout.sizes.at(-1)!,
      preprocessing,
      train: empty,
      test: { inputs, targets: sharedFloats(capacity * width), count: capacity },
    };
    const kernels = await resolveKernels(choice);
    const pool = await StepPool.forNetwork({ net: model.layout, dataset, threads, kernels, batchRows: 0 });
    pool.params.set(model.params);
    return new Predictor(model, preprocessing, pool, dataset);
  }

  get features(): number {
    return this.model.layout.sizes[0];
  }

  get outputs(): number {
    return this.model.layout.sizes.at(-1)!;
  }

  /**
   * Raw outputs (logits, or standardised regression values), count × outputs, of `count` rows
   * of prepared inputs (uint8 pixels for an image model, encoded features for a table's).
   * Calls are served one at a time, in order.
   */
  run(inputs: Uint8Array | Float32Array, count: number): Promise<Float32Array> {
    const next = this.queue.then(() => this.runNow(inputs, count));
    this.queue = next.catch(() => {});
    return next;
  }

  private async runNow(inputs: Uint8Array | Float32Array, count: number): Promise<Float32Array> {
    const F = this.features;
    const C = this.outputs;
    if (inputs.length < count * F) throw new RangeError(`expected ${count * F} inputs, got ${inputs.length}`);
    if (inputs instanceof Uint8Array !== this.inputs instanceof Uint8Array)
      throw new TypeError(
        this.inputs instanceof Uint8Array
          ? 'an image model takes uint8 pixels'
          : 'a table model takes float32 features',
      );
    const out = new Float32Array(count * C);
    const capacity = this.dataset.test.count;
    for (let first = 0; first < count; first += capacity) {
      const n = Math.min(capacity, count - first);
      this.inputs.set(inputs.subarray(first * F, (first + n) * F));
      await this.pool.evaluate('test', this.stats, n);
      out.set(this.pool.outputs.subarray(0, n * C), first * C);
    }
    return out;
  }

  /**
   * Table rows given as objects (column → value, own keys only, extra columns ignored),
   * encoded as `gradpool predict` encodes a CSV file's rows, and predicted.
   */
  async predictRecords(
    records: readonly Readonly<Record<string, unknown>>[],
    proba = false,
  ): Promise<Answer[]> {
    const p = this.preprocessing;
    if (p.kind !== 'table') throw new DataError('this model reads images: give rows of pixels');
    const features = featureCount(p.inputs);
    const x = new Float32Array(records.length * features);
    const index = categoryIndexes(p.inputs);
    const cells = new Float64Array(p.inputs.length);
    // the record being encoded, read by one field function (no closure per record)
    let record: Readonly<Record<string, unknown>> = {};
    let r = 0;
    const field = (i: number) => {
      const name = p.inputs[i].name;
      const v = Object.hasOwn(record, name) ? record[name] : undefined;
      if (v === undefined || v === null) throw new DataError(`row ${r + 1}: column '${name}' is missing`);
      if (typeof v !== 'string' && typeof v !== 'number')
        throw new DataError(`row ${r + 1}, column '${name}': expected a number or text`);
      return String(v);
    };
    const where = () => `row ${r + 1}`;
    for (r = 0; r < records.length; r++) {
      record = records[r];
      if (typeof record !== 'object' || record === null || Array.isArray(record))
        throw new DataError(`row ${r + 1}: expected an object of column values`);
      encodeRow(p.inputs, field, x, r * features, where, index, cells);
    }
    return answers(p, await this.run(x, records.length), records.length, proba);
  }

  async close(): Promise<void> {
    await this.queue;
    await this.pool.close();
  }
}

/** Answers from raw outputs: class names (softmax probabilities in float64), or values in the targets' units. */
export function answers(p: Preprocessing, outputs: Float32Array, count: number, proba: boolean): Answer[] {
  const C = outputs.length / Math.max(1, count);
  const names = classNames(p);
  const out: Answer[] = [];
  if (names) {
    for (let r = 0; r < count; r++) {
      const at = r * C;
      const best = names[argmax(outputs, at, C)];
      out.push(proba ? { class: best, probabilities: softmax(outputs, at, C, names) } : { class: best });
    }
    return out;
  }
  const columns = p.kind === 'table' && p.target.task === 'regress' ? p.target.columns : [];
  for (let r = 0; r < count; r++) {
    const values: Record<string, number> = Object.create(null);
    columns.forEach((c, k) => {
      values[c.name] = unscaled(outputs[r * C + k], c);
    });
    out.push({ values });
  }
  return out;
}

function softmax(z: Float32Array, at: number, C: number, names: readonly string[]): Record<string, number> {
  let max = -Infinity;
  for (let c = 0; c < C; c++) max = Math.max(max, z[at + c]);
  let sum = 0;
  for (let c = 0; c < C; c++) sum += Math.exp(z[at + c] - max);
  const p: Record<string, number> = Object.create(null);
  for (let c = 0; c < C; c++) p[names[c]] = Math.exp(z[at + c] - max) / sum;
  return p;
}

/**
 * Predicts rows with a pool opened for the call: an image model's uint8 pixels (n × its
 * inputs), or a table model's records (objects of column values, as predictRecords takes;
 * the model's standardisation and categories applied). Keep a Predictor for repeated calls:
 * opening one starts threads. Features already encoded go to Predictor.run.
 */
export async function predict(
  model: Model,
  inputs: Uint8Array | readonly Readonly<Record<string, unknown>>[],
  options: PredictorOptions & { proba?: boolean } = {},
): Promise<Answer[]> {
  const p = model.preprocessing ?? IMAGE_PREPROCESSING;
  const proba = options.proba ?? false;
  if (p.kind === 'table') {
    if (!Array.isArray(inputs))
      throw new DataError(
        'a table model predicts records (objects of column values), not arrays of numbers: give [{ column: value, … }]; for features already standardised and one-hot encoded, use Predictor.run',
      );
    const records = inputs as readonly Readonly<Record<string, unknown>>[];
    const predictor = await Predictor.open(model, {
      ...options,
      capacity: capacityFor(records.length, options),
    });
    try {
      return await predictor.predictRecords(records, proba);
    } finally {
      await predictor.close();
    }
  }
  if (!(inputs instanceof Uint8Array))
    throw new DataError('an image model predicts uint8 pixels: give a Uint8Array of n × its inputs');
  const count = inputs.length / model.layout.sizes[0];
  if (!Number.isInteger(count)) throw new RangeError(`inputs are not whole rows of ${model.layout.sizes[0]}`);
  const predictor = await Predictor.open(model, { ...options, capacity: capacityFor(count, options) });
  try {
    return answers(p, await predictor.run(inputs, count), count, proba);
  } finally {
    await predictor.close();
  }
}

const capacityFor = (count: number, options: PredictorOptions) =>
  Math.min(count, options.capacity ?? DEFAULT_CAPACITY);
