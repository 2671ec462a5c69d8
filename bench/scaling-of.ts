// Thread scaling of the build in DIR, as `gradpool bench --json` prints it, importing that
// build's modules directly: an A/B (bench/ab-builds.sh) needs neither build's CLI nor the
// server's packages, which the lent 16-core machine does not get.
// Usage: node dist/bench/scaling-of.js DIR THREADS SECONDS DATA

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, threads, seconds, data] = process.argv.slice(2);
if (!dir || !threads || !seconds || !data) {
  console.error('usage: scaling-of.js DIR THREADS SECONDS DATA');
  process.exit(2);
}
const from = (path: string) => import(pathToFileURL(join(dir, 'dist/src', path)).href);
const { measureScaling } = await from('train/benchmark.js');
const { loadDataset } = await from('data/dataset.js');
const result = await measureScaling({
  dataset: await loadDataset(data),
  threads: threads.split(',').map(Number),
  seconds: Number(seconds),
});
console.log(JSON.stringify(result));
