import { kernelScratchFloats } from './kernels/types.js';
import type { NetworkLayout } from './layout.js';
import { align, type BatchPlan, batchPlan } from './scratch.js';

// The arena is one shared block of float32 (a shared WebAssembly.Memory, so wasm kernels
// and JavaScript see the same bytes with no copy):
//
//   [reserved for wasm statics] [params P ×2] [each optimizer state buffer P ×2]
//   [the training batch: activations and deltas of every layer for batchRows rows]
//   [worker 0: evaluation rows, gradient block] … [worker T−1: …]

/** Bytes at the start left to the wasm module's own data and stack. */
export const RESERVED_BYTES = 65536;
const PAGE = 65536;
/** WebAssembly memories are 32-bit: at most 4 GiB, less the page whose end would not be addressable. */
export const MAX_ARENA_BYTES = 4 * 1024 * 1024 * 1024 - PAGE;
/**
 * Output neurons per weight-gradient block, at least and at most (blockOutputs): multiples of
 * the kernels' 8-output chunk, so a block's bytes never depend on its size.
 */
export const MIN_BLOCK_OUTPUTS = 8;
export const MAX_BLOCK_OUTPUTS = 32;
/**
 * The fewest first-layer outputs a thread's slice may hold for the first layer's forward to go
 * by output neurons (firstLayerSlices): each thread then packs every row of the batch's inputs,
 * which a slice of 64 outputs or more repays many times over. Measured on 2 threads only;
 * GRADPOOL_FIRST_LAYER_SLICE sets another (src/train/pool.ts), to measure more threads.
 */
export const MIN_FIRST_LAYER_SLICE = 64;

export interface WorkerScratch {
  /** evaluation chunks (no deltas) */
  readonly eval: BatchPlan;
  /** blockOutputs × widest input: one block's weight gradient */
  readonly gradWeights: number;
  /** blockOutputs: one block's bias gradient */
  readonly gradBias: number;
  /** kernelScratchFloats: this thread's kernel scratch during a training step */
  readonly pack: number;
}

/** Outputs [o0, o1) of the first layer, whose forward one thread computes for every row of a batch. */
export interface FirstLayerSlice {
  readonly o0: number;
  readonly o1: number;
}

export interface ArenaPlan {
  /** two copies: a step reads the current one and writes the other, so a failed step can be recomputed */
  readonly params: readonly [number, number];
  /** the optimizer's state buffers (SGD's velocity; Adam's two moments), two copies each */
  readonly state: readonly (readonly [number, number])[];
  readonly batch: BatchPlan;
  readonly workers: readonly WorkerScratch[];
  /** outputs per weight-gradient block for the plan's threads (blockOutputs): the blocks' and their buffers' size */
  readonly blockOutputs: number;
  /** each thread's slice of the first layer's outputs (firstLayerSlices), or null: by rows */
  readonly firstLayer: readonly FirstLayerSlice[] | null;
  /** bytes, a whole number of wasm pages */
  readonly bytes: number;
}

export function arenaPlan(
  net: NetworkLayout,
  batchRows: number,
  threads: number,
  evalRows: number,
  stateBuffers = 1,
  dropout = false,
): ArenaPlan {
  const stride = align(net.size);
  const base = RESERVED_BYTES / 4;
  const params: [number, number] = [base, base + stride];
  const state = Array.from({ length: stateBuffers }, (_, i): [number, number] => {
    const at = base + 2 * (i + 1) * stride;
    return [at, at + stride];
  });
  const batch = batchPlan(net, Math.max(1, batchRows), base + 2 * (stateBuffers + 1) * stride, true, dropout);
  let at = batch.base + batch.size;
  const maxInputs = Math.max(...net.layers.map((L) => L.inputs));
  const workers: WorkerScratch[] = [];
  const outputs = blockOutputs(net, threads);
  const firstLayer = firstLayerSlices(net, threads, outputs);
  for (let w = 0; w < threads; w++) {
    const evalPlan = batchPlan(net, evalRows, at, false);
    const gradWeights = align(evalPlan.base + evalPlan.size);
    const gradBias = align(gradWeights + outputs * maxInputs);
    const pack = gradBias + align(outputs);
    workers.push({ eval: evalPlan, gradWeights, gradBias, pack });
    at = pack + align(kernelScratchFloats(net.sizes, batchRows));
  }
  const bytes = Math.ceil((at * 4) / PAGE) * PAGE;
  if (bytes > MAX_ARENA_BYTES) throw new ArenaTooLarge(bytes);
  return { params, state, batch, workers, blockOutputs: outputs, firstLayer, bytes };
}

/**
 * Each thread's slice of the first layer's outputs, for a step whose first-layer forward goes by
 * output neurons: whole blocks of `outputs` (gradientBlocks), consecutive, as even as they come.
 * A thread then reads only the first layer's weights it updates itself (blockShares gives it
 * those blocks), where a forward by rows reads every weight that the other cores have just
 * rewritten: on 2 cores of a KVM guest, +8 % samples/s where its two cores are far apart and
 * +1–2 % where they share a cache (bench/results/2026-12-04-vm-zen2-first-layer). Null (the
 * forward by rows) on one thread, for a network of one layer (whose outputs are the logits),
 * and where a thread's whole blocks would hold fewer than `minSlice` outputs (a layer's last
 * block may be short, so its slice can hold fewer). Which thread computes an output never
 * changes its bits.
 */
export function firstLayerSlices(
  net: NetworkLayout,
  threads: number,
  outputs: number,
  minSlice = MIN_FIRST_LAYER_SLICE,
): FirstLayerSlice[] | null {
  const O = net.layers[0].outputs;
  const blocks = Math.ceil(O / outputs);
  if (threads < 2 || net.layers.length < 2 || Math.floor(blocks / threads) * outputs < minSlice) return null;
  const edge = (t: number) => Math.min(O, Math.floor((blocks * t) / threads) * outputs);
  return Array.from({ length: threads }, (_, t) => ({ o0: edge(t), o1: edge(t + 1) }));
}

/** One weight-gradient work unit: outputs [o0, o1) of layer `layer`. */
export interface GradientBlock {
  readonly layer: number;
  readonly o0: number;
  readonly o1: number;
}

/**
 * Outputs per block on `threads` threads: as many (up to MAX_BLOCK_OUTPUTS) as leave each thread
 * two blocks or more of the layer with the most multiply-adds. A block is one weight-gradient
 * call and one update: a bigger one reads each strip of its inputs once for more outputs and
 * costs fewer claims and calls; a smaller one balances more threads.
 */
export function blockOutputs(net: NetworkLayout, threads: number): number {
  const costly = net.layers.reduce((a, L) => (L.inputs * L.outputs > a.inputs * a.outputs ? L : a));
  const chunks = Math.ceil(costly.outputs / MIN_BLOCK_OUTPUTS);
  const per = Math.floor(chunks / (2 * Math.max(1, threads)));
  return MIN_BLOCK_OUTPUTS * Math.max(1, Math.min(MAX_BLOCK_OUTPUTS / MIN_BLOCK_OUTPUTS, per));
}

/**
 * The list of blocks of `outputs` outputs (a multiple of MIN_BLOCK_OUTPUTS) a step's update is
 * split into. Every block starts at a multiple of 8 of its layer, and each output's sums run in
 * the same order whatever block holds it, so the bytes never depend on the size (or on the
 * thread count that chose it).
 */
export function gradientBlocks(net: NetworkLayout, outputs: number): GradientBlock[] {
  if (outputs % MIN_BLOCK_OUTPUTS !== 0 || outputs <= 0) throw new RangeError(`blocks of ${outputs} outputs`);
  const blocks: GradientBlock[] = [];
  net.layers.forEach((L, layer) => {
    for (let o0 = 0; o0 < L.outputs; o0 += outputs) {
      blocks.push({ layer, o0, o1: Math.min(L.outputs, o0 + outputs) });
    }
  });
  // The widest inputs (the costliest blocks of a size) first, so dynamic claiming ends with
  // cheap ones and the threads finish together.
  return blocks.sort(
    (a, b) => net.layers[b.layer].inputs - net.layers[a.layer].inputs || a.layer - b.layer || a.o0 - b.o0,
  );
}

/**
 * Each thread's share of the blocks (indices into `blocks`, kept in their order), balanced by
 * multiply-adds with longest-first greedy assignment. A thread works through its own share
 * first and then helps with the others', so a slow thread delays no one; the point of a fixed
 * share is that a block's weights and optimizer state are updated by the same core step after step
 * and stay in its cache. With first-layer slices, a first-layer block goes to the thread whose
 * slice holds it (the one core that reads those weights), and the other blocks balance the
 * loads that leaves. Which thread computes a block never changes the block's bytes.
 */
export function blockShares(
  net: NetworkLayout,
  blocks: readonly GradientBlock[],
  threads: number,
  firstLayer: readonly FirstLayerSlice[] | null = null,
): Int32Array[] {
  const load = new Array<number>(threads).fill(0);
  const shares: number[][] = Array.from({ length: threads }, () => []);
  const cost = (b: GradientBlock) => (b.o1 - b.o0) * net.layers[b.layer].inputs;
  const sliceOf = (b: GradientBlock) =>
    b.layer === 0 && firstLayer ? firstLayer.findIndex((s) => b.o0 >= s.o0 && b.o0 < s.o1) : -1;
  // the slices' blocks first, wherever they sort, so that the others balance around them
  blocks.forEach((b, i) => {
    const t = sliceOf(b);
    if (t < 0) return;
    load[t] += cost(b);
    shares[t].push(i);
  });
  blocks.forEach((b, i) => {
    if (sliceOf(b) >= 0) return;
    let t = 0;
    for (let u = 1; u < threads; u++) if (load[u] < load[t]) t = u;
    load[t] += cost(b);
    shares[t].push(i);
  });
  return shares.map((s) => Int32Array.from(s.sort((a, b) => a - b)));
}

/** A network, batch and thread count whose working memory exceeds what WebAssembly can address. */
export class ArenaTooLarge extends RangeError {
  constructor(readonly bytes: number) {
    super(`needs ${(bytes / 2 ** 30).toFixed(1)} GiB of working memory; WebAssembly's limit is 4 GiB`);
  }
}

/** A shared memory big enough for the plan, usable by wasm kernels and as a SharedArrayBuffer. */
export function allocateArena(plan: ArenaPlan): WebAssembly.Memory {
  const pages = plan.bytes / PAGE;
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}
