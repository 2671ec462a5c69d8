import { UsageError } from '../errors.js';

// A testing aid: GRADPOOL_INJECT_FAULTS=kind:rate[:seed] makes a worker throw, exit or hang
// on a shard computation with probability `rate`, or stall there for SLOW_FAULT_MS and go on
// (`slow`: a straggler, which fails nothing and changes no byte; tests use it to keep a run
// going long enough for a signal to reach it mid-run on any machine). The draw hashes (seed,
// the run's step, the shard, the try of that step) and nothing else, so faults model
// transient failures: the same ones happen on any machine, whichever thread computes the
// shard and however steps are grouped into commands, and a retry draws afresh. Inert unless set.

const KINDS = ['throw', 'exit', 'hang', 'slow'] as const;
export type FaultKind = (typeof KINDS)[number];

/** How long a `slow` fault stalls its shard. */
export const SLOW_FAULT_MS = 10;

export interface FaultSpec {
  readonly kind: FaultKind;
  readonly rate: number;
  readonly seed: number;
}

export function parseFaultSpec(value: string | undefined): FaultSpec | null {
  if (value === undefined || value === '') return null;
  const [kind, rate, seed = '1', ...rest] = value.split(':');
  const r = Number(rate);
  const s = Number(seed);
  if (!KINDS.includes(kind as FaultKind) || !(r >= 0 && r <= 1) || !Number.isInteger(s) || rest.length > 0) {
    throw new UsageError(
      `GRADPOOL_INJECT_FAULTS must be kind:rate[:seed] with kind throw, exit, hang or slow and 0 ≤ rate ≤ 1, got '${value}'`,
    );
  }
  return { kind: kind as FaultKind, rate: r, seed: s >>> 0 };
}

/**
 * Whether to inject a fault into shard `shard` of the run's step `step` (0-based, counted
 * from the first epoch) on its `attempt`-th try (1 for the first).
 */
export function shouldFault(spec: FaultSpec, step: number, shard: number, attempt: number): boolean {
  let h = mix(spec.seed ^ 0x9e3779b9);
  h = mix(h ^ step);
  h = mix(h ^ shard);
  h = mix(h ^ attempt);
  return (h >>> 0) / 4294967296 < spec.rate;
}

/** A 32-bit finaliser (murmur3's): every input bit affects every output bit. */
function mix(x: number): number {
  let h = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** Does what the spec says, inside a worker thread. */
export function injectFault(kind: FaultKind, shard: number): void {
  if (kind === 'throw') throw new Error(`injected fault (throw) in shard ${shard}`);
  if (kind === 'exit') process.exit(1);
  const never = new Int32Array(new SharedArrayBuffer(4));
  if (kind === 'slow') {
    Atomics.wait(never, 0, 0, SLOW_FAULT_MS);
    return;
  }
  for (;;) Atomics.wait(never, 0, 0);
}
