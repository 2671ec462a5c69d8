import { permutation, Rng } from '../nn/rng.js';

// The validation split: a seeded share of the train split, stratified by class (each class
// gives its share, to within one row), so the held-out rows are neither the file's last rows
// (Keras' validation_split) nor short of a rare class. The test split is never touched.

export interface RowSplit {
  /** train-split rows that train, ascending */
  readonly train: Int32Array;
  /** train-split rows that validate, ascending */
  readonly validation: Int32Array;
}

/** How many of `rows` rows a fraction holds out: what the stratified split takes in all. */
export const validationCount = (rows: number, fraction: number): number => Math.round(rows * fraction);

/** Its own stream of the run's seed, apart from initialisation, shuffling and dropout. */
const splitSeed = (seed: number) => (seed ^ 0x6a09e667) >>> 0;

/**
 * Holds out validationCount(count, fraction) of rows [0, count): from each class
 * floor(share) rows, plus one more for the classes with the largest remainders (ties to the
 * lower class) until the total is reached, each class's rows chosen by a seeded shuffle.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  count: number,
  fraction: number,
  seed: number,
): RowSplit {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < count; i++) {
    const rows = byClass.get(labels[i]);
    if (rows) rows.push(i);
    else byClass.set(labels[i], [i]);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const quota = new Map(classes.map((c) => [c, Math.floor(byClass.get(c)!.length * fraction)]));
  let left = validationCount(count, fraction) - [...quota.values()].reduce((a, b) => a + b, 0);
  const byRemainder = [...classes].sort((a, b) => {
    const ra = byClass.get(a)!.length * fraction - quota.get(a)!;
    const rb = byClass.get(b)!.length * fraction - quota.get(b)!;
    return rb - ra || a - b;
  });
  for (const c of byRemainder) {
    if (left <= 0) break;
    quota.set(c, quota.get(c)! + 1);
    left--;
  }
  const rng = new Rng(splitSeed(seed));
  const held = new Uint8Array(count);
  for (const c of classes) {
    const rows = byClass.get(c)!;
    const order = permutation(rng, new Int32Array(rows.length));
    for (let i = 0; i < quota.get(c)!; i++) held[rows[order[i]]] = 1;
  }
  const validation = new Int32Array(validationCount(count, fraction));
  const train = new Int32Array(count - validation.length);
  let v = 0;
  let t = 0;
  for (let i = 0; i < count; i++) {
    if (held[i]) validation[v++] = i;
    else train[t++] = i;
  }
  return { train, validation };
}
