import { DataError, UsageError } from '../errors.js';
import { readCsv } from './csv-reader.js';
import { beyondFloat32, listed, notANumber, parseNumber } from './preprocessing.js';

// The first pass over a training CSV: how many rows, and for each column whether it holds
// numbers, whole numbers only, and which distinct values (up to MAX_CATEGORIES) — enough to
// decide each column's kind, the task, the classes, and a stratified test split before the
// second pass writes the rows into shared memory.

/** Distinct values a category column or a class target may hold; more is an ID-like column. */
export const MAX_CATEGORIES = 1000;

export interface ColumnScan {
  readonly name: string;
  /** fields that parse as numbers (or are numbers past float32's range) / that do not (empty fields counted apart) */
  numbers: number;
  others: number;
  empty: number;
  /** the first field that is not a number float32 holds: text, or a number past its range */
  firstOther: { row: number; text: string } | null;
  firstEmpty: number;
  wholeNumbers: boolean;
  /** distinct values in order of appearance → code, or null past MAX_CATEGORIES */
  values: Map<string, number> | null;
}

export interface CsvScan {
  readonly path: string;
  readonly header: readonly string[];
  readonly rows: number;
  readonly columns: readonly ColumnScan[];
  /** per row, the code of its target value in columns[target].values (when one target is kept) */
  readonly targetCodes: Int32Array | null;
}

/** The key a target value is known by: numbers by value ('1' and '1.0' are one class). */
export const targetKey = (text: string): string => {
  const x = parseNumber(text);
  return Number.isNaN(x) ? text : String(x);
};

export async function scanCsv(
  path: string,
  columnsOf: (header: readonly string[]) => { target: number | null },
) {
  let columns: ColumnScan[] = [];
  let target: number | null = null;
  let codes: Int32Array = new Int32Array(1024);
  const { header, rows } = await readCsv(
    path,
    (h) => {
      columns = h.map((name) => ({
        name,
        numbers: 0,
        others: 0,
        empty: 0,
        firstOther: null,
        firstEmpty: 0,
        wholeNumbers: true,
        values: new Map(),
      }));
      target = columnsOf(h).target;
    },
    (fields, index, row) => {
      for (let j = 0; j < fields.length; j++) {
        const c = columns[j];
        const text = fields[j];
        if (text.trim() === '') {
          if (c.empty++ === 0) c.firstEmpty = row;
        } else {
          const x = parseNumber(text);
          if (Number.isNaN(x)) {
            // 1e39 is a number, but one a feature cannot hold: its column is a number column in error
            if (beyondFloat32(text)) {
              c.numbers++;
              c.firstOther ??= { row, text };
            } else if (c.others++ === 0) c.firstOther = { row, text };
          } else {
            c.numbers++;
            if (!Number.isInteger(x)) c.wholeNumbers = false;
          }
        }
        if (c.values) {
          const key = j === target ? targetKey(text) : text;
          let code = c.values.get(key);
          if (code === undefined) {
            code = c.values.size;
            if (code >= MAX_CATEGORIES) c.values = null;
            else c.values.set(key, code);
          }
          if (j === target && code !== undefined) {
            if (index >= codes.length) codes = grow(codes);
            codes[index] = c.values ? code : -1;
          }
        }
      }
    },
  );
  const keepCodes = target !== null && columns[target].values !== null;
  return {
    path,
    header,
    rows,
    columns,
    targetCodes: keepCodes ? codes.subarray(0, rows) : null,
  } satisfies CsvScan;
}

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** Column indices by name, or a UsageError naming the missing one and the columns there are. */
export function columnIndex(path: string, header: readonly string[], name: string, field: string): number {
  const j = header.indexOf(name);
  if (j < 0) throw new UsageError(`${path} has no column '${name}' (its columns: ${listed(header)})`, field);
  return j;
}

/** Whether a scanned column holds numbers; a mostly-numeric column with text in it is an error there. */
export function isNumberColumn(path: string, c: ColumnScan): boolean {
  if (c.numbers > 0 && c.numbers >= c.others) {
    if (c.firstOther)
      throw new DataError(
        `${path}, row ${c.firstOther.row}, column '${c.name}': ${notANumber(c.firstOther.text)}`,
      );
    if (c.empty > 0)
      throw new DataError(
        `${path}, row ${c.firstEmpty}, column '${c.name}': empty field in a number column (gradpool does not fill in missing values)`,
      );
    return true;
  }
  return false;
}
