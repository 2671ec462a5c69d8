#!/usr/bin/env bash
# A/B of polling on the 16-core machine, interleaved so drift on a shared host hits both arms:
# the default rule against GRADPOOL_SPIN=0, twice each, at 8 and 16 threads. Results under $OUT.
set -uo pipefail
out=${OUT:-bench/results/device}
mkdir -p "$out"
data="idx:${FASHION_MNIST:?}"
for round in 1 2; do
  for arm in default off; do
    if [ "$arm" = off ]; then spin=0; else spin=""; fi
    GRADPOOL_SPIN=$spin node dist/src/cli/main.js bench --threads 8,16 --data "$data" --seconds 3 --json > "$out/polling-$arm-$round.json"
  done
done
for f in "$out"/polling-*.json; do
  node -e "const r=JSON.parse(require('fs').readFileSync('$f'));for(const x of r.rows)console.log('$(basename "$f" .json)',x.threads,Math.round(x.samplesPerSec),JSON.stringify(Object.fromEntries(Object.entries(x.breakdown).map(([k,v])=>[k,Math.round(v*1000)]))))"
done
