import { DataError, UsageError } from '../errors.js';
import { readCsv } from './csv-reader.js';
import {
  type ColumnScan,
  columnIndex,
  isNumberColumn,
  MAX_CATEGORIES,
  scanCsv,
  targetKey,
} from './csv-scan.js';
import type { Dataset } from './dataset.js';
import {
  badNumber,
  categoryIndexes,
  encodeRow,
  featureCount,
  type InputColumn,
  listed,
  parseNumber,
  parseRow,
  quoted,
  type Scaling,
  scaled,
  type TablePreprocessing,
  type TargetEncoding,
} from './preprocessing.js';
import { type Split, sharedFloats } from './split.js';
import { type Task, targetWidth } from './task.js';
import { stratifiedSplit } from './validation-split.js';

// A CSV dataset in three passes over the file, never holding its text: the first decides each
// column's kind, the task, the classes and the test rows (csv-scan.ts); the second fits the
// training rows' means and deviations on the parsed doubles; the third writes the shared
// float32 splits through encodeRow, each value standardised in float64 and rounded once. A
// separate test file, and predict's input, go through the same encodeRow with what the
// training file fitted, so the same row gives the same bytes whichever way it comes.

export interface CsvOptions {
  /** target columns: one (classification or regression) or several (multi-output regression) */
  readonly target: readonly string[];
  /** undefined: inferred from the target (see inferTask) */
  readonly task?: Task;
  readonly ignore: readonly string[];
  /** a CSV file with the same columns for the test split; else testSplit of the rows, seeded */
  readonly testData?: string;
  readonly testSplit: number;
  readonly standardize: boolean;
  readonly seed: number;
}

/** The test split's own stream of the seed (the validation split takes another). */
const testSeed = (seed: number) => (seed ^ 0x3c6ef372) >>> 0;

export async function loadCsvDataset(path: string, o: CsvOptions): Promise<Dataset> {
  if (o.target.length === 0)
    throw new UsageError((n) => `${n('data')} csv:${path} needs ${n('target')} COLUMN`, 'target');
  let targetAt: number[] = [];
  const scan = await scanCsv(path, (header) => {
    targetAt = columnsNamed(path, header, o);
    return { target: targetAt.length === 1 ? targetAt[0] : null };
  });
  const skipped = new Set([...targetAt, ...o.ignore.map((name) => scan.header.indexOf(name))]);
  const inputAt = scan.header.map((_, j) => j).filter((j) => !skipped.has(j));
  if (inputAt.length === 0)
    throw new UsageError(`${path}: no input columns are left after the target and ignored ones`, 'ignore');
  const targetScans = targetAt.map((j) => scan.columns[j]);
  const task = o.task ?? inferTask(path, targetScans);
  const kinds = inputAt.map((j) => kindOf(path, scan.columns[j]));
  const classes = task === 'classify' ? classList(path, targetScans) : null;
  if (task === 'regress')
    for (const c of targetScans) if (!isNumberColumn(path, c)) throw notNumeric(path, c);

  // which split each row goes to: ≥ 0 a train row, < 0 test row ~r
  const rows = scan.rows;
  const place = Int32Array.from({ length: rows }, (_, r) => r);
  let trainCount = rows;
  let testCount = 0;
  const strata = classes ? classIndexOfCodes(scan.columns[targetAt[0]], classes, scan.targetCodes!) : null;
  if (!o.testData) {
    const split = stratifiedSplit(strata ?? new Uint8Array(rows), rows, o.testSplit, testSeed(o.seed));
    if (split.validation.length === 0 || split.train.length === 0)
      throw new UsageError(
        (n) => `${n('testSplit')} ${o.testSplit} of ${rows} rows leaves an empty split`,
        'testSplit',
      );
    split.train.forEach((r, i) => {
      place[r] = i;
    });
    split.validation.forEach((r, i) => {
      place[r] = ~i;
    });
    trainCount = split.train.length;
    testCount = split.validation.length;
    if (strata) everyClassTrains(path, scan.header[targetAt[0]], classes!, strata, split.train, o.testSplit);
  }

  // categories as the whole file holds them, sorted; those no training row holds are refused below
  const categories = inputAt.map((j, i) =>
    kinds[i] === 'category' ? [...scan.columns[j].values!.keys()].sort() : [],
  );
  const provisional: InputColumn[] = inputAt.map((j, i) =>
    kinds[i] === 'number'
      ? { name: scan.header[j], kind: 'number', mean: 0, std: 1 }
      : { name: scan.header[j], kind: 'category', categories: categories[i] },
  );
  const features = featureCount(provisional);
  const outputs = classes ? classes.length : targetAt.length;
  const width = targetWidth(task, outputs);
  const index = categoryIndexes(provisional);
  const inTraining = categories.map((c) => new Uint8Array(c.length));
  const firstTestRow = categories.map((c) => new Int32Array(c.length));
  // Pass 2: the training rows' statistics, and which categories training rows hold. Pass 3
  // writes the splits with them. Holding every row's doubles in between would take 8 bytes a
  // cell, twice the float32 dataset (712 MB at the peak for 1M × 50); a third read costs less.
  const C = inputAt.length;
  const cells = new Float64Array(C);
  const values = new Float64Array(width);
  const inputMoments = new Moments(C);
  const targetMoments = new Moments(width);
  // the row being read, and what its fields and messages are drawn from (no closure per row)
  const current: { fields: readonly string[]; row: number } = { fields: [], row: 0 };
  const field = (i: number) => current.fields[inputAt[i]];
  const where = () => `${path}, row ${current.row}`;
  await readCsv(
    path,
    () => {},
    (fields, n, row) => {
      const training = place[n] >= 0;
      current.fields = fields;
      current.row = row;
      // the first pass found every number and category valid: this cannot throw on an unchanged file
      parseRow(provisional, field, cells, 0, where, index);
      for (let i = 0; i < C; i++) {
        if (kinds[i] !== 'category') continue;
        const k = cells[i];
        if (training) inTraining[i][k] = 1;
        else if (firstTestRow[i][k] === 0) firstTestRow[i][k] = row;
      }
      if (!training) return;
      inputMoments.add(cells);
      if (classes) return;
      for (let k = 0; k < width; k++) values[k] = parseNumber(fields[targetAt[k]]);
      targetMoments.add(values);
    },
    rows,
  );
  categories.forEach((list, i) => {
    const k = inTraining[i].indexOf(0);
    if (list.length > 0 && k >= 0)
      throw new DataError(
        (n) =>
          `${path}, row ${firstTestRow[i][k]}, column '${provisional[i].name}': category ${quoted(list[k])} is only in test rows, never in training rows (change ${n('seed')} or ${n('testSplit')}, or ignore the column)`,
      );
  });

  const inputs = provisional.map((c, i) =>
    c.kind === 'number' && o.standardize ? { ...c, ...inputMoments.scaling(i) } : c,
  );
  const target: TargetEncoding = classes
    ? { task: 'classify', column: scan.header[targetAt[0]], classes }
    : {
        task: 'regress',
        columns: targetAt.map((j, k) => ({
          name: scan.header[j],
          ...(o.standardize ? targetMoments.scaling(k) : IDENTITY),
        })),
      };
  const preprocessing: TablePreprocessing = { kind: 'table', inputs, target };
  const train = emptySplit(trainCount, features, width);
  const test = emptySplit(testCount, features, width);
  // pass 3: each row where its split puts it, through encodeRow as a test file or predict's input is
  await writeRows(path, preprocessing, true, rows, train, test, place);
  const testSplit = o.testData ? await encodeCsv(o.testData, preprocessing, true) : test;
  return { spec: `csv:${path}`, task, features, outputs, preprocessing, train, test: testSplit };
}

/**
 * A CSV file encoded with a fitted preprocessing: its columns found by name (extra ones
 * ignored, a missing one named), numbers standardised, categories one-hot; with `targets`,
 * the target columns too (classes by name, values standardised).
 */
export async function encodeCsv(path: string, p: TablePreprocessing, targets: boolean): Promise<Split> {
  const { rows } = await readCsv(
    path,
    () => {},
    () => {},
  );
  const outputs = p.target.task === 'classify' ? p.target.classes.length : p.target.columns.length;
  const split = emptySplit(rows, featureCount(p.inputs), targets ? targetWidth(p.target.task, outputs) : 0);
  await writeRows(path, p, targets, rows, split, null, null);
  return split;
}

/**
 * Writes each of the `rows` rows of a CSV file (as a first read counted them): its features
 * standardised and one-hot, and with `targets` its target (a class index, or values
 * standardised). Row n goes to row n of `train`, or with `place` where it says (≥ 0: that row
 * of `train`, < 0: row ~place[n] of `test`). Columns are found by name: extra ones ignored, a
 * missing one named.
 */
async function writeRows(
  path: string,
  p: TablePreprocessing,
  targets: boolean,
  rows: number,
  train: Split,
  test: Split | null,
  place: Int32Array | null,
): Promise<void> {
  const features = featureCount(p.inputs);
  const outputs = p.target.task === 'classify' ? p.target.classes.length : p.target.columns.length;
  const width = targetWidth(p.target.task, outputs);
  const index = categoryIndexes(p.inputs);
  const cells = new Float64Array(p.inputs.length);
  let inputAt: number[] = [];
  let targetAt: number[] = [];
  const current: { fields: readonly string[]; row: number } = { fields: [], row: 0 };
  const field = (i: number) => current.fields[inputAt[i]];
  const where = () => `${path}, row ${current.row}`;
  const classIndex = p.target.task === 'classify' ? new Map(p.target.classes.map((c, i) => [c, i])) : null;
  await readCsv(
    path,
    (header) => {
      inputAt = p.inputs.map((c) => columnIndex(path, header, c.name, 'input'));
      if (!targets) return;
      const names = p.target.task === 'classify' ? [p.target.column] : p.target.columns.map((c) => c.name);
      targetAt = names.map((name) => columnIndex(path, header, name, 'target'));
    },
    (fields, n, row) => {
      const at = place ? place[n] : n;
      const split = at >= 0 ? train : test!;
      const r = at >= 0 ? at : ~at;
      current.fields = fields;
      current.row = row;
      encodeRow(p.inputs, field, split.inputs as Float32Array, r * features, where, index, cells);
      if (!targets) return;
      const t = r * width;
      if (p.target.task === 'classify') {
        const text = fields[targetAt[0]];
        const k = classIndex!.get(targetKey(text));
        if (k === undefined)
          throw new DataError(
            `${where()}, column '${p.target.column}': class ${quoted(text)} was not in the training rows (${listed(p.target.classes)})`,
          );
        split.targets[t] = k;
      } else {
        const { columns } = p.target;
        for (let k = 0; k < columns.length; k++) {
          const text = fields[targetAt[k]];
          const x = parseNumber(text);
          if (Number.isNaN(x)) throw badNumber(where(), columns[k].name, text);
          split.targets[t + k] = scaled(x, columns[k]);
        }
      }
    },
    rows,
  );
}

/** The target columns' indices; a missing, repeated or ignored target is a UsageError. */
function columnsNamed(path: string, header: readonly string[], o: CsvOptions): number[] {
  const at = o.target.map((name) => columnIndex(path, header, name, 'target'));
  o.target.forEach((name, i) => {
    if (o.target.indexOf(name) !== i)
      throw new UsageError(`target column '${name}' is named twice`, 'target');
    if (o.ignore.includes(name))
      throw new UsageError(`column '${name}' is both a target and ignored`, 'ignore');
  });
  for (const name of o.ignore) columnIndex(path, header, name, 'ignore');
  return at;
}

/**
 * The task a target implies, where that is unambiguous: several targets or fractional numbers
 * regress, text classifies, exactly two whole numbers (0/1, 1/2) classify; other whole
 * numbers (counts? codes?) need the task said.
 */
function inferTask(path: string, targets: readonly ColumnScan[]): Task {
  if (targets.length > 1) return 'regress';
  const c = targets[0];
  if (!isNumberColumn(path, c)) return 'classify';
  if (!c.wholeNumbers) return 'regress';
  if (c.values?.size === 2) return 'classify';
  const distinct = c.values
    ? `${c.values.size} distinct values`
    : `more than ${MAX_CATEGORIES} distinct values`;
  throw new UsageError(
    (n) =>
      `target '${c.name}' holds whole numbers (${distinct}): say ${n('task')} classify or ${n('task')} regress`,
    'task',
  );
}

function kindOf(path: string, c: ColumnScan): 'number' | 'category' {
  if (isNumberColumn(path, c)) return 'number';
  if (!c.values)
    throw new DataError(
      (n) =>
        `${path}, column '${c.name}': more than ${MAX_CATEGORIES} distinct values for a category column; ${n('ignore')} it`,
    );
  return 'category';
}

function classList(path: string, targets: readonly ColumnScan[]): string[] {
  if (targets.length > 1) throw new UsageError('classification takes one target column', 'target');
  const c = targets[0];
  if (c.empty > 0) throw new DataError(`${path}, row ${c.firstEmpty}, column '${c.name}': empty target`);
  if (!c.values) throw new DataError(`${path}, column '${c.name}': more than ${MAX_CATEGORIES} classes`);
  const keys = [...c.values.keys()];
  if (keys.length < 2)
    throw new DataError(
      `${path}, column '${c.name}': the target has one class (${quoted(keys[0])}); there is nothing to learn`,
    );
  const numeric = keys.every((k) => !Number.isNaN(parseNumber(k)));
  return numeric ? keys.sort((a, b) => Number(a) - Number(b)) : keys.sort();
}

function classIndexOfCodes(c: ColumnScan, classes: readonly string[], codes: Int32Array): Int32Array {
  const byCode = new Int32Array(c.values!.size);
  const at = new Map(classes.map((k, i) => [k, i]));
  for (const [key, code] of c.values!) byCode[code] = at.get(key)!;
  return codes.map((code) => byCode[code]);
}

/** A class none of whose rows is left to train on is refused, as a category only test rows hold is. */
function everyClassTrains(
  path: string,
  column: string,
  classes: readonly string[],
  strata: Int32Array,
  train: Int32Array,
  testSplit: number,
): void {
  const trains = new Uint8Array(classes.length);
  for (const r of train) trains[strata[r]] = 1;
  const k = trains.indexOf(0);
  if (k < 0) return;
  const count = strata.reduce((n, c) => n + (c === k ? 1 : 0), 0);
  throw new DataError(
    (n) =>
      `${path}, column '${column}': all ${count} rows of class ${quoted(classes[k])} fell in the test split, so training never sees it (use a smaller ${n('testSplit')} than ${testSplit}, another ${n('seed')}, or more rows of that class)`,
  );
}

function notNumeric(path: string, c: ColumnScan): DataError {
  const where = c.firstOther
    ? `row ${c.firstOther.row}: ${quoted(c.firstOther.text)}`
    : `row ${c.firstEmpty}: empty`;
  return new DataError(`${path}, column '${c.name}': a regression target must be numbers (${where})`);
}

function emptySplit(count: number, features: number, width: number) {
  return { inputs: sharedFloats(count * features), targets: sharedFloats(count * width), count };
}

const IDENTITY: Scaling = { mean: 0, std: 1 };

/**
 * Per column, the count, sum and sum of squares of (x − shift), shift being the column's first
 * value: its mean and population deviation in one pass, without the cancellation that raw sums
 * of a column far from zero (a timestamp near 1.7e9) would suffer.
 */
class Moments {
  private count = 0;
  private readonly shift: Float64Array;
  private readonly sum: Float64Array;
  private readonly squares: Float64Array;

  constructor(columns: number) {
    this.shift = new Float64Array(columns);
    this.sum = new Float64Array(columns);
    this.squares = new Float64Array(columns);
  }

  add(row: Float64Array): void {
    if (this.count++ === 0) this.shift.set(row);
    for (let i = 0; i < this.shift.length; i++) {
      const d = row[i] - this.shift[i];
      this.sum[i] += d;
      this.squares[i] += d * d;
    }
  }

  /** Column i's mean and population deviation (1 where that is 0: a constant column). */
  scaling(i: number): Scaling {
    const m = this.sum[i] / this.count;
    const std = Math.sqrt(Math.max(0, this.squares[i] / this.count - m * m));
    return { mean: this.shift[i] + m, std: std > 0 && Number.isFinite(std) ? std : 1 };
  }
}
