import type { NetworkLayout } from './layout.js';
import { align, type ScratchPlan, scratchPlan } from './scratch.js';

// The arena is one shared block of float32 (a shared WebAssembly.Memory, so wasm kernels
// and JavaScript see the same bytes with no copy):
//
//   [reserved for wasm statics] [params P] [velocity P] [slot 0 … slot K−1, each P]
//   [scratch of worker 0] … [scratch of worker T−1]

/** Bytes at the start left to the wasm module's own data and stack. */
export const RESERVED_BYTES = 65536;
const PAGE = 65536;

export interface ArenaPlan {
  readonly params: number;
  readonly velocity: number;
  readonly slots: number;
  /** floats between consecutive slots (P rounded up to the alignment) */
  readonly slotStride: number;
  readonly nSlots: number;
  readonly scratch: readonly ScratchPlan[];
  /** bytes, a whole number of wasm pages */
  readonly bytes: number;
}

export function arenaPlan(
  net: NetworkLayout,
  nSlots: number,
  threads: number,
  scratchRows: number,
): ArenaPlan {
  const stride = align(net.size);
  const params = RESERVED_BYTES / 4;
  const velocity = params + stride;
  const slots = velocity + stride;
  let at = slots + nSlots * stride;
  const scratch: ScratchPlan[] = [];
  for (let w = 0; w < threads; w++) {
    const plan = scratchPlan(net, scratchRows, at);
    scratch.push(plan);
    at = plan.input + plan.size;
  }
  const bytes = Math.ceil((at * 4) / PAGE) * PAGE;
  if (bytes > 4 * 1024 * 1024 * 1024 - PAGE) {
    throw new RangeError(
      `the model needs ${(bytes / 2 ** 30).toFixed(1)} GiB of working memory; the limit is 4 GiB`,
    );
  }
  return { params, velocity, slots, slotStride: stride, nSlots, scratch, bytes };
}

/** A shared memory big enough for the plan, usable by wasm kernels and as a SharedArrayBuffer. */
export function allocateArena(plan: ArenaPlan): WebAssembly.Memory {
  const pages = plan.bytes / PAGE;
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}
