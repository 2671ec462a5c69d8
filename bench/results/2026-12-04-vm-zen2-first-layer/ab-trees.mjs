// In-process A/B of two builds (dist trees): variants [label, tree, threads, slices], each run
// for MS ms in turn, ROUNDS rounds, each round tagged with a ping-pong before and after.
import { spawnSync } from 'node:child_process';
const [rounds, ms] = [Number(process.argv[2] ?? 20), Number(process.argv[3] ?? 400)];
// the two builds to compare: each a checkout's dist/src, built (npm run build, npm run build:native)
const trees = { old: '/tmp/oldtree/dist/src', new: '/work/main/dist/src' };
const variants = JSON.parse(process.argv[4] ?? '[["1","new",1,true],["2old","old",2,true],["2new","new",2,true]]');
const mods = {};
for (const [name, D] of Object.entries(trees)) {
  mods[name] = {
    ...(await import(`${D}/data/dataset.js`)), ...(await import(`${D}/nn/layout.js`)), ...(await import(`${D}/nn/init.js`)),
    ...(await import(`${D}/nn/rng.js`)), ...(await import(`${D}/train/plan.js`)), ...(await import(`${D}/train/pool.js`)),
    ...(await import(`${D}/train/kernels.js`)), ...(await import(`${D}/nn/optim/index.js`)), ...(await import(`${D}/train/config.js`)),
    ...(await import(`${D}/train/control.js`)),
  };
}
const dataset = await mods.new.loadDataset('fashion-mnist');
const B = 128, N = dataset.train.count, perEpoch = Math.floor(N / B);
const pools = [];
for (const [label, tree, T, slices] of variants) {
  const M = mods[tree];
  const net = M.networkLayout([784, 256, 128, 10], 'relu');
  const kernels = await M.resolveKernels('auto');
  const optimizer = M.optimizerNamed('sgd');
  const settings = M.defaultConfig();
  const plan = M.planArena(net, B, T, { optimizer: 'sgd' });
  const pool = await M.StepPool.open({ threads: T, kernels, net, plan: slices ? plan : { ...plan, firstLayer: null }, dataset, optimizer });
  M.initParams(net, 1, pool.params);
  pool.setStepScalars((t, out, at) => optimizer.stepScalars(settings, settings.lr, t + 1, out, at));
  M.permutation(new M.Rng(1), pool.order, N);
  pools.push({ label, pool, s: 0, max: M.MAX_STEPS });
}
const stats = Array.from({ length: 16 }, () => ({ loss: 0, correct: 0 }));
async function run(v, t) {
  const end = performance.now() + t; let steps = 0; const t0 = performance.now();
  do { const at = v.s % perEpoch; const c = Math.min(v.max, perEpoch - at); await v.pool.trainSteps(at * B, B, c, stats, v.s); v.s += c; steps += c; } while (performance.now() < end);
  return (steps * B * 1000) / (performance.now() - t0);
}
for (const v of pools) await run(v, 500);
const pp = () => Number(/round trip ([0-9.]+)/.exec(spawnSync('./pingpong', ['100000']).stdout.toString())[1]);
for (let r = 0; r < rounds; r++) {
  const a = pp();
  const rates = [];
  for (const v of pools) rates.push(await run(v, ms));
  const b = pp();
  const mode = a < 60 && b < 60 ? 'near' : a >= 150 && b >= 150 ? 'far' : 'mixed';
  console.log(`${mode} pp ${a.toFixed(0)}/${b.toFixed(0)} ` + pools.map((v, i) => `${v.label} ${Math.round(rates[i])}`).join(' ') + ' ' + pools.slice(1).map((v, i) => `${v.label}/1 ${(rates[i + 1] / rates[0]).toFixed(3)}`).join(' ') + (pools.length > 2 ? ` last/prev ${(rates.at(-1) / rates.at(-2)).toFixed(3)}` : ''));
}
for (const v of pools) await v.pool.close();
