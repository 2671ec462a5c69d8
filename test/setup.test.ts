import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { ROOT, tempDir } from './helpers.js';

// What a new user runs: the README's first command (the clone's own launcher), the package
// as npm would install it, and the rule for suites that need something npm does not install.

const LAUNCHER = join(ROOT, 'gradpool');

describe("the README's first command in a clone", () => {
  it("./gradpool runs the clone's build, and a SIGTERM sent to it reaches the trainer", async (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'm.safetensors');
    const child = spawn(
      LAUNCHER,
      ['train', '--epochs', '200', '--hidden', '16', '--threads', '2', '--out', out],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((done) =>
      child.on('exit', (code, signal) => done([code, signal])),
    );
    // once an epoch is done, the trainer is running: signal the process the launcher started
    await new Promise<void>((ready) =>
      child.stdout.on('data', (d) => {
        stdout += d;
        if (stdout.includes('"event":"epoch"')) ready();
      }),
    );
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    // a shell that stayed between would die of the signal (code null) and leave node training
    assert.deepEqual([code, signal], [143, null], stderr);
    assert.match(stderr, /SIGTERM: stopping after this step and writing a checkpoint/);
    const checkpoint = join(dir, 'm.checkpoint.safetensors');
    assert.ok(loadCheckpoint(checkpoint).state.epoch >= 1);
    assert.ok(!existsSync(out), 'no model: the run stopped');
  });

  it('./gradpool before a build says what to run', (t) => {
    const dir = tempDir(t);
    const copy = join(dir, 'gradpool');
    copyFileSync(LAUNCHER, copy);
    const r = spawnSync('sh', [copy, 'train'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'gradpool: not built yet: run npm install (or npm run build) here first\n');
  });
});

describe('the package npm installs (npx gradpool)', () => {
  it('holds the CLI, its worker and both kernel builds, and the CLI runs as an executable', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const files = new Set((JSON.parse(r.stdout)[0].files as { path: string }[]).map((f) => f.path));
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const needed of [
      pkg.bin.gradpool,
      pkg.main,
      'dist/workers/step-worker.js',
      'dist/kernels.wasm',
      'dist/kernels-relaxed.wasm',
    ])
      assert.ok(files.has(needed), `${needed} is not in the package`);
    assert.ok(
      ![...files].some((f) => f.startsWith('dist/test/') || f.startsWith('src/')),
      'no tests or sources',
    );
    assert.match(readFileSync(join(ROOT, pkg.bin.gradpool), 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });
});

describe('suites that need something npm does not install', () => {
  // the queue suite, run on a machine without redis-server (PATH holds nothing)
  const run = (env: Record<string, string>) => {
    // NODE_TEST_CONTEXT would make the inner runner report to this one instead of printing
    const { GRADPOOL_TEST_REDIS: _, CI: __, NODE_TEST_CONTEXT: ___, ...rest } = process.env;
    return spawnSync(process.execPath, ['--test', join(ROOT, 'dist/test/queue.test.js')], {
      encoding: 'utf8',
      env: { ...rest, PATH: '/nonexistent', ...env },
      timeout: 120_000,
    });
  };

  it('outside CI: skipped, with one line naming what is missing and how to install it', () => {
    const r = run({});
    assert.equal(r.status, 0, r.stdout);
    const skips = r.stdout.split('\n').filter((l) => l.includes('# SKIP'));
    assert.deepEqual(skips, [
      'ok 1 - gradpool serve --queue with gradpool worker # SKIP redis-server is not installed (sudo apt-get install redis-server, or set GRADPOOL_TEST_REDIS=redis://HOST:PORT)',
    ]);
  });

  it('with CI=true: the run fails, naming what is missing', () => {
    const r = run({ CI: 'true' });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /^not ok 1 - CI=true: redis-server must be installed$/m);
  });
});
