// In-process A/B: 1 thread, 2 threads by rows, 2 threads with first-layer slices, interleaved
// in short slices, each tagged with a ping-pong round trip between the cores.
import { spawnSync } from 'node:child_process';
const D = new URL('../../../dist/src', import.meta.url).pathname;
const { loadDataset } = await import(`${D}/data/dataset.js`);
const { networkLayout } = await import(`${D}/nn/layout.js`);
const { initParams } = await import(`${D}/nn/init.js`);
const { permutation, Rng } = await import(`${D}/nn/rng.js`);
const { planArena } = await import(`${D}/train/plan.js`);
const { StepPool } = await import(`${D}/train/pool.js`);
const { resolveKernels } = await import(`${D}/train/kernels.js`);
const { optimizerNamed } = await import(`${D}/nn/optim/index.js`);
const { defaultConfig } = await import(`${D}/train/config.js`);
const { MAX_STEPS } = await import(`${D}/train/control.js`);
const dataset = await loadDataset('fashion-mnist');
const net = networkLayout([784, 256, 128, 10], 'relu');
const kernels = await resolveKernels('auto');
const optimizer = optimizerNamed('sgd');
const settings = defaultConfig();
const B = 128, N = dataset.train.count, perEpoch = Math.floor(N / B);
const variants = [['1', 1, false], ['2rows', 2, false], ['2slices', 2, true]];
const pools = [];
for (const [name, T, slices] of variants) {
  const plan = planArena(net, B, T, { optimizer: 'sgd' });
  const p = slices ? plan : { ...plan, firstLayer: null };
  const pool = await StepPool.open({ threads: T, kernels, net, plan: p, dataset, optimizer });
  initParams(net, 1, pool.params);
  pool.setStepScalars((t, out, at) => optimizer.stepScalars(settings, settings.lr, t + 1, out, at));
  permutation(new Rng(1), pool.order, N);
  pools.push({ name, pool, s: 0 });
}
const stats = Array.from({ length: MAX_STEPS }, () => ({ loss: 0, correct: 0 }));
async function run(v, ms) {
  const end = performance.now() + ms; let steps = 0; const t0 = performance.now();
  do { const at = v.s % perEpoch; const c = Math.min(MAX_STEPS, perEpoch - at); await v.pool.trainSteps(at * B, B, c, stats, v.s); v.s += c; steps += c; } while (performance.now() < end);
  return (steps * B * 1000) / (performance.now() - t0);
}
for (const v of pools) await run(v, 500);
const rounds = Number(process.argv[2] ?? 20), ms = Number(process.argv[3] ?? 400);
const out = [];
for (let r = 0; r < rounds; r++) {
  const pp = () => Number(/round trip ([0-9.]+)/.exec(spawnSync('./pingpong', ['100000']).stdout.toString())[1]);
  const a = pp();
  const rates = [];
  for (const v of pools) rates.push(await run(v, ms));
  const b = pp();
  const mode = a < 60 && b < 60 ? 'near' : a >= 150 && b >= 150 ? 'far' : 'mixed';
  console.log(`${mode} pp ${a.toFixed(0)}/${b.toFixed(0)} ` + pools.map((v, i) => `${v.name} ${Math.round(rates[i])}`).join(' ') + ` rows/1 ${(rates[1] / rates[0]).toFixed(3)} slices/1 ${(rates[2] / rates[0]).toFixed(3)} slices/rows ${(rates[2] / rates[1]).toFixed(3)}`);
}
for (const v of pools) await v.pool.close();
