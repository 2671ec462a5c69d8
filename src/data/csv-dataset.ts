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
  type CategoryColumn,
  categoryIndexes,
  encodeRow,
  featureCount,
  type InputColumn,
  listed,
  parseNumber,
  quoted,
  type Scaling,
  scaled,
  type TablePreprocessing,
  type TargetEncoding,
} from './preprocessing.js';
import { type Split, sharedFloats } from './split.js';
import { type Task, targetWidth } from './task.js';
import { stratifiedSplit } from './validation-split.js';

// A CSV dataset in two passes over the file, never holding its text: the first decides each
// column's kind, the task, the classes and the test rows (csv-scan.ts); the second writes
// every row into the shared float32 splits, one-hot encodes categories, and the training
// rows' means and deviations then standardise both splits in place. A separate test file is
// encoded with what the training file fitted, as predict encodes its input.

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
  if (!o.testData) {
    const strata = classes
      ? classIndexOfCodes(scan.columns[targetAt[0]], classes, scan.targetCodes!)
      : new Uint8Array(rows);
    const split = stratifiedSplit(strata, rows, o.testSplit, testSeed(o.seed));
    if (split.validation.length === 0 || split.train.length === 0)
      throw new UsageError(`testSplit ${o.testSplit} of ${rows} rows leaves an empty split`, 'testSplit');
    split.train.forEach((r, i) => {
      place[r] = i;
    });
    split.validation.forEach((r, i) => {
      place[r] = ~i;
    });
    trainCount = split.train.length;
    testCount = split.validation.length;
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
  const train = emptySplit(trainCount, features, width);
  const test = emptySplit(testCount, features, width);
  const index = categoryIndexes(provisional);
  const classIndex = new Map(classes?.map((c, i) => [c, i]));
  const inTraining = categories.map((c) => new Uint8Array(c.length));
  const firstTestRow = categories.map((c) => new Int32Array(c.length));
  const identity: Scaling = { mean: 0, std: 1 };

  await readCsv(
    path,
    () => {},
    (fields, row) => {
      const p = place[row - 1];
      const split = p >= 0 ? train : test;
      const r = p >= 0 ? p : ~p;
      let f = r * features;
      for (let i = 0; i < inputAt.length; i++) {
        const text = fields[inputAt[i]];
        if (kinds[i] === 'number') {
          split.inputs[f++] = scaled(parseNumber(text), identity);
        } else {
          const k = index[i].get(text)!;
          split.inputs[f + k] = 1;
          f += categories[i].length;
          if (p >= 0) inTraining[i][k] = 1;
          else if (firstTestRow[i][k] === 0) firstTestRow[i][k] = row;
        }
      }
      const t = r * width;
      if (classes) split.targets[t] = classIndex.get(targetKey(fields[targetAt[0]]))!;
      else for (let k = 0; k < width; k++) split.targets[t + k] = parseNumber(fields[targetAt[k]]);
    },
  );
  categories.forEach((list, i) => {
    const k = inTraining[i].indexOf(0);
    if (list.length > 0 && k >= 0)
      throw new DataError(
        `${path}, row ${firstTestRow[i][k]}, column '${provisional[i].name}': category ${quoted(list[k])} is only in test rows, never in training rows (change seed or testSplit, or ignore the column)`,
      );
  });

  const inputs = provisional.map((c, i) => {
    if (c.kind !== 'number') return c;
    const s = o.standardize ? fitScaling(train, features, featureOffset(provisional, i)) : identity;
    return { ...c, ...s };
  });
  const target: TargetEncoding = classes
    ? { task: 'classify', column: scan.header[targetAt[0]], classes }
    : {
        task: 'regress',
        columns: targetAt.map((j, k) => ({
          name: scan.header[j],
          ...(o.standardize ? fitScaling({ inputs: train.targets, count: trainCount }, width, k) : identity),
        })),
      };
  const preprocessing: TablePreprocessing = { kind: 'table', inputs, target };
  for (const split of [train, test]) standardise(split, preprocessing, features, width);
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
  const features = featureCount(p.inputs);
  const outputs = p.target.task === 'classify' ? p.target.classes.length : p.target.columns.length;
  const width = targetWidth(p.target.task, outputs);
  const split = emptySplit(rows, features, targets ? width : 0);
  const index = categoryIndexes(p.inputs);
  let inputAt: number[] = [];
  let targetAt: number[] = [];
  const fields: { row: readonly string[] } = { row: [] };
  const field = (i: number) => fields.row[inputAt[i]];
  const classIndex = p.target.task === 'classify' ? new Map(p.target.classes.map((c, i) => [c, i])) : null;
  await readCsv(
    path,
    (header) => {
      inputAt = p.inputs.map((c) => columnIndex(path, header, c.name, 'input'));
      if (!targets) return;
      const names = p.target.task === 'classify' ? [p.target.column] : p.target.columns.map((c) => c.name);
      targetAt = names.map((name) => columnIndex(path, header, name, 'target'));
    },
    (row, n) => {
      fields.row = row;
      const where = `${path}, row ${n}`;
      encodeRow(p.inputs, field, split.inputs as Float32Array, (n - 1) * features, where, index);
      if (!targets) return;
      const t = (n - 1) * width;
      if (p.target.task === 'classify') {
        const text = row[targetAt[0]];
        const k = classIndex!.get(targetKey(text));
        if (k === undefined)
          throw new DataError(
            `${where}, column '${p.target.column}': class ${quoted(text)} was not in the training rows (${listed(p.target.classes)})`,
          );
        split.targets[t] = k;
      } else {
        p.target.columns.forEach((c, k) => {
          const x = parseNumber(row[targetAt[k]]);
          if (Number.isNaN(x))
            throw new DataError(`${where}, column '${c.name}': ${quoted(row[targetAt[k]])} is not a number`);
          split.targets[t + k] = scaled(x, c);
        });
      }
    },
  );
  return split;
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

function notNumeric(path: string, c: ColumnScan): DataError {
  const where = c.firstOther
    ? `row ${c.firstOther.row}: ${quoted(c.firstOther.text)}`
    : `row ${c.firstEmpty}: empty`;
  return new DataError(`${path}, column '${c.name}': a regression target must be numbers (${where})`);
}

function emptySplit(count: number, features: number, width: number) {
  return { inputs: sharedFloats(count * features), targets: sharedFloats(count * width), count };
}

function featureOffset(inputs: readonly InputColumn[], i: number): number {
  return featureCount(inputs.slice(0, i));
}

/** Mean and population deviation of column `at` of rows of `width` floats, in float64 and row order. */
function fitScaling(
  split: { inputs: Float32Array | Uint8Array; count: number },
  width: number,
  at: number,
): Scaling {
  const x = split.inputs;
  let sum = 0;
  for (let r = 0; r < split.count; r++) sum += x[r * width + at];
  const mean = sum / split.count;
  let sq = 0;
  for (let r = 0; r < split.count; r++) sq += (x[r * width + at] - mean) ** 2;
  const std = Math.sqrt(sq / split.count);
  return { mean, std: std > 0 && Number.isFinite(std) ? std : 1 };
}

/** Applies the fitted scalings in place (the loader wrote the raw float32 values). */
function standardise(split: Split, p: TablePreprocessing, features: number, width: number): void {
  const x = split.inputs;
  let f = 0;
  for (const c of p.inputs) {
    if (c.kind === 'category') {
      f += (c as CategoryColumn).categories.length;
      continue;
    }
    for (let r = 0; r < split.count; r++) x[r * features + f] = scaled(x[r * features + f], c);
    f++;
  }
  if (p.target.task === 'regress')
    p.target.columns.forEach((c, k) => {
      for (let r = 0; r < split.count; r++)
        split.targets[r * width + k] = scaled(split.targets[r * width + k], c);
    });
}
