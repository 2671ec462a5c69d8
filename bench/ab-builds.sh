#!/usr/bin/env bash
# A/B of two builds on a noisy machine: interleaved `gradpool bench` runs of build A and
# build B (each a checkout with dist/ built), one thread count, N pairs. Prints each pair,
# the samples/s ratio B/A per pair and its median, and each run's phase-2/phase-1 time
# ratio, which a busy neighbour slows alike and so shows a kernel change more steadily.
# Usage: bench/ab-builds.sh DIR_A DIR_B [THREADS=1] [PAIRS=8] [DATA=mnist]
set -euo pipefail
A=$1 B=$2 THREADS=${3:-1} PAIRS=${4:-8} DATA=${5:-mnist}
SCALING=$(cd "$(dirname "$0")/.." && pwd)/dist/bench/scaling-of.js
for _ in $(seq "$PAIRS"); do
  for dir in "$A" "$B"; do
    node "$SCALING" "$dir" "$THREADS" 2 "$DATA" |
      DIR=$dir node -e '
        const r = JSON.parse(require("fs").readFileSync(0, "utf8")).rows[0];
        const b = r.breakdown; // builds before the gradients/update split counted both as updateMs
        console.log(process.env.DIR, Math.round(r.samplesPerSec), (((b.gradientsMs ?? 0) + b.updateMs) / b.computeMs).toFixed(3));'
  done
done | node -e '
  const lines = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => l.split(" "));
  const a = lines.filter((_, i) => i % 2 === 0), b = lines.filter((_, i) => i % 2 === 1);
  for (const l of lines) console.log(l.join(" "));
  const r = b.map((l, i) => Number(l[1]) / Number(a[i][1]));
  const s = [...r].sort((x, y) => x - y), n = s.length;
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  console.log(`samples/s B/A per pair: ${r.map((x) => x.toFixed(3)).join(" ")}; median ${median.toFixed(3)}`);
  console.log(`phase 2 / phase 1, A: ${a.map((l) => l[2]).join(" ")}; B: ${b.map((l) => l[2]).join(" ")}`);'
