#!/usr/bin/env bash
# The many-core measurement, run on the lent 16-core machine (../shared/device/README.md):
#   here:   npm ci && npm run build && ../shared/device/pack.sh && cp -r node_modules/tinybench .device/node_modules/
#   device: source .device/setup.sh && bash bench/device-run.sh      (results under $OUT)
# Everything in one call, so gradpool and PyTorch are measured on the same machine, one at a time.
set -uo pipefail
out=${OUT:-bench/results/device}
mkdir -p "$out"
data="idx:${FASHION_MNIST:?FASHION_MNIST must point at the Fashion-MNIST IDX files}"
lscpu > "$out/lscpu.txt" 2>&1
# 1. kernels, scaling 1…16 with the step breakdown, PyTorch at the same thread counts
node dist/bench/run.js --threads 1,2,4,8,16 --seconds 3 --data "$data" --no-peer --pytorch --out "$out" > "$out/bench.md" 2> "$out/bench.log"
# 2. the same scaling with polling disabled, to show what the spin-then-wait barrier buys
GRADPOOL_SPIN=0 node dist/src/cli/main.js bench --threads 8,16 --data "$data" --seconds 3 --json > "$out/nospin.json" 2>> "$out/bench.log"
# 3. the promise at 16 threads: one epoch with 1 and 16 threads gives the same bytes; peak RSS
for t in 1 16; do
  node dist/src/cli/main.js train --data "$data" --epochs 1 --threads "$t" --out "$out/model-$t.safetensors" --log json > "$out/train-$t.jsonl" 2>> "$out/bench.log"
done
sha256sum "$out"/model-*.safetensors > "$out/model-hashes.txt"
rm -f "$out"/model-*.safetensors
tail -n 3 "$out/bench.log"; cat "$out/model-hashes.txt"; tail -n 1 "$out/train-16.jsonl"
