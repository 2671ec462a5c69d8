// In-process A/B on identical work: each round, each pool trains steps [0, S) from the same
// initial weights (one epoch-sized segment), timed; round 0 is warm-up. Variants [label, threads, slices].
import { spawnSync } from 'node:child_process';
// the two builds to compare: each a checkout's dist/src, built (npm run build, npm run build:native)
const TREES = { old: '/tmp/oldtree/dist/src', new: '/work/main/dist/src' };
const MODS = {};
for (const [name, D] of Object.entries(TREES)) MODS[name] = { ...(await import(`${D}/data/dataset.js`)), ...(await import(`${D}/nn/layout.js`)), ...(await import(`${D}/nn/init.js`)), ...(await import(`${D}/nn/rng.js`)), ...(await import(`${D}/train/plan.js`)), ...(await import(`${D}/train/pool.js`)), ...(await import(`${D}/train/kernels.js`)), ...(await import(`${D}/nn/optim/index.js`)), ...(await import(`${D}/train/config.js`)) };
const M = MODS.new;
const [rounds, S] = [Number(process.argv[2] ?? 10), Number(process.argv[3] ?? 469)];
const variants = JSON.parse(process.argv[4] ?? '[["1","new",1],["2old","old",2],["2new","new",2]]');
const dataset = await M.loadDataset('fashion-mnist');
const net = M.networkLayout([784, 256, 128, 10], 'relu');
const optimizer = M.optimizerNamed('sgd'); const settings = M.defaultConfig();
const B = 128, N = dataset.train.count, perEpoch = Math.floor(N / B);
const stats = Array.from({ length: 16 }, () => ({ loss: 0, correct: 0 }));
const pools = [];
for (const [label, tree, T] of variants) {
  const X = MODS[tree];
  const plan = X.planArena(net, B, T, { optimizer: 'sgd' });
  const pool = await X.StepPool.open({ threads: T, kernels: await X.resolveKernels('auto'), net, plan, dataset, optimizer });
  pool.setStepScalars((t, out, at) => optimizer.stepScalars(settings, settings.lr, t + 1, out, at));
  pools.push({ label, pool });
}
async function segment(pool) {
  M.initParams(net, 1, pool.params); for (const st of pool.state) st.fill(0);
  M.permutation(new M.Rng(1), pool.order, N);
  const t0 = performance.now();
  for (let s = 0; s < S;) { const at = s % perEpoch; const c = Math.min(16, perEpoch - at, S - s); await pool.trainSteps(at * B, B, c, stats, s); s += c; }
  return (S * B * 1000) / (performance.now() - t0);
}
const pp = () => Number(/round trip ([0-9.]+)/.exec(spawnSync('./pingpong', ['100000']).stdout.toString())[1]);
for (const v of pools) await segment(v.pool);
for (let r = 0; r < rounds; r++) {
  const a = pp(); const rates = [];
  for (const v of pools) rates.push(await segment(v.pool));
  const b = pp();
  const mode = a < 60 && b < 60 ? 'near' : a >= 150 && b >= 150 ? 'far' : 'mixed';
  console.log(`${mode} pp ${a.toFixed(0)}/${b.toFixed(0)} ` + pools.map((v, i) => `${v.label} ${Math.round(rates[i])}`).join(' ') + ' ' + pools.slice(1).map((v, i) => `${v.label}/1 ${(rates[i + 1] / rates[0]).toFixed(3)}`).join(' ') + (pools.length > 2 ? ` last/prev ${(rates.at(-1) / rates.at(-2)).toFixed(3)}` : ''));
}
for (const v of pools) await v.pool.close();
