import { UsageError } from '../errors.js';

// A testing aid: GRADPOOL_INJECT_FAULTS=kind:rate[:seed] makes a worker throw, exit or hang
// on a shard computation with probability `rate`. The draw hashes (seed, command serial,
// shard), so the same faults happen whichever thread computes the shard. Inert unless set.

export type FaultKind = 'throw' | 'exit' | 'hang';

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
  if (
    !['throw', 'exit', 'hang'].includes(kind) ||
    !(r >= 0 && r <= 1) ||
    !Number.isInteger(s) ||
    rest.length > 0
  ) {
    throw new UsageError(
      `GRADPOOL_INJECT_FAULTS must be kind:rate[:seed] with kind throw, exit or hang and 0 ≤ rate ≤ 1, got '${value}'`,
    );
  }
  return { kind: kind as FaultKind, rate: r, seed: s >>> 0 };
}

/** Whether to inject a fault into this shard computation. */
export function shouldFault(spec: FaultSpec, serial: number, shard: number): boolean {
  let h =
    Math.imul(spec.seed ^ 0x9e3779b9, 0x85ebca6b) ^
    Math.imul(serial, 0xc2b2ae35) ^
    Math.imul(shard + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296 < spec.rate;
}

/** Does what the spec says, inside a worker thread. */
export function injectFault(kind: FaultKind, shard: number): void {
  if (kind === 'throw') throw new Error(`injected fault (throw) in shard ${shard}`);
  if (kind === 'exit') process.exit(1);
  const forever = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(forever, 0, 0);
}
