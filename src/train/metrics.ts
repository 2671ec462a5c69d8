import type { Dataset } from '../data/dataset.js';
import type { Scaling } from '../data/preprocessing.js';
import { argmax } from '../nn/mlp.js';

// Scores of a model's raw outputs on rows of a split, computed by the coordinator from the
// outputs the evaluation wrote: a confusion matrix for classes, and RMSE, MAE and R² in the
// target's own units for regression (each the mean over the target columns, as
// scikit-learn's uniform average).

export interface RegressionScores {
  rmse: number;
  mae: number;
  r2: number;
}

/** Rows of a split: the first `count`, or the listed ones (validation rows of the train split). */
export interface ScoredRows {
  readonly targets: Float32Array;
  readonly count: number;
  readonly rows?: Int32Array;
}

export function regressionScores(
  outputs: Float32Array,
  on: ScoredRows,
  columns: readonly Scaling[],
): RegressionScores {
  const T = columns.length;
  let rmse = 0;
  let mae = 0;
  let r2 = 0;
  for (let k = 0; k < T; k++) {
    let sum = 0;
    for (let i = 0; i < on.count; i++) sum += target(on, i, T, k);
    const mean = sum / on.count;
    let sse = 0;
    let sae = 0;
    let sst = 0;
    for (let i = 0; i < on.count; i++) {
      const t = target(on, i, T, k);
      const e = outputs[i * T + k] - t;
      sse += e * e;
      sae += Math.abs(e);
      sst += (t - mean) ** 2;
    }
    // standardised units × std = the target's units (R² does not depend on the unit)
    const std = columns[k].std;
    rmse += Math.sqrt(sse / on.count) * std;
    mae += (sae / on.count) * std;
    r2 += sst > 0 ? 1 - sse / sst : 0;
  }
  return { rmse: rmse / T, mae: mae / T, r2: r2 / T };
}

const target = (on: ScoredRows, i: number, T: number, k: number) =>
  on.targets[(on.rows ? on.rows[i] : i) * T + k];

/** confusion[label][predicted] over the first `count` rows' outputs. */
export function confusionMatrix(
  outputs: Float32Array,
  labels: Float32Array,
  count: number,
  C: number,
): number[][] {
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  for (let i = 0; i < count; i++) confusion[labels[i]][argmax(outputs, i * C, C)]++;
  return confusion;
}

/** The scalings of a regression dataset's targets. */
export function targetScalings(dataset: Dataset): readonly Scaling[] {
  const p = dataset.preprocessing;
  if (p.kind === 'table' && p.target.task === 'regress') return p.target.columns;
  throw new Error(`${dataset.spec} is not a regression dataset`);
}
