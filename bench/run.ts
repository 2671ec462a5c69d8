// The benchmark suite: kernel GFLOP/s per variant and shape (tinybench), thread scaling of
// whole training steps with a step-time breakdown, and peers measured in the same run
// (TensorFlow.js wasm; numpy + OpenBLAS where python3 has numpy, on Fashion-MNIST; PyTorch with
// --pytorch). Writes <date>-<host>.json, .md and .svg under bench/results/ (or --out DIR). Run one at a time: a second benchmark beside it
// halves it. Usage: npm run bench -- [--threads 1,2] [--seconds 3] [--data fashion-mnist]
//   [--out DIR] [--no-peer] [--no-numpy] [--pytorch] [--rounds N] [--kernel-time MS]

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { FASHION_MNIST_DIR, loadDataset } from '../src/data/dataset.js';
import { flagNaming, GradpoolError } from '../src/errors.js';
import { machineInfo } from '../src/machine.js';
import { jsKernels } from '../src/nn/kernels/js.js';
import { loadNativeAddon, type NativeVariant, nativeKernels } from '../src/nn/kernels/native.js';
import type { Kernels } from '../src/nn/kernels/types.js';
import { instantiateWasmKernels } from '../src/nn/kernels/wasm.js';
import { compileWasmVariant } from '../src/nn/kernels/wasm-module.js';
import {
  defaultThreadCounts,
  measureScaling,
  type ScalingResult,
  scalingTable,
} from '../src/train/benchmark.js';
import { resolveConfig } from '../src/train/config.js';
import { SHARD_ROWS } from '../src/train/control.js';
import {
  KERNEL_SHAPES,
  type KernelSpeedRow,
  kernelArena,
  kernelSpeedTable,
} from '../src/train/kernel-speed.js';
import { kernelsDescription } from '../src/train/kernels.js';
import { checkNumber, checkWholeNumber } from '../src/train/numbers.js';
import { type CeilingRow, parallelCeiling } from './parallel-ceiling.js';
import { scalingSvg } from './svg.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const PEERS = join(ROOT, 'bench/peers');
/** the Python with torch: $PYTHON, else python3 on PATH (Debian's python3-torch is in /usr/bin/python3) */
const PYTHON = process.env.PYTHON || 'python3';

/** The suite's flags, checked as `gradpool bench` checks its own; a bad one is one line and exit 2. */
function readFlags() {
  try {
    const { values } = parseArgs({
      options: {
        threads: { type: 'string' },
        seconds: { type: 'string', default: '3' },
        data: { type: 'string' },
        out: { type: 'string', default: join(ROOT, 'bench/results') },
        'no-peer': { type: 'boolean', default: false },
        'no-numpy': { type: 'boolean', default: false },
        pytorch: { type: 'boolean', default: false },
        'kernel-time': { type: 'string', default: '400' },
        rounds: { type: 'string', default: '1' },
      },
    });
    return {
      values,
      seconds: checkNumber('seconds', values.seconds, { min: 0, above: true, max: 600 }, false),
      /** rounds of the kernels and passes over the thread counts (ours and PyTorch's); each figure keeps its fastest */
      rounds: checkWholeNumber('rounds', values.rounds, 1, 20),
      kernelMs: checkWholeNumber('kernelTime', values['kernel-time'], 1, 60_000),
      threads: values.threads
        ? values.threads.split(',').map((t) => resolveConfig({ threads: t }).threads)
        : defaultThreadCounts(),
    };
  } catch (e) {
    const text = e instanceof GradpoolError ? e.describe(flagNaming) : (e as Error).message;
    console.error(`bench: ${text}`);
    process.exit(2);
  }
}
const { values, seconds, rounds, kernelMs, threads } = readFlags();
const dataSpec =
  values.data ??
  (existsSync(process.env.FASHION_MNIST || '/usr/share/datasets/fashion-mnist') ? 'fashion-mnist' : 'mnist');
const machine = machineInfo();
console.error(
  `gradpool bench: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; data ${dataSpec}`,
);

// 1. Kernels: each variant on the shapes a step of the reference recipe runs.
const memory = kernelArena();
const variants: [string, Kernels][] = [['js', jsKernels(new Float32Array(memory.buffer))]];
/** the fastest wasm build here and its register-only twin, for the parallel ceiling */
let fastest: { variant: string; module: WebAssembly.Module; peak: URL } | null = null;
for (const v of ['simd', 'relaxed'] as const) {
  const { module: mod } = await compileWasmVariant(v);
  if (mod) {
    const variant = v === 'simd' ? 'wasm-simd' : 'wasm-relaxed-simd';
    variants.push([variant, await instantiateWasmKernels(memory, mod)]);
    fastest = {
      variant,
      module: mod,
      peak: new URL(v === 'simd' ? '../peak.wasm' : '../peak-relaxed.wasm', import.meta.url),
    };
  }
}
// The native kernels of each instruction set and arithmetic this CPU runs, beside the wasm
// builds of the same arithmetic (same bits; the columns say which computes it).
const nativeLoad = loadNativeAddon();
if (!nativeLoad.addon) console.error(`  native kernels unavailable: ${nativeLoad.reason}`);
const nativePeaks: [string, NativeVariant][] = [];
if (nativeLoad.addon) {
  for (const isa of nativeLoad.isas) {
    for (const fused of nativeLoad.addon.cpu().fma ? [false, true] : [false]) {
      const variant = `${fused ? 'wasm-relaxed-simd' : 'wasm-simd'} / native ${isa}`;
      variants.push([variant, nativeKernels(memory, { isa, fused })]);
      nativePeaks.push([variant, { isa, fused }]);
    }
  }
}
// Kernels and the ceiling, `rounds` times in turn, each keeping its fastest round: on a shared
// machine whose speed drifts for seconds at a time, the best round is the one a neighbour
// disturbed least, and kernel and ceiling get the same chances.
const kernelRows: KernelSpeedRow[] = [];
const peakGflops: Record<string, number> = {};
const peakFns = new Map<string, (n: number, seed: number) => number>();
for (const [variant] of variants) {
  if (variant === 'js') continue;
  const file = new URL(variant === 'wasm-simd' ? '../peak.wasm' : '../peak-relaxed.wasm', import.meta.url);
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(readFileSync(file)), {
    env: { abort() {} },
  });
  peakFns.set(variant, instance.exports.peakMadd as (n: number, seed: number) => number);
}
for (let round = 0; round < rounds; round++) {
  for (const { kernel, shape, flops, run } of KERNEL_SHAPES) {
    const bench = new Bench({ time: kernelMs, warmupTime: 100, iterations: 10 });
    for (const [variant, k] of variants) bench.add(variant, () => run(k));
    await bench.run();
    for (const task of bench.tasks) {
      const meanMs = task.result && 'latency' in task.result ? task.result.latency.mean : Number.NaN;
      const row = {
        kernel,
        variant: task.name,
        shape,
        gflops: flops / (meanMs * 1e6),
        meanUs: meanMs * 1000,
      };
      const i = kernelRows.findIndex(
        (r) => r.kernel === kernel && r.shape === shape && r.variant === task.name,
      );
      if (i < 0) kernelRows.push(row);
      else if (!(kernelRows[i].gflops >= row.gflops)) kernelRows[i] = row;
      console.error(`  ${kernel} ${shape} ${task.name}: ${row.gflops.toFixed(1)} GFLOP/s`);
    }
  }
  // The core's ceiling for each wasm variant: multiply-adds on registers only
  // (assembly/peak.ts), so the kernels above read as a fraction of what the core can do.
  for (const [variant, peakMadd] of peakFns) {
    peakMadd(10_000, 0.5);
    const iterations = 2_000_000;
    let best = peakGflops[variant] ?? 0;
    for (let t = 0; t < 10; t++) {
      const t0 = performance.now();
      peakMadd(iterations, 0.5);
      best = Math.max(best, (iterations * 96) / ((performance.now() - t0) * 1e6));
    }
    peakGflops[variant] = best;
    console.error(`  multiply-add on registers ${variant}: ${best.toFixed(1)} GFLOP/s`);
  }
  // the native twin (native/src/peak.c): independent multiply-add chains on registers only
  for (const [variant, { isa, fused }] of nativePeaks) {
    const addon = nativeLoad.addon;
    if (!addon) break;
    addon.peak(isa, fused, 100_000);
    let best = peakGflops[variant] ?? 0;
    for (let t = 0; t < 10; t++) {
      const t0 = performance.now();
      const flops = addon.peak(isa, fused, 5_000_000);
      best = Math.max(best, flops / ((performance.now() - t0) * 1e6));
    }
    peakGflops[variant] = best;
    console.error(`  multiply-add on registers ${variant}: ${best.toFixed(1)} GFLOP/s`);
  }
}

// What T threads get at once when they share nothing: the bound on any step's efficiency here;
// and the forward kernel again on parameters that the threads rewrite between rounds.
let ceiling: CeilingRow[] = [];
/** what the ceiling's forward runs: the native kernels where they loaded, as training does */
let ceilingKernels = fastest?.variant ?? '';
if (fastest) {
  // the native peak too: whether T threads get T times one core's FMA throughput (two vCPUs of
  // one physical core would not)
  const nativeFastest =
    nativePeaks.find(([, v]) => v.fused && nativeLoad.addon && v.isa === nativeLoad.isas[0])?.[1] ??
    nativePeaks[0]?.[1] ??
    null;
  if (nativeFastest)
    ceilingKernels = kernelsDescription({
      label: nativeFastest.fused ? 'wasm-relaxed-simd' : 'wasm-simd',
      implementation: `native ${nativeFastest.isa}`,
    });
  ceiling = await parallelCeiling(threads, fastest.module, fastest.peak, nativeFastest);
  for (const r of ceiling)
    console.error(
      `  ${r.threads} thread${r.threads === 1 ? '' : 's'} at once, per thread: madd ${r.maddPerThread.toFixed(1)}${r.nativeMaddPerThread === null ? '' : ` (native ${r.nativeMaddPerThread.toFixed(1)})`}, forward ${r.forwardPerThread.toFixed(1)}, on rewritten parameters ${r.sharedForwardPerThread.toFixed(1)}, split by neurons ${r.columnsForwardPerThread.toFixed(1)} GFLOP/s`,
    );
}

// 2. Thread scaling of whole steps on real data.
const dataset = await loadDataset(dataSpec);
const scaling: ScalingResult = await measureScaling({
  dataset,
  threads,
  seconds,
  rounds,
  onRow: (r) =>
    console.error(
      `  ${r.threads} thread${r.threads === 1 ? '' : 's'}: ${Math.round(r.samplesPerSec).toLocaleString('en-US')} samples/s`,
    ),
});
const peakRssMB = process.resourceUsage().maxRSS / 1024;

// 3. Peers, one at a time after ours.
interface PeerRow {
  peer: string;
  backend?: string;
  threads: number;
  samplesPerSec: number;
  version?: string;
}
const peers: PeerRow[] = [];
if (!values['no-peer']) {
  if (!existsSync(join(PEERS, 'node_modules/@tensorflow/tfjs-backend-wasm'))) {
    console.error('  installing the TensorFlow.js peer into bench/peers (once)…');
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', PEERS], { stdio: 'inherit' });
  }
  const r = spawnSync(process.execPath, [join(PEERS, 'tfjs-recipe.mjs'), 'wasm', String(seconds), dataSpec], {
    encoding: 'utf8',
  });
  if (r.status === 0) peers.push({ ...JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}'), threads: 1 });
  else console.error(`  TensorFlow.js peer failed: ${r.stderr.split('\n')[0]}`);
}
// numpy + OpenBLAS, one process per thread count (OpenBLAS reads its count at import), where
// python3 has numpy; each thread count keeps its fastest of the rounds
const hasNumpy = spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
// the numpy recipe reads Fashion-MNIST's .gz IDX files: `fashion-mnist`, or an idx: folder of them
const fashionDir =
  dataSpec === 'fashion-mnist'
    ? process.env.FASHION_MNIST || FASHION_MNIST_DIR
    : dataSpec.startsWith('idx:') && existsSync(join(dataSpec.slice(4), 'train-images-idx3-ubyte.gz'))
      ? dataSpec.slice(4)
      : null;
if (!values['no-numpy'] && hasNumpy && fashionDir) {
  for (const n of threads) {
    let best: PeerRow | null = null;
    for (let round = 0; round < rounds; round++) {
      const r = spawnSync(PYTHON, [join(PEERS, 'numpy_recipe.py'), String(seconds), String(n)], {
        encoding: 'utf8',
        env: { ...process.env, FASHION_MNIST: fashionDir },
      });
      if (r.status !== 0) {
        console.error(`  numpy peer failed: ${r.stderr.trim().split('\n').pop()}`);
        break;
      }
      const row = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as PeerRow;
      if (!best || best.samplesPerSec < row.samplesPerSec) best = row;
    }
    if (best) {
      peers.push(best);
      console.error(
        `  numpy (${best.backend}), ${n} thread${n === 1 ? '' : 's'}: ${Math.round(best.samplesPerSec).toLocaleString('en-US')} samples/s`,
      );
    }
  }
}
if (values.pytorch) {
  const fastest = new Map<number, PeerRow>();
  for (let round = 0; round < rounds; round++) {
    const r = spawnSync(PYTHON, [join(PEERS, 'pytorch_recipe.py'), String(seconds), threads.join(',')], {
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      console.error(`  PyTorch peer failed: ${r.stderr.trim().split('\n').pop()}`);
      break;
    }
    for (const line of r.stdout.trim().split('\n')) {
      const row = JSON.parse(line) as PeerRow;
      if ((fastest.get(row.threads)?.samplesPerSec ?? 0) < row.samplesPerSec) fastest.set(row.threads, row);
    }
  }
  peers.push(...fastest.values());
}
const one = scaling.rows.find((r) => r.threads === 1)?.samplesPerSec;
const best = Math.max(...scaling.rows.map((r) => r.samplesPerSec));
const ratios = peers.map((p) => ({
  peer: `${p.peer}${p.backend ? ` (${p.backend})` : ''}, ${p.threads} thread${p.threads > 1 ? 's' : ''}`,
  samplesPerSec: p.samplesPerSec,
  gradpoolSameThreads: scaling.rows.find((r) => r.threads === p.threads)?.samplesPerSec ?? null,
  ratio: (scaling.rows.find((r) => r.threads === p.threads)?.samplesPerSec ?? Number.NaN) / p.samplesPerSec,
}));

// 4. Results.
const date = new Date().toISOString().slice(0, 10);
const name = `${date}-${hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}`;
mkdirSync(values.out, { recursive: true });
const result = {
  date: new Date().toISOString(),
  machine,
  data: dataSpec,
  recipe: {
    layers: scaling.layers,
    activation: 'relu',
    batchSize: scaling.batchSize,
    lr: 0.05,
    momentum: 0.9,
  },
  kernels: kernelRows,
  peakGflops,
  parallelCeiling: ceiling.length ? { variant: ceilingKernels, rows: ceiling } : null,
  scaling: scaling.rows.map((r) => ({ ...r, kernels: scaling.kernels })),
  peers,
  ratios,
  peakRssMB,
  rounds,
  summary: { oneThread: one, best },
};
writeFileSync(join(values.out, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(values.out, `${name}.svg`), scalingSvg(scaling, peers));
const md = [
  `# gradpool bench, ${date}`,
  '',
  `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; data: ${dataSpec}; peak RSS ${peakRssMB.toFixed(0)} MB`,
  '',
  '## Kernels (one thread, GFLOP/s)',
  '',
  kernelSpeedTable(kernelRows),
  `| multiply-add on registers only (the core's ceiling) | — | ${variants.map(([v]) => peakGflops[v]?.toFixed(1) ?? '—').join(' | ')} |`,
  '',
  `Each figure: tinybench's mean over ${kernelMs} ms${rounds > 1 ? `, the fastest of ${rounds} rounds` : ''}. GFLOP/s count the dense product's`,
  "operations; where dZ is mostly zero the kernels skip the zeros' share of them.",
  '',
  '## Thread scaling (reference recipe; breakdown as % of the step)',
  '',
  scalingTable(scaling),
  ...(rounds > 1
    ? [
        '',
        `Each thread count (and PyTorch's, where measured): the fastest of ${rounds} passes over the list.`,
      ]
    : []),
  '',
  '"not computing" is everything but forward, deltas and weight gradients: synchronisation, the',
  'update and the coordinator (no reduce: each parameter has one owner per step). "wait" splits',
  "into the barriers before phase 2 (phase 0's two where the first layer goes by output neurons, and phase 1's imbalance) and the one ending the step (phase 2's).",
  '',
  ...(ceiling.length
    ? [
        `## What the machine gives T threads at once (${ceilingKernels}: private memory per thread, then shared parameters)`,
        '',
        'Each thread runs one kernel on memory of its own for the same 0.5 s, the better of two rounds. Per-thread speed that falls',
        "with T is the hardware's (shared cores, clocks, neighbours) and bounds the efficiency above.",
        'The next two columns run the forward kernel on one W that all T threads share: between rounds each thread updates',
        'its band of W in place (as phase 2 does), then runs 32/T shards (as phase 1 does). Their ratio to the private',
        "forward is what fetching parameters from the cores that updated them costs: part of the scaling table's compute cost.",
        'The last column does the same work split by output neurons instead: each thread computes its own band of W for all',
        '128 rows of a batch whose rows every thread rewrote, so the inputs travel between cores and the parameters stay put.',
        '',
        `| threads | wasm multiply-add on registers, GFLOP/s per thread | native multiply-add on registers, per thread | forward ${SHARD_ROWS}×784×256 (one shard), GFLOP/s per thread | forward, per-thread efficiency | forward on rewritten parameters, GFLOP/s per thread | rewritten ÷ private | split by neurons, GFLOP/s per thread |`,
        '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...ceiling.map(
          (r) =>
            `| ${r.threads} | ${r.maddPerThread.toFixed(1)} | ${r.nativeMaddPerThread?.toFixed(1) ?? '—'} | ${r.forwardPerThread.toFixed(1)} | ${(100 * r.forwardEfficiency).toFixed(0)} % | ${r.sharedForwardPerThread.toFixed(1)} | ${(100 * (r.sharedForwardPerThread / r.forwardPerThread)).toFixed(0)} % | ${r.columnsForwardPerThread.toFixed(1)} |`,
        ),
      ]
    : []),
  '',
  '## Peers (same run, same recipe)',
  '',
  '| peer | samples/s | gradpool, same threads | gradpool ÷ peer |',
  '| --- | ---: | ---: | ---: |',
  ...ratios.map(
    (r) =>
      `| ${r.peer} | ${Math.round(r.samplesPerSec).toLocaleString('en-US')} | ${r.gradpoolSameThreads ? Math.round(r.gradpoolSameThreads).toLocaleString('en-US') : '—'} | ${r.ratio.toFixed(1)}× |`,
  ),
  '',
  `![scaling](${name}.svg)`,
  '',
].join('\n');
writeFileSync(join(values.out, `${name}.md`), md);
console.log(md);
console.error(`wrote ${join(values.out, name)}.{json,md,svg}`);
