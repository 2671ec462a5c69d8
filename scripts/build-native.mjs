// npm install's step for the native kernels (native/): builds the Node-API addon with npm's
// own node-gyp and checks that it loads. The addon is an optional speed-up, so this never
// fails the install: where it cannot be built (no compiler, no Node headers, another CPU
// architecture) it says why in one line and gradpool runs on its WebAssembly kernels.
// An install script rather than an optionalDependencies entry on a local package: npm reports
// a failed optional build only in its verbose log, and here the reason is printed where the
// user sees it, and the same reason is what `gradpool train` notes later.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const native = join(root, 'native');
const addon = join(native, 'build', 'Release', 'gradpool_native.node');
const log = join(native, 'build-native.log');

function unavailable(reason) {
  console.log(
    `gradpool: native kernels unavailable: ${reason}; gradpool will run on its WebAssembly kernels`,
  );
  process.exit(0);
}

if (process.arch !== 'x64') unavailable(`no native build for ${process.arch} (x64 only)`);
if (process.env.GRADPOOL_NATIVE_BUILD === 'skip') unavailable('GRADPOOL_NATIVE_BUILD=skip');
// npm hands its bundled node-gyp to install scripts; run outside npm, use the one on PATH
const gyp = process.env.npm_config_node_gyp;
const [command, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
rmSync(join(native, 'build'), { recursive: true, force: true });
const built = spawnSync(command, args, { cwd: native, encoding: 'utf8', env: process.env });
const output = `${built.stdout ?? ''}${built.stderr ?? ''}`;
if (built.error || built.status !== 0 || !existsSync(addon)) {
  writeFileSync(log, built.error ? String(built.error) : output);
  rmSync(join(native, 'build'), { recursive: true, force: true });
  unavailable(
    `the build failed: ${firstError(built.error ? String(built.error) : output)} (full log: ${log})`,
  );
}
// a build that links but cannot load (an ABI or CPU mismatch) is as good as none
const loads = spawnSync(
  process.execPath,
  ['-e', `console.log(JSON.stringify(require(${JSON.stringify(addon)}).cpu()))`],
  {
    encoding: 'utf8',
  },
);
if (loads.status !== 0) {
  writeFileSync(log, `${output}\n${loads.stderr}`);
  rmSync(join(native, 'build'), { recursive: true, force: true });
  unavailable(`the built addon does not load: ${firstError(loads.stderr)} (full log: ${log})`);
}
rmSync(log, { force: true });
console.log(`gradpool: native kernels built (${JSON.stringify(JSON.parse(loads.stdout))})`);

/** The line of a build's output that says what went wrong, or its last line. */
function firstError(text) {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const error =
    lines.find(
      (l) => /error:|not found|No such file|ENOENT|Could not find/i.test(l) && !/^gyp info/.test(l),
    ) ??
    lines.findLast((l) => /^gyp ERR!/.test(l)) ??
    lines.at(-1) ??
    'no output';
  return error.replace(/^gyp ERR! /, '').slice(0, 300);
}
