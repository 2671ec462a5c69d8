#!/bin/sh
# Builds what compare.mjs and bench.mjs use, under $GPEW (default /tmp/gpew): the harness (the
# flags the addon is compiled with), the two wasm kernel builds and the AssemblyScript Math module.
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${GPEW:-/tmp/gpew}
mkdir -p "$out"
CFLAGS="-O3 -ffp-contract=off -std=gnu11 -Wall -Wextra -Wshadow"
gcc $CFLAGS -o "$out/harness" "$here/harness.c" "$root/native/src/elementwise.c" "$root/native/src/as_math.c" -lm
cd "$root"
npx asc assembly/kernels.ts --config assembly/asconfig.json --target simd -o "$out/kernels.wasm" 2>&1 | grep -v '^npm warn' || true
npx asc assembly/kernels.ts --config assembly/asconfig.json --target relaxed -o "$out/kernels-relaxed.wasm" 2>&1 | grep -v '^npm warn' || true
npx asc "$here/asmath.ts" -O3 --shrinkLevel 0 --runtime stub --importMemory --noAssert --use abort= -o "$out/asmath.wasm" 2>&1 | grep -v '^npm warn' || true
ls -la "$out"
