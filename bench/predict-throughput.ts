// Prediction throughput, gradpool's warm Predictor against onnxruntime-node on the same model
// (784-256-128-10 relu, seeded weights, exported by `gradpool export`'s encoder) and the same
// 10,000 MNIST test rows, threads matched: rows/s, the median of alternating rounds.
// Each round runs each engine in a process of its own (two untimed runs, then the median of
// five timed ones), so neither meets the other's idle threads: onnxruntime's intra-op pool
// spins between runs by default, and in one process those spinning threads took a core from
// gradpool's workers (0.73–0.89× at 2 threads measured that way, 1.45× with the spinning off).
// onnxruntime runs with its defaults; --ort-no-spin turns its spinning off
// (session.intra_op.allow_spinning 0).
// Usage: node dist/bench/predict-throughput.js [threads…] [--rounds N] [--ort-no-spin]

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadDataset } from '../src/data/dataset.js';
import { encodeOnnx } from '../src/io/onnx-export.js';
import { initParams } from '../src/nn/init.js';
import { networkLayout } from '../src/nn/layout.js';
import { Predictor } from '../src/train/predictor.js';

const ENGINES = ['gradpool', 'onnxruntime'] as const;
type Engine = (typeof ENGINES)[number];
const N = 10_000;
const WARM_RUNS = 2;
const TIMED_RUNS = 5;

const { values, positionals } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'ort-no-spin': { type: 'boolean', default: false },
    engine: { type: 'string' },
  },
  allowPositionals: true,
});
const threadList = positionals.length ? positionals.map(Number) : [1, 2];
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--rounds ${values.rounds}: expected a whole number ≥ 1`);
if (!threadList.every((t) => Number.isInteger(t) && t >= 1))
  throw new Error(`threads ${positionals}: whole numbers ≥ 1`);
/** a child that has not answered in this long has hung */
const CHILD_TIMEOUT_MS = 300_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (values.engine) {
  if (!(ENGINES as readonly string[]).includes(values.engine)) throw new Error(`--engine ${values.engine}?`);
  const rowsPerSec = await measure(values.engine as Engine, threadList[0]);
  console.log(JSON.stringify({ rowsPerSec }));
} else {
  console.log(`| threads | gradpool rows/s | onnxruntime-node rows/s | ratio |`);
  console.log(`|---:|---:|---:|---:|`);
  for (const threads of threadList) {
    const got: Record<Engine, number[]> = { gradpool: [], onnxruntime: [] };
    for (let r = 0; r < rounds; r++) {
      // alternate which engine goes first, so neither always follows the other
      const order = r % 2 ? [...ENGINES].reverse() : ENGINES;
      for (const engine of order) got[engine].push(inChild(engine, threads));
    }
    const [gm, om] = [median(got.gradpool), median(got.onnxruntime)];
    console.log(
      `| ${threads} | ${Math.round(gm).toLocaleString('en-US')} | ${Math.round(om).toLocaleString('en-US')} | ${(gm / om).toFixed(2)} |`,
    );
  }
}

function inChild(engine: Engine, threads: number): number {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), String(threads), '--engine', engine];
  if (values['ort-no-spin']) args.push('--ort-no-spin');
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
  const what = `${engine} at ${threads} threads`;
  if (child.error) throw new Error(`${what}: ${child.error.message}`);
  if (child.status !== 0)
    throw new Error(`${what} failed (${child.signal ?? `exit ${child.status}`}): ${child.stderr}`);
  const last = child.stdout.trim().split('\n').at(-1) ?? '';
  const rate = last.startsWith('{') ? Number(JSON.parse(last).rowsPerSec) : Number.NaN;
  if (!(rate > 0)) throw new Error(`${what} printed no rate: ${JSON.stringify(last)}`);
  return rate;
}

/** rows/s of one engine in this process: the median of TIMED_RUNS after WARM_RUNS */
async function measure(engine: Engine, threads: number): Promise<number> {
  const net = networkLayout([784, 256, 128, 10], 'relu');
  const params = new Float32Array(net.size);
  initParams(net, 1, params);
  const model = { layout: net, params };
  const data = await loadDataset('mnist');
  // 10,000 rows: the test split's 2,000 five times
  const pixels = new Uint8Array(N * 784);
  for (let i = 0; i < N; i++)
    pixels.set(data.test.inputs.subarray((i % 2000) * 784, ((i % 2000) + 1) * 784), i * 784);
  let run: () => Promise<unknown>;
  let close: () => Promise<void>;
  if (engine === 'gradpool') {
    const predictor = await Predictor.open(model, { threads, capacity: N });
    run = () => predictor.run(pixels, N);
    close = () => predictor.close();
  } else {
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(encodeOnnx(model, 'bench'), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      ...(values['ort-no-spin'] ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    });
    const input = new ort.Tensor('float32', Float32Array.from(pixels), [N, 784]);
    run = () => session.run({ input });
    close = () => session.release();
  }
  const rates: number[] = [];
  for (let i = 0; i < WARM_RUNS + TIMED_RUNS; i++) {
    const t = performance.now();
    await run();
    if (i >= WARM_RUNS) rates.push(N / ((performance.now() - t) / 1000));
  }
  await close();
  return median(rates);
}
