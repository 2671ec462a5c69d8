import { availableParallelism, cpus } from 'node:os';

// What "all cores" means everywhere: the CPUs this process may run on (availableParallelism
// honours CPU affinity, e.g. `taskset` or a container's cpuset), not every CPU the host has.

/** The default thread count and the limit past which threads share cores. */
export function coreCount(): number {
  return Math.max(1, availableParallelism());
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
}

export function machineInfo(): MachineInfo {
  return { cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: coreCount(), node: process.version };
}

/**
 * A note for runs with more threads than cores, or null. Extra threads take turns on the
 * cores and wait at every barrier for the ones descheduled, so such a run computes the same
 * model as any other thread count, only slower than with one thread per core.
 */
export function oversubscribedNote(threads: number, cores = coreCount()): string | null {
  if (threads <= cores) return null;
  return `${threads} threads on ${cores} core${cores === 1 ? '' : 's'}: threads share cores and wait for each other; the model is the same, but --threads ${cores} is faster here`;
}
