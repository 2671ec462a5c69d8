import { UsageError } from '../errors.js';
import type { Range } from '../fields.js';

// Numbers from flags, job fields and environment variables, checked in one place so that
// every whole-number setting accepts and refuses the same texts with the same message.

export type { Range } from '../fields.js';

/** A number, or text that is one ('1e-3', ' 5 '); anything else (NaN, '', '0x10', true) is null. */
function asNumber(value: unknown, whole: boolean): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return null;
  const text = value.trim();
  // whole numbers are written in decimal digits: '1e3' or '0x10' is a typo more often than not
  if (whole ? !/^[+-]?\d+$/.test(text) : !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/**
 * `value` as a number within `range`, or a UsageError about `field` (named as the reader
 * gave it, see errors.ts). `whole` refuses fractions and anything but decimal digits.
 */
export function checkNumber(field: string, value: unknown, range: Range, whole: boolean): number {
  const n = asNumber(value, whole);
  const kind = whole ? 'a whole number' : 'a number';
  if (n === null)
    throw new UsageError((name) => `${name(field)} must be ${kind}, got '${String(value)}'`, field);
  if (whole && !Number.isSafeInteger(n))
    throw new UsageError((name) => `${name(field)} must be ${kind}, got ${n}`, field);
  const { min, max } = range;
  if (min !== undefined && (range.above ? n <= min : n < min))
    throw new UsageError(
      (name) => `${name(field)} must be ${range.above ? '>' : '≥'} ${min}, got ${n}`,
      field,
    );
  if (max !== undefined && (range.below ? n >= max : n > max))
    throw new UsageError(
      (name) => `${name(field)} must be ${range.below ? '<' : '≤'} ${max}, got ${n}`,
      field,
    );
  return n;
}

/** A whole number in [min, max]: the parser of every whole-number flag, field and variable. */
export function checkWholeNumber(field: string, value: unknown, min: number, max: number): number {
  return checkNumber(field, value, { min, max }, true);
}
