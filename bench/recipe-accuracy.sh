#!/usr/bin/env bash
# The README's AdamW recipe on Fashion-MNIST (784-256-128-10 relu, AdamW lr 1e-3 decay 0.05,
# one epoch of warm-up then cosine to 0, dropout 0.2, batch 128), trained by gradpool and by
# PyTorch (bench/peers/pytorch_adamw_recipe.py) one after the other on this machine, each
# writing one JSON line per epoch; then both test accuracies side by side.
#   bench/recipe-accuracy.sh [EPOCHS] [THREADS]     (after npm run build; PYTHON: a python3 with torch)
set -euo pipefail
epochs=${1:-30}
threads=${2:-2}
export FASHION_MNIST=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
out=${OUT:-bench/results/recipe}
mkdir -p "$out"
lscpu > "$out/lscpu.txt" 2>&1 || true
node dist/src/cli/main.js train --data fashion-mnist --optimizer adamw --lr 0.001 --weight-decay 0.05 \
  --lr-schedule cosine --warmup-epochs 1 --dropout 0.2 --epochs "$epochs" --threads "$threads" \
  --out "$out/model.safetensors" --log json > "$out/gradpool.jsonl"
"${PYTHON:-python3}" bench/peers/pytorch_adamw_recipe.py "$epochs" 0.001 0.05 0.2 "$threads" > "$out/pytorch.jsonl"
rm -f "$out/model.safetensors"
node -e '
const fs = require("fs");
const lines = (f) => fs.readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const g = lines(process.argv[1]).filter((l) => l.event === "epoch");
const p = lines(process.argv[2]);
const gl = g[g.length - 1], pl = p[p.length - 1];
const gSeconds = g.reduce((s, e) => s + e.seconds, 0);
console.log(`epochs ${g.length}: gradpool test accuracy ${(100 * gl.testAccuracy).toFixed(2)} % in ${gSeconds.toFixed(0)} s; ` +
  `PyTorch ${pl.version} ${(100 * pl.testAccuracy).toFixed(2)} % in ${pl.seconds.toFixed(0)} s; ` +
  `difference ${(100 * (gl.testAccuracy - pl.testAccuracy)).toFixed(2)} points`);
console.log("best epoch: gradpool " + (100 * Math.max(...g.map((e) => e.testAccuracy))).toFixed(2) + " %, PyTorch " + (100 * Math.max(...p.map((e) => e.testAccuracy))).toFixed(2) + " %");
' "$out/gradpool.jsonl" "$out/pytorch.jsonl" | tee "$out/summary.txt"
