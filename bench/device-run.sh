#!/usr/bin/env bash
# The many-core measurement, run on the lent 16-core machine (../shared/device/README.md):
#   here:   npm ci && npm run build && ../shared/device/pack.sh && cp -r node_modules/tinybench .device/node_modules/
#           (npm ci builds the native kernels into native/build: carry it, with .device and dist,
#           as the device has no Node headers and may have no compiler)
#           optionally the previous build for an A/B: a checkout's dist/ copied to dist-old/
#           (git-ignored through .git/info/exclude), carried beside dist/
#   device: source .device/setup.sh && bash bench/device-run.sh      (results under $OUT)
#           SPIN_AB=1 adds an interleaved comparison of polling budgets; SLICE_AB=0 drops that of
#           the first layer's slices (spin.txt)
#   rehearsal here, every step at small counts (minutes of device time are too few to find a
#   broken step there): THREADS=1,2 MANY=2 OUT=/tmp/rehearsal FASHION_MNIST=… bash bench/device-run.sh
# Everything in one call, so gradpool and PyTorch are measured on the same machine, one at a time.
set -uo pipefail
out=${OUT:-bench/results/device}
mkdir -p "$out"
data="idx:${FASHION_MNIST:?FASHION_MNIST must point at the Fashion-MNIST IDX files}"
# the thread counts of the scaling runs, and the many-thread counts of the A/Bs (8 and 16 on the device)
threads=${THREADS:-1,2,4,8,16}
many=${MANY:-8,16}
most=${many##*,}
lscpu > "$out/lscpu.txt" 2>&1
t0=$SECONDS
# 1. kernels, what T threads get at once on private memory, scaling 1…16 with the step
#    breakdown, PyTorch at the same thread counts; each count the faster of two passes
node dist/bench/run.js --threads "$threads" --seconds 3 --rounds 2 --data "$data" --no-peer --pytorch --out "$out" > /dev/null 2> "$out/bench.log"
echo "suite: $((SECONDS - t0)) s"
# 1b. the suite's scaling ran on the native kernels (where they loaded: bench.log says); the
#     same steps on wasm, for the native ÷ wasm ratio at each thread count in the same call
node dist/src/cli/main.js bench --kernels wasm --threads "$threads" --seconds 3 --rounds 2 --data "$data" --json 2>> "$out/bench.log" |
  node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(`${r.kernels}:`, r.rows.map((x) => `${x.threads} threads ${Math.round(x.samplesPerSec)}`).join(", "))' >> "$out/train.txt"
echo "wasm scaling: $((SECONDS - t0)) s"
# 2. the previous build against this one, interleaved, where the threads are many
if [ -d dist-old ]; then
  old=$(mktemp -d) && ln -s "$PWD/dist-old" "$old/dist" && ln -s "$PWD/node_modules" "$old/node_modules"
  for t in ${many//,/ }; do
    echo "## $t threads: A = dist-old, B = dist" >> "$out/ab.txt"
    bash bench/ab-builds.sh "$old" "$PWD" "$t" 3 "$data" >> "$out/ab.txt" 2>> "$out/bench.log"
  done
  echo "A/B: $((SECONDS - t0)) s"
fi
# 3. settings that change only speed, where threads are many: each value of an environment
#    variable in turn ("default": unset), `gradpool bench --threads $many`, two rounds, into spin.txt
env_ab() {
  local name=$1 value
  shift
  for round in 1 2; do
    for value in "$@"; do
      if [ "$value" = default ]; then unset "$name"; else export "$name=$value"; fi
      node dist/src/cli/main.js bench --threads "$many" --seconds 2 --data "$data" --json 2>> "$out/bench.log" |
        LABEL="$name=$value" node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(process.env.LABEL, r.rows.map((x) => `${x.threads} threads ${Math.round(x.samplesPerSec)}${x.firstLayerSlices ? " (slices)" : ""}`).join(", "))' >> "$out/spin.txt"
    done
  done
  unset "$name"
}
# 3a. polling budgets (SPIN_AB=1): never (0), the default, ten times the default
[ "${SPIN_AB:-}" = 1 ] && env_ab GRADPOOL_SPIN 0 default 200000
# 3b. the first layer's forward by output neurons (SLICE_AB=0 skips it): by default it splits at
#     2–4 threads only (slices of 64 outputs or more); 8 splits at 8 and 16 too (slices of 32
#     and 16). The bytes are the same either way
[ "${SLICE_AB:-1}" = 1 ] && env_ab GRADPOOL_FIRST_LAYER_SLICE default 8
# 4. the promise at 16 threads: one epoch with 1 and 16 threads gives the same bytes; peak RSS
for t in 1 "$most"; do
  node dist/src/cli/main.js train --data "$data" --epochs 1 --threads "$t" --out "$out/model-$t.safetensors" --log json 2>> "$out/bench.log" | tail -n 1 >> "$out/train.txt"
done
sha256sum "$out"/model-*.safetensors >> "$out/train.txt"
rm -f "$out"/model-*.safetensors
# 5. optional (RECIPE=1): the README's AdamW recipe, gradpool and PyTorch, $most threads each
[ "${RECIPE:-}" = 1 ] && OUT="$out/recipe" bash bench/recipe-accuracy.sh 30 "$most" >> "$out/train.txt" 2>> "$out/bench.log"
echo "all: $((SECONDS - t0)) s"
# (the machine returns at most 8 files: result json/md/svg, lscpu, bench.log, ab, spin, train)
tail -n 4 "$out/bench.log"; cat "$out/train.txt" "$out/ab.txt" "$out/spin.txt" 2>/dev/null
sed -n '/## Thread scaling/,/## Peers/p' "$out"/*.md
