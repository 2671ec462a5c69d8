// npm install's step for the native kernels (native/): builds the Node-API addon with npm's
// own node-gyp and checks that it loads. The addon is an optional speed-up, so this never
// fails the install: where it cannot be built (no compiler, no Node headers, another CPU
// architecture) it says why in one line and gradpool runs on its WebAssembly kernels.
// An install script rather than an optionalDependencies entry on a local package: npm reports
// a failed optional build only in its verbose log, while a project's own install prints this
// line (npm hides a dependency's install output, so `gradpool train` notes the same reason).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const native = join(root, 'native');
const release = join(native, 'build', 'Release');
const addon = join(release, 'gradpool_native.node');
/** node-gyp can take minutes where it must fetch headers; past this it has hung */
const BUILD_TIMEOUT_MS = 10 * 60 * 1000;

function unavailable(reason) {
  console.log(
    `gradpool: native kernels unavailable: ${reason}; gradpool will run on its WebAssembly kernels`,
  );
  process.exit(0);
}

try {
  build();
} catch (e) {
  // whatever went wrong (a read-only folder, a strange environment), the install goes on
  unavailable(`the build script failed: ${e instanceof Error ? e.message : String(e)}`);
}

function build() {
  if (process.arch !== 'x64' && process.arch !== 'arm64')
    unavailable(`no native build for ${process.arch} (x64 and arm64 only)`);
  if (process.env.GRADPOOL_NATIVE_BUILD === 'skip') unavailable('GRADPOOL_NATIVE_BUILD=skip');
  // npm hands its bundled node-gyp to install scripts; run outside npm, use the one on PATH
  const gyp = process.env.npm_config_node_gyp;
  const [command, args] = gyp
    ? [process.execPath, [gyp, 'rebuild', '--release']]
    : ['node-gyp', ['rebuild', '--release']];
  rmSync(join(native, 'build'), { recursive: true, force: true });
  const built = spawnSync(command, args, {
    cwd: native,
    encoding: 'utf8',
    env: process.env,
    timeout: BUILD_TIMEOUT_MS,
  });
  const output = built.error ? String(built.error) : `${built.stdout ?? ''}${built.stderr ?? ''}`;
  if (built.error || built.status !== 0 || !existsSync(addon)) {
    const where = keepLog(output);
    rmSync(join(native, 'build'), { recursive: true, force: true });
    unavailable(`the build failed: ${firstError(output)} (full log: ${where})`);
  }
  // a build that links but cannot load (an ABI or CPU mismatch) is as good as none
  const loads = spawnSync(
    process.execPath,
    ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(addon)}).cpu()))`],
    { encoding: 'utf8', timeout: 60_000 },
  );
  let cpu = null;
  try {
    cpu = loads.status === 0 ? JSON.parse(loads.stdout) : null;
  } catch {
    cpu = null;
  }
  if (!cpu) {
    const where = keepLog(`${output}\n${loads.stderr ?? ''}`);
    rmSync(join(native, 'build'), { recursive: true, force: true });
    unavailable(`the built addon does not load: ${firstError(loads.stderr ?? '')} (full log: ${where})`);
  }
  if (!cpu.avx512 && !cpu.avx2 && !cpu.neon) unavailable('this CPU has none of AVX-512, AVX2 and NEON');
  // what it was built from: the loader refuses an addon whose sources have changed since
  writeFileSync(join(release, 'sources.sha256'), `${nativeSourcesHash(native)}\n`);
  rmSync(join(native, 'build-native.log'), { force: true });
  console.log(`gradpool: native kernels built (${cpu.avx512 ? 'AVX-512' : cpu.avx2 ? 'AVX2' : 'NEON'})`);
}

/**
 * SHA-256 of binding.gyp and native/src's files in name order, as src/nn/kernels/native.ts
 * computes it (this script runs before the TypeScript is built, so it cannot import it).
 */
function nativeSourcesHash(dir) {
  const hash = createHash('sha256');
  const files = [
    'binding.gyp',
    ...readdirSync(join(dir, 'src'))
      .sort()
      .map((f) => join('src', f)),
  ];
  for (const f of files)
    hash
      .update(f)
      .update('\0')
      .update(readFileSync(join(dir, f)))
      .update('\0');
  return hash.digest('hex');
}

/** Writes the build's output beside the sources, or where a read-only install allows; returns where. */
function keepLog(text) {
  for (const dir of [native, tmpdir()]) {
    const path = join(dir, 'gradpool-build-native.log');
    try {
      writeFileSync(path, text);
      return path;
    } catch {}
  }
  return 'not kept';
}

/** The line of a build's output that says what went wrong, or its last line. */
function firstError(text) {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const error =
    lines.find(
      (l) => /error:|#error|not found|No such file|ENOENT|Could not find/i.test(l) && !/^gyp info/.test(l),
    ) ??
    lines.findLast((l) => /^gyp ERR!/.test(l)) ??
    lines.at(-1) ??
    'no output';
  return error.replace(/^gyp ERR! /, '').slice(0, 300);
}
