#!/usr/bin/env bash
# A/B of the polling rule on the 16-core machine: default rule (poll only while threads < cores)
# against polling off, at the thread counts where it matters. Results under $OUT.
set -uo pipefail
out=${OUT:-bench/results/device}
mkdir -p "$out"
data="idx:${FASHION_MNIST:?}"
node dist/src/cli/main.js bench --threads 1,8,12,15,16 --data "$data" --seconds 4 --json > "$out/spin-default.json"
GRADPOOL_SPIN=0 node dist/src/cli/main.js bench --threads 8,12,15 --data "$data" --seconds 4 --json > "$out/spin-off.json"
node dist/src/cli/main.js bench --threads 16 --data "$data" --seconds 4 --json > "$out/spin-default-16-again.json"
for f in "$out"/spin-*.json; do node -e "const r=JSON.parse(require('fs').readFileSync('$f'));for(const x of r.rows)console.log('$(basename "$f")',x.threads,Math.round(x.samplesPerSec),JSON.stringify(Object.fromEntries(Object.entries(x.breakdown).map(([k,v])=>[k,+v.toFixed(3)]))))"; done
