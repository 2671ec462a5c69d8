import type { FieldSpec } from '../../fields.js';
import { adam, adamw } from './adam.js';
import type { Optimizer, OptimizerName } from './optimizer.js';
import { sgd } from './sgd.js';

export * from './optimizer.js';

/** Every optimizer gradpool has: adding one is its file, a line here and its kernel per build. */
export const OPTIMIZERS: Readonly<Record<OptimizerName, Optimizer>> = { sgd, adam, adamw };
export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS) as OptimizerName[];

export function optimizerNamed(name: string): Optimizer {
  const o = (OPTIMIZERS as Record<string, Optimizer>)[name];
  if (!o) throw new RangeError(`unknown optimizer '${name}'`);
  return o;
}

/**
 * The optimizers' own settings as config fields, each marked with the optimizers it applies
 * to (a field two optimizers declare, like Adam's betas, is one setting).
 */
export function optimizerFields(): Record<string, FieldSpec> {
  const out: Record<string, FieldSpec> = {};
  for (const o of OPTIMIZER_NAMES.map(optimizerNamed)) {
    for (const [key, spec] of Object.entries(o.fields)) {
      const values = [...(out[key]?.appliesWhen?.values ?? []), o.name];
      out[key] = { ...spec, appliesWhen: { field: 'optimizer', values } };
    }
  }
  return out;
}

/** Every optimizer setting's default, for the config's defaults. */
export function optimizerDefaults(): Record<string, number | boolean> {
  return Object.assign({}, ...OPTIMIZER_NAMES.map((n) => OPTIMIZERS[n].defaults));
}
