// CSV loading: MB/s and peak RSS of gradpool's loader (three streaming passes: scan, statistics, write, into shared
// float32) on a generated file, beside papaparse's own streaming parse of the same file (one
// pass, fields discarded), each in a fresh process. Usage:
//   node dist/bench/csv-load.js [ROWS=1000000] [COLUMNS=50]

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const rows = Number(process.argv[2] ?? 1_000_000);
const columns = Number(process.argv[3] ?? 50);
const path = join(tmpdir(), `gradpool-bench-${rows}x${columns}.csv`);
const fd = openSync(path, 'w');
writeSync(fd, `${Array.from({ length: columns - 1 }, (_, j) => `x${j}`).join(',')},y\n`);
let x = 1;
const rnd = () => {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  return x / 2 ** 32;
};
for (let i = 0; i < rows; i += 1000) {
  let chunk = '';
  for (let r = 0; r < Math.min(1000, rows - i); r++) {
    for (let j = 0; j < columns - 1; j++) chunk += `${(rnd() * 100).toFixed(4)},`;
    chunk += `${(rnd() * 10).toFixed(3)}\n`;
  }
  writeSync(fd, chunk);
}
closeSync(fd);
const mb = statSync(path).size / 1e6;
const here = new URL('.', import.meta.url).pathname;

function measure(script: string): { seconds: number; rssMB: number } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: here,
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}
const report = `console.log(JSON.stringify({ seconds: (performance.now() - t) / 1000, rssMB: process.resourceUsage().maxRSS / 1024 }));`;
const gradpool = measure(
  `import { loadCsvDataset } from ${JSON.stringify(join(here, '../src/data/csv-dataset.js'))};
   const t = performance.now();
   await loadCsvDataset(${JSON.stringify(path)}, { target: ['y'], ignore: [], testSplit: 0.1, standardize: true, seed: 1 });
   ${report}`,
);
const papa = measure(
  `import Papa from 'papaparse'; import { createReadStream } from 'node:fs';
   const t = performance.now(); let n = 0;
   await new Promise((done) => Papa.parse(createReadStream(${JSON.stringify(path)}, { encoding: 'utf8' }), { delimiter: ',', newline: '\\n', step: () => { n++; }, complete: done }));
   ${report}`,
);
console.log(`${rows.toLocaleString('en-US')} rows × ${columns} columns, ${mb.toFixed(0)} MB`);
console.log('| reader | seconds | MB/s | peak RSS MB |');
console.log('|---|---:|---:|---:|');
for (const [name, m, passes] of [
  ['gradpool loadCsvDataset (3 passes, into float32)', gradpool, 3],
  ['papaparse streaming parse (1 pass, fields dropped)', papa, 1],
] as const)
  console.log(
    `| ${name} | ${m.seconds.toFixed(1)} | ${((mb * passes) / m.seconds).toFixed(0)} (file ${(mb / m.seconds).toFixed(0)}) | ${m.rssMB.toFixed(0)} |`,
  );
