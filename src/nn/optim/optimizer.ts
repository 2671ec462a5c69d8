import type { FieldSpec } from '../../fields.js';
import type { Kernels } from '../kernels/types.js';

// An optimizer is one declaration: its settings (flags, job fields, what a resume may not
// change), its per-parameter state buffers (arena slots, checkpoint tensors) and its update
// (per-step scalars computed once by the coordinator in float64, and the kernel call each
// block's owner makes). Everything else derives from the declarations in ./index.ts.

export type OptimizerName = 'sgd' | 'adam' | 'adamw';

/** The settings every optimizer reads: the config's values for its fields. */
export type OptimizerSettings = Readonly<Record<string, number | boolean>>;

/** Float64 scalars per step in the control block: the most any optimizer's kernel takes. */
export const STEP_SCALARS = 8;

/** Arena offsets (floats) of the parameters and of each state buffer, each in two copies. */
export interface UpdateSlots {
  readonly params: readonly [number, number];
  readonly state: readonly (readonly [number, number])[];
}

export interface Optimizer {
  readonly name: OptimizerName;
  /**
   * Its state buffers, each in the parameters' layout, by the name their checkpoint tensors
   * carry (`${name}.{i}.weight`): PyTorch's names where it has them.
   */
  readonly state: readonly string[];
  /** Its own settings (beyond lr and weightDecay, which every optimizer takes), with defaults. */
  readonly fields: Readonly<Record<string, FieldSpec>>;
  readonly defaults: OptimizerSettings;
  /**
   * The kernel's scalars for the run's step `t` (1-based: Adam's bias correction counts
   * steps) at learning rate `lr`, computed in float64, into out[at … at + STEP_SCALARS).
   */
  stepScalars(settings: OptimizerSettings, lr: number, t: number, out: Float64Array, at: number): void;
  /**
   * Updates `n` parameters at float offset `at` of the layout with their gradient sum at
   * `grad`: reads copy `cur` of the parameters and state, writes the other, so a failed step
   * leaves what it read intact. `scalars[s …]` are the step's stepScalars.
   */
  update(
    k: Kernels,
    slots: UpdateSlots,
    cur: number,
    at: number,
    grad: number,
    n: number,
    scalars: Float64Array,
    s: number,
    invBatch: number,
  ): void;
}
