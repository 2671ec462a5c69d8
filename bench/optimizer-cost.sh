#!/usr/bin/env bash
# What Adam and AdamW cost beside SGD: `gradpool bench --optimizer …` on the reference recipe
# (784-256-128-10 relu, batch 128) at lr 1e-7, so every optimizer's steps meet the same weights
# and do the same forward and backward work (how fast a step runs depends on the weights: the
# kernels skip the zeros of ReLU's gradients, and an SGD and an Adam run soon differ in how
# many there are), leaving the update as the difference. The three optimizers run back to back in each round, so a
# round's ratios compare runs a few seconds apart on a shared machine whose speed drifts over
# minutes; the table gives each optimizer's median over the rounds of its ratio to SGD.
#   bench/optimizer-cost.sh [THREADS] [ROUNDS] [DATA]      (after npm run build)
set -euo pipefail
threads=${1:-1,2}
rounds=${2:-3}
data=${3:-fashion-mnist}
runs=$(mktemp)
for round in $(seq "$rounds"); do
  for optimizer in sgd adam adamw; do
    node dist/src/cli/main.js bench --optimizer "$optimizer" --lr "${LR:-1e-7}" --threads "$threads" --seconds 3 --data "$data" --json |
      OPT=$optimizer node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); for (const x of r.rows) console.log(JSON.stringify({ optimizer: process.env.OPT, threads: x.threads, samplesPerSec: x.samplesPerSec, updateMs: x.breakdown.updateMs, stepMs: x.stepMs, machine: r.machine }))' >> "$runs"
  done
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const h = s.length >> 1; return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2; };
const m = rows[0].machine;
const threads = [...new Set(rows.map((r) => r.threads))];
console.log(`${m.cpu}, ${m.cores} cores, Node ${m.node}; ${process.argv[2]} rounds of sgd, adam, adamw back to back, 3 s each`);
console.log("| optimizer | threads | samples/s (median) | of SGD, median of the rounds (min–max) | update ms per step |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const t of threads) for (const o of ["sgd", "adam", "adamw"]) {
  const of = (name) => rows.filter((r) => r.optimizer === name && r.threads === t);
  const mine = of(o), sgd = of("sgd");
  const ratios = mine.map((r, i) => r.samplesPerSec / sgd[i].samplesPerSec);
  const pct = (x) => (100 * x).toFixed(1);
  console.log(`| ${o} | ${t} | ${Math.round(median(mine.map((r) => r.samplesPerSec))).toLocaleString("en-US")} | ${pct(median(ratios))} % (${pct(Math.min(...ratios))}–${pct(Math.max(...ratios))}) | ${median(mine.map((r) => r.updateMs)).toFixed(3)} |`);
}' "$runs" "$rounds"
rm -f "$runs"
