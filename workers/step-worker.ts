// The thread side of the step protocol (see src/train/control.ts). piscina starts this as one
// long task per thread and session; it returns when the coordinator publishes CMD_STOP.
// Nothing here allocates per step: views and scratch are set up once.

import { blockShares, gradientBlocks } from '../src/nn/arena.js';
import { dropoutDraw } from '../src/nn/dropout.js';
import { loadKernels } from '../src/nn/kernels/load.js';
import { networkLayout } from '../src/nn/layout.js';
import {
  activateFirstLayer,
  forwardDeltasOfShards,
  forwardFirstLayerSlice,
  forwardLoss,
  gatherRows,
  weightGradients,
} from '../src/nn/mlp.js';
import { optimizerNamed } from '../src/nn/optim/index.js';
import { withScratch } from '../src/nn/scratch.js';
import {
  CMD_EVAL,
  CMD_STOP,
  CMD_TRAIN_STEPS,
  ControlBlock,
  copyForStep,
  EVAL_ROWS,
  type EvalCommand,
  F_INV_BATCH,
  GEN,
  PHASE,
  type SessionInit,
  SHARD_ROWS,
  shardGroup,
  stepAttempt,
  stepScalarsAt,
  stepSerial,
  T_COMPUTE,
  T_GRADIENTS,
  T_SLICED_STEPS,
  T_UPDATE,
  T_WAIT_END,
  T_WAIT_MID,
  TIMING_FIELDS,
  type TrainCommand,
} from '../src/train/control.js';
import { injectFault, shouldFault } from '../src/train/faults.js';
import { waitWhileEqual } from '../src/train/spin-wait.js';

export default async function runSession(init: SessionInit): Promise<number> {
  const control = new ControlBlock(init.control, init.threads);
  const { ints, floats } = control;
  const net = networkLayout(init.sizes, init.activation, init.loss);
  const m = new Float32Array(init.memory.buffer);
  const k = await loadKernels(init.kernels, init.memory);
  const { params } = init.plan;
  const optimizer = optimizerNamed(init.optimizer);
  const busy = new Int32Array(init.busy);
  const faults = init.faults;
  const own = init.plan.workers[init.workerIndex];
  // the batch's buffers are shared; the kernels' scratch is this thread's
  const batch = withScratch(init.plan.batch, own.pack);
  const blocks = gradientBlocks(net, init.plan.blockOutputs);
  const firstLayer = init.plan.firstLayer;
  const slice = firstLayer?.[init.workerIndex] ?? { o0: 0, o1: 0 };
  const warmFrom = firstLayer ? net.layers[0].bias : 0;
  const shares = blockShares(net, blocks, init.threads, firstLayer);
  const ownsFirstLayer = shares[init.workerIndex].some((b) => blocks[b].layer === 0);
  const stats = new Float64Array(init.stats);
  const perm = new Int32Array(init.permutation);
  // the step's masks are drawn from (seed, step, dataset row, unit): see src/nn/dropout.ts
  const dropout = init.dropout > 0 ? dropoutDraw(init.dropout, init.seed, perm) : undefined;
  const outputs = new Float32Array(init.outputs);
  const timing = new Float64Array(init.timings, init.workerIndex * TIMING_FIELDS * 8, TIMING_FIELDS);
  const result = new Float64Array(2);
  const T = init.threads;
  const features = net.sizes[0];
  /** the current command's arguments, read into these once per command */
  const train: TrainCommand = { first: 0, rows: 0, shards: 0, steps: 0, serial: 0, attempt: 0 };
  const evalArgs: EvalCommand = { split: 'test', first: 0, count: 0, chunks: 0, predictions: false };
  /** the closing barrier's callback, made once so that a step allocates no closure */
  const commitStep = () => control.commitStep();
  /** keeps warmLines' loads from being optimised away */
  const warmSink = new Float64Array(1);

  let seen = control.announceReady();

  // The worker that completes a command wakes the coordinator; it sleeps at once instead of
  // polling, so the coordinator gets its core to publish the next command while the others poll.
  let completedLast = false;
  for (;;) {
    waitWhileEqual(ints, GEN, seen, completedLast ? 0 : init.spin);
    seen = Atomics.load(ints, GEN);
    const cmd = control.command;
    if (cmd === CMD_STOP) return init.workerIndex;
    try {
      if (cmd === CMD_TRAIN_STEPS) trainSteps();
      else if (cmd === CMD_EVAL) evaluate();
    } catch (e) {
      reportError(e);
    }
    completedLast = control.finish();
  }

  /**
   * STEPS consecutive optimizer steps, with nothing from the coordinator between them: the last
   * thread to reach the end of a step commits it (STEP_DONE) and readies the next.
   */
  function trainSteps(): void {
    const { first, rows, shards, steps } = control.readTrain(train);
    const start = control.current;
    for (let i = 0; i < steps; i++) {
      // Read step i's copy of the parameters and write the other: until the step is
      // committed, a failed step has changed nothing it reads.
      const cur = copyForStep(start, i);
      trainStep(first + i * rows, rows, shards, cur, i, stepSerial(train, i), stepAttempt(train, i));
      const t0 = performance.now();
      // with first-layer slices, the others' first-layer weights are none of this thread's reads
      barrier(commitStep, params[1 - cur] + warmFrom, net.size - warmFrom);
      timing[T_WAIT_END] += performance.now() - t0;
      // Decided inside the barrier, so every thread reads the same answer: ERROR itself may
      // already be set by a thread that has gone on to the next step.
      if (control.committed !== i + 1) return;
    }
  }

  function trainStep(
    first: number,
    rows: number,
    shards: number,
    cur: number,
    /** the step's index in the command */
    stepInCommand: number,
    serial: number,
    attempt: number,
  ): void {
    const src = params[cur];
    const statsAt = stepInCommand * shards;
    if (dropout) {
      dropout.step = serial;
      dropout.first = first;
    }
    const t0 = performance.now();
    const waited = firstLayer ? firstLayerSlice(first, rows, shards, src, serial, attempt) : 0;
    // threads claim groups of consecutive shards: the fewer the threads, the larger a group and
    // the fewer the passes over W, while each thread still claims two or more (see shardGroup)
    const group = shardGroup(shards, T);
    const groups = Math.ceil(shards / group);
    try {
      // after a failure in the first layer's slices there is nothing to go on from
      const start = firstLayer && control.failed ? groups : control.claimShard();
      for (let g = start; g < groups; g = control.claimShard()) {
        const s0 = g * group;
        const s1 = Math.min(shards, s0 + group);
        // with slices the shards' faults struck in phase 0, where their rows were gathered
        markBusy(s0, firstLayer ? s0 : s1, serial, attempt);
        const r0 = s0 * SHARD_ROWS;
        const B = Math.min((s1 - s0) * SHARD_ROWS, rows - r0);
        if (firstLayer) activateFirstLayer(k, net, batch, r0, B);
        else gatherRows(k, m, batch, r0, init.trainInputs, init.trainTargets, features, perm, first + r0, B);
        const from = firstLayer ? 1 : 0;
        forwardDeltasOfShards(
          k,
          m,
          net,
          src,
          batch,
          r0,
          B,
          SHARD_ROWS,
          stats,
          statsAt + s0,
          result,
          dropout,
          from,
        );
      }
    } catch (e) {
      reportError(e, busyShard()); // still meet the others at the barrier, or they would wait forever
    }
    busy[init.workerIndex] = 0;
    const t1 = performance.now();
    // the batch's inputs, gathered by every thread, are what this thread's first-layer blocks
    // read (with slices, phase 0 has read them already)
    barrier(undefined, ownsFirstLayer && !firstLayer ? batch.acts[0] : -1, rows * features);
    const t2 = performance.now();
    timing[T_COMPUTE] += t1 - t0 - waited;
    timing[T_WAIT_MID] += t2 - t1 + waited;
    // A failed shard means no update at all: the step can be recomputed from the same parameters.
    if (control.failed) return;
    let gradients = 0;
    const scalarsAt = stepScalarsAt(stepInCommand);
    const invBatch = floats[F_INV_BATCH];
    try {
      // own share first, then the others' in turn: each share's counter hands out its blocks once
      for (let i = 0; i < T; i++) {
        const owner = (init.workerIndex + i) % T;
        const share = shares[owner];
        for (let j = control.claimBlock(owner); j < share.length; j = control.claimBlock(owner)) {
          const { layer, o0, o1 } = blocks[share[j]];
          const L = net.layers[layer];
          const g0 = performance.now();
          weightGradients(k, net, batch, layer, o0, o1, rows, own.gradWeights, own.gradBias, batch.pack);
          gradients += performance.now() - g0;
          const plan = init.plan;
          const weights = L.weight + o0 * L.inputs;
          optimizer.update(
            k,
            plan,
            cur,
            weights,
            own.gradWeights,
            (o1 - o0) * L.inputs,
            floats,
            scalarsAt,
            invBatch,
          );
          optimizer.update(k, plan, cur, L.bias + o0, own.gradBias, o1 - o0, floats, scalarsAt, invBatch);
        }
      }
    } catch (e) {
      reportError(e); // the step is not committed; still meet the others at the step's end
    }
    timing[T_GRADIENTS] += gradients;
    timing[T_UPDATE] += performance.now() - t2 - gradients;
  }

  /**
   * The first layer's forward by output neurons (plan.firstLayer): this thread gathers its share
   * of the batch's rows, and once every thread has, computes its slice of the first layer's
   * outputs for all the rows, reading only the weights it updates itself. Meets the others at
   * two barriers whatever fails, so that no one waits forever. Returns the ms it waited there.
   */
  function firstLayerSlice(
    first: number,
    rows: number,
    shards: number,
    src: number,
    serial: number,
    attempt: number,
  ): number {
    const s0 = Math.floor((shards * init.workerIndex) / T);
    const s1 = Math.floor((shards * (init.workerIndex + 1)) / T);
    const r0 = s0 * SHARD_ROWS;
    const B = Math.min(s1 * SHARD_ROWS, rows) - r0;
    try {
      markBusy(s0, s1, serial, attempt);
      if (B > 0)
        gatherRows(k, m, batch, r0, init.trainInputs, init.trainTargets, features, perm, first + r0, B);
    } catch (e) {
      reportError(e, busyShard());
    }
    busy[init.workerIndex] = 0;
    timing[T_SLICED_STEPS]++;
    const t0 = performance.now();
    // every row of the inputs is what this thread's slice reads next
    barrier(undefined, batch.acts[0], rows * features);
    const t1 = performance.now();
    try {
      if (!control.failed) forwardFirstLayerSlice(k, net, src, batch, slice.o0, slice.o1, rows);
    } catch (e) {
      reportError(e);
    }
    const t2 = performance.now();
    barrier();
    return t1 - t0 + performance.now() - t2;
  }

  /**
   * Marks shards [s0, s1) busy one by one, striking a fault drawn for any of them
   * (GRADPOOL_INJECT_FAULTS) while it is marked, as one shard at a time would; then leaves s0
   * marked, so that an error of their kernels names their first shard (busyShard).
   */
  function markBusy(s0: number, s1: number, serial: number, attempt: number): void {
    for (let s = s0; s < s1 && faults; s++) {
      busy[init.workerIndex] = s + 1;
      if (shouldFault(faults, serial, s, attempt)) injectFault(faults.kind, s);
    }
    busy[init.workerIndex] = s0 + 1;
  }

  /** The shard this thread has marked busy, or −1. */
  function busyShard(): number {
    return busy[init.workerIndex] - 1;
  }

  function evaluate(): void {
    const { split, first, count, chunks } = control.readEval(evalArgs);
    const test = split === 'test';
    const inputs = test ? init.testInputs : init.trainInputs;
    const targets = test ? init.testTargets : init.trainTargets;
    const rows = test ? null : init.validationRows;
    const out = evalArgs.predictions ? outputs : undefined;
    for (let c = control.claimShard(); c < chunks; c = control.claimShard()) {
      const B = Math.min(EVAL_ROWS, count - c * EVAL_ROWS);
      const at = first + c * EVAL_ROWS;
      gatherRows(k, m, own.eval, 0, inputs, targets, features, rows, at, B);
      forwardLoss(k, m, net, params[control.current], own.eval, 0, B, result, out, at);
      stats[2 * c] = result[0];
      stats[2 * c + 1] = result[1];
    }
  }

  /**
   * Waits for all T threads; the last to arrive runs `last` before releasing the others. While
   * waiting with a core of its own, a thread reads through the `count` floats at `warm` (one
   * load per cache line) that it reads next, so they are in its cache when it needs them
   * instead of in the caches of the cores that wrote them: the new parameters before the next
   * step's forward, the batch's inputs before the first layer's weight gradients.
   */
  function barrier(last?: () => void, warm = -1, count = 0): void {
    const phase = control.arrive();
    if (phase === null) {
      last?.();
      control.release();
    } else {
      if (warm >= 0 && init.spin > 0) warmLines(warm, count, phase);
      waitWhileEqual(ints, PHASE, phase, init.spin);
    }
  }

  /** Touches each 64-byte line of floats [at, at + count) until PHASE moves on. */
  function warmLines(at: number, count: number, phase: number): void {
    let sum = 0;
    const end = at + count;
    for (let i = at; i < end; i += 1024) {
      if (Atomics.load(ints, PHASE) !== phase) break;
      const stop = Math.min(end, i + 1024);
      for (let j = i; j < stop; j += 16) sum += m[j];
    }
    warmSink[0] = sum;
  }

  function reportError(e: unknown, shard = -1): void {
    control.writeError(init.workerIndex, shard, e);
  }
}
