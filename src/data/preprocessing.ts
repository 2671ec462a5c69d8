import { DataError } from '../errors.js';
import { PIXEL_SCALE } from '../nn/kernels/gather.js';
import { CLASSES } from './split.js';
import type { Task } from './task.js';

// How raw inputs become the network's features and its outputs become answers, fitted on the
// training rows and stored in the model file's metadata: eval, predict and the ONNX export
// apply it, so a user never normalises by hand.
//   images: pixel × 1/255; classes '0'…'9'
//   tables: each number column standardised, (x − mean) / std, each category column one-hot
//           in the order of its category list; a class index or standardised targets

/** A standardised number: mean and population standard deviation of the training rows. */
export interface Scaling {
  readonly mean: number;
  /** 1 for a constant column (as scikit-learn's StandardScaler), or without standardisation */
  readonly std: number;
}

export interface NumberColumn extends Scaling {
  readonly name: string;
  readonly kind: 'number';
}

export interface CategoryColumn {
  readonly name: string;
  readonly kind: 'category';
  /** the training rows' values, sorted; one feature each */
  readonly categories: readonly string[];
}

export type InputColumn = NumberColumn | CategoryColumn;

export type TargetEncoding =
  | { readonly task: 'classify'; readonly column: string; readonly classes: readonly string[] }
  | { readonly task: 'regress'; readonly columns: readonly (Scaling & { readonly name: string })[] };

export interface ImagePreprocessing {
  readonly kind: 'image';
  readonly scale: number;
  readonly classes: readonly string[];
}

export interface TablePreprocessing {
  readonly kind: 'table';
  readonly inputs: readonly InputColumn[];
  readonly target: TargetEncoding;
}

export type Preprocessing = ImagePreprocessing | TablePreprocessing;

export const IMAGE_PREPROCESSING: ImagePreprocessing = {
  kind: 'image',
  scale: PIXEL_SCALE,
  classes: Array.from({ length: CLASSES }, (_, i) => String(i)),
};

export const taskOf = (p: Preprocessing): Task => (p.kind === 'image' ? 'classify' : p.target.task);

/** Features a table's columns expand to: one per number, one per category. */
export function featureCount(inputs: readonly InputColumn[]): number {
  let n = 0;
  for (const c of inputs) n += c.kind === 'number' ? 1 : c.categories.length;
  return n;
}

/** The model's outputs: classes, or regression targets. */
export function outputCount(p: Preprocessing): number {
  if (p.kind === 'image') return p.classes.length;
  return p.target.task === 'classify' ? p.target.classes.length : p.target.columns.length;
}

/** The class names of a classifier (images: '0'…'9'). */
export function classNames(p: Preprocessing): readonly string[] | null {
  if (p.kind === 'image') return p.classes;
  return p.target.task === 'classify' ? p.target.classes : null;
}

/**
 * A parsed value standardised in float64: the one formula the loader, eval and predict share.
 * Stored in a Float32Array, it is rounded once, at the end (a timestamp near 1.7e9 keeps its
 * seconds: rounded to float32 first, it would move by up to 64).
 */
export const scaled = (x: number, s: Scaling): number => (x - s.mean) / s.std;

/** A regression output back in its column's units. */
export const unscaled = (y: number, s: Scaling): number => y * s.std + s.mean;

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * `[-]digits[.digits]` with at most 15 digits, read as mantissa / 10^k: both exact doubles,
 * so the one division is correctly rounded, the double Number() gives (Clinger's fast path),
 * at a fifth of its cost. NaN for anything else.
 */
function plainDecimal(s: string): number {
  const n = s.length;
  let i = s.charCodeAt(0) === 0x2d ? 1 : 0;
  if (i >= n) return Number.NaN;
  let mantissa = 0;
  let digits = 0;
  let point = -1;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      mantissa = mantissa * 10 + (c - 0x30);
      digits++;
    } else if (c === 0x2e && point < 0) point = i;
    else return Number.NaN;
  }
  if (digits === 0 || digits > 15) return Number.NaN;
  const x = point < 0 ? mantissa : mantissa / POW10[n - 1 - point];
  return s.charCodeAt(0) === 0x2d ? -x : x;
}

const isDigitOrDot = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x2e;

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Whether float32, the features' type, holds a finite double (|x| ≤ 3.4e38 after rounding). */
const inFloat32 = (x: number): boolean => Number.isFinite(Math.fround(x));

/**
 * A CSV field as a number float32 holds, or NaN: decimal notation only (no hex, no "Infinity",
 * no blanks), and nothing past float32's range (1e39 would become Infinity in a feature).
 */
export function parseNumber(field: string): number {
  const fast = plainDecimal(field); // at most 15 digits: always in float32's range
  if (!Number.isNaN(fast)) return fast;
  // the common case without the regex: starts and ends with a digit or '.', no 0x/0b/0o prefix
  // (`+` reads those too); anything else takes the strict path below
  const n = field.length;
  if (n > 0 && isDigitOrDot(field.charCodeAt(0)) && isDigitOrDot(field.charCodeAt(n - 1))) {
    const second = n > 1 ? field.charCodeAt(1) | 0x20 : 0;
    if (second !== 0x78 && second !== 0x62 && second !== 0x6f) {
      const x = +field;
      if (Number.isFinite(x)) return inFloat32(x) ? x : Number.NaN;
    }
  }
  const s = field.trim();
  if (!DECIMAL.test(s)) return Number.NaN;
  const x = Number(s);
  return inFloat32(x) ? x : Number.NaN;
}

/** A field in decimal notation that parseNumber refuses for its size alone (1e39, -1e400). */
export function beyondFloat32(field: string): boolean {
  const s = field.trim();
  return DECIMAL.test(s) && !inFloat32(Number(s));
}

/** Why a non-empty field is not a number, for a message: `'x' is not a number`, or its range. */
export const notANumber = (field: string): string =>
  beyondFloat32(field)
    ? `${quoted(field)} is beyond float32's range (±3.4e38)`
    : `${quoted(field)} is not a number`;

/** Where a row is, for a message ("data.csv, row 12"): a string, or a function a reader calls only on an error. */
export type Where = string | (() => string);

const placeOf = (where: Where): string => (typeof where === 'string' ? where : where());

/**
 * One row's cells from its raw fields (field(i) is input column i's text), at cells[at + i]:
 * a number column's value as parsed (a double), a category column's index in its list. An
 * unparseable number or a category the training rows never held is a DataError naming
 * `where` (for example "data.csv, row 12") and the column.
 */
export function parseRow(
  inputs: readonly InputColumn[],
  field: (i: number) => string,
  cells: Float64Array,
  at: number,
  where: Where,
  categoryIndex: readonly ReadonlyMap<string, number>[],
): void {
  for (let i = 0; i < inputs.length; i++) {
    const c = inputs[i];
    const text = field(i);
    if (c.kind === 'number') {
      const x = parseNumber(text);
      if (Number.isNaN(x)) throw badNumber(placeOf(where), c.name, text);
      cells[at + i] = x;
    } else {
      const k = categoryIndex[i].get(text);
      if (k === undefined)
        throw new DataError(
          `${placeOf(where)}, column '${c.name}': category ${quoted(text)} was not in the training rows (${listed(c.categories)})`,
        );
      cells[at + i] = k;
    }
  }
}

/**
 * A row's features from its cells (parseRow's), at out[at …]: each number standardised in
 * float64 and rounded to float32 once, as `out` stores it; each category one-hot.
 */
export function writeFeatures(
  inputs: readonly InputColumn[],
  cells: Float64Array,
  cellsAt: number,
  out: Float32Array,
  at: number,
): void {
  let f = at;
  for (let i = 0; i < inputs.length; i++) {
    const c = inputs[i];
    if (c.kind === 'number') {
      out[f++] = scaled(cells[cellsAt + i], c);
    } else {
      out.fill(0, f, f + c.categories.length);
      out[f + cells[cellsAt + i]] = 1;
      f += c.categories.length;
    }
  }
}

/**
 * Writes one row's features at out[at …] from its raw fields: parseRow, then writeFeatures,
 * through `cells` (inputs.length doubles of scratch). The loader runs the same two steps with
 * its statistics fitted in between.
 */
export function encodeRow(
  inputs: readonly InputColumn[],
  field: (i: number) => string,
  out: Float32Array,
  at: number,
  where: Where,
  categoryIndex: readonly ReadonlyMap<string, number>[],
  cells: Float64Array,
): void {
  parseRow(inputs, field, cells, 0, where, categoryIndex);
  writeFeatures(inputs, cells, 0, out, at);
}

/** Per input column, category → its index (empty maps for number columns), for encodeRow. */
export function categoryIndexes(inputs: readonly InputColumn[]): Map<string, number>[] {
  return inputs.map((c) => new Map(c.kind === 'category' ? c.categories.map((v, i) => [v, i]) : []));
}

export function badNumber(where: string, column: string, text: string): DataError {
  return new DataError(
    text.trim() === ''
      ? `${where}, column '${column}': empty field in a number column (gradpool does not fill in missing values)`
      : `${where}, column '${column}': ${notANumber(text)}`,
  );
}

/** A value in a one-line message: quoted, its line breaks escaped. */
export const quoted = (s: string): string => `'${s.replace(/\r/g, '\\r').replace(/\n/g, '\\n')}'`;

/** A short list for a message: the first few values, then how many more. */
export function listed(values: readonly string[], max = 8): string {
  const shown = values.slice(0, max).map(quoted);
  return values.length > max ? `${shown.join(', ')} and ${values.length - max} more` : shown.join(', ');
}

/** The preprocessing stored in a model file, validated: anything else is a ModelFileError. */
export function parsePreprocessing(text: string, fail: (why: string) => Error): Preprocessing {
  let p: unknown;
  try {
    p = JSON.parse(text);
  } catch {
    throw fail('its preprocessing is not JSON');
  }
  const ok = (cond: unknown, why: string) => {
    if (!cond) throw fail(`its preprocessing ${why}`);
  };
  const o = p as Record<string, unknown>;
  ok(o && typeof o === 'object', 'is not an object');
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  const scalingOk = (s: Record<string, unknown>) =>
    typeof s.name === 'string' && finite(s.mean) && finite(s.std) && (s.std as number) > 0;
  const strings = (a: unknown) => Array.isArray(a) && a.length > 0 && a.every((v) => typeof v === 'string');
  if (o.kind === 'image') {
    ok(finite(o.scale) && strings(o.classes), 'has a malformed image entry');
    return o as unknown as ImagePreprocessing;
  }
  ok(o.kind === 'table' && Array.isArray(o.inputs) && o.inputs.length > 0, 'has no input columns');
  for (const c of o.inputs as Record<string, unknown>[]) {
    ok(
      c &&
        (c.kind === 'number'
          ? scalingOk(c)
          : c.kind === 'category' && typeof c.name === 'string' && strings(c.categories)),
      'has a malformed input column',
    );
  }
  const t = o.target as Record<string, unknown>;
  ok(t && typeof t === 'object', 'has no target');
  if (t.task === 'classify') ok(typeof t.column === 'string' && strings(t.classes), 'has malformed classes');
  else
    ok(
      t.task === 'regress' &&
        Array.isArray(t.columns) &&
        t.columns.length > 0 &&
        (t.columns as Record<string, unknown>[]).every(scalingOk),
      'has a malformed target',
    );
  return o as unknown as TablePreprocessing;
}
