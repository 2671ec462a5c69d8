import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UsageError } from '../src/errors.js';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { compileWasmVariant, maddIsFused } from '../src/nn/kernels/wasm-module.js';
import { resolveKernels } from '../src/train/kernels.js';
import { TrainingInterrupted, train } from '../src/train/trainer.js';
import {
  assertResumeEqualsStraight,
  NATIVE_VARIANTS,
  projectWithAddon,
  ROOT,
  runCli,
  syntheticDataset,
  tempDir,
} from './helpers.js';

// The label of a kernel build must name its arithmetic: the same label on two machines gives
// the same bytes. Relaxed SIMD's multiply-add is fused only where V8 has FMA3 to use, and
// `--no-enable-fma3` makes V8 behave as on a CPU without it.

const NO_FMA = ['--no-enable-fma3'];
const relaxedHere = (await compileWasmVariant('relaxed')).module !== null;

/** What compileWasmVariant('relaxed') says in a node started with `nodeArgs`. */
function relaxedIn(nodeArgs: string[]): string {
  const url = new URL('dist/src/nn/kernels/wasm-module.js', `file://${ROOT}`).href;
  const code = `const m = await import(${JSON.stringify(url)}); const r = await m.compileWasmVariant('relaxed'); console.log(r.module ? 'fused' : r.reason);`;
  const r = spawnSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', code], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

describe('kernel builds', () => {
  it('the plain build never fuses; the relaxed one fuses exactly where the CPU has FMA3', async (t) => {
    const simd = (await compileWasmVariant('simd')).module;
    assert.ok(simd);
    assert.equal(await maddIsFused(simd), false);
    assert.match(relaxedIn(NO_FMA), /no fused multiply-add .* would compute what wasm-simd does/);
    if (arch() !== 'x64' || !existsSync('/proc/cpuinfo'))
      return t.skip('FMA3 is read from /proc/cpuinfo on x64');
    const fma = /^flags\s*:.*\bfma\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
    assert.equal(relaxedIn([]) === 'fused', fma);
  });

  it('--kernels names an arithmetic; one that cannot run here is refused with the reason', async (t) => {
    assert.equal((await resolveKernels('wasm-simd')).label, 'wasm-simd');
    if (relaxedHere) {
      assert.equal((await resolveKernels('wasm-relaxed-simd')).label, 'wasm-relaxed-simd');
      assert.equal((await resolveKernels('auto')).label, 'wasm-relaxed-simd');
    } else {
      await assert.rejects(resolveKernels('wasm-relaxed-simd'), UsageError);
    }
    // without the native kernels (which compute the fused arithmetic wherever the CPU has FMA)
    const dir = tempDir(t);
    const cli = projectWithAddon(dir, undefined);
    const r = spawnSync(
      process.execPath,
      [
        ...NO_FMA,
        cli,
        'train',
        '--kernels',
        'wasm-relaxed-simd',
        '--hidden',
        '8',
        '--epochs',
        '1',
        '--out',
        join(dir, 'm.safetensors'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^gradpool: --kernels wasm-relaxed-simd: this CPU has no fused multiply-add/);
  });

  it('where wasm cannot fuse, its fastest build is wasm-simd and gives its bytes; a relaxed checkpoint resumes only natively there', async (t) => {
    if (!relaxedHere) return t.skip('no fused relaxed build on this machine to compare against');
    const dir = tempDir(t);
    const flags = [
      '--hidden',
      '16',
      '--epochs',
      '1',
      '--batch-size',
      '256',
      '--threads',
      '2',
      '--log',
      'json',
    ];
    const noFma = runCli(
      ['train', ...flags, '--kernels', 'wasm', '--out', join(dir, 'a.safetensors')],
      {},
      NO_FMA,
    );
    assert.equal(noFma.status, 0, noFma.stderr);
    assert.equal(JSON.parse(noFma.stdout.split('\n')[0]).kernels, 'wasm-simd');
    const simd = runCli(['train', ...flags, '--kernels', 'wasm-simd', '--out', join(dir, 'b.safetensors')]);
    assert.equal(simd.status, 0, simd.stderr);
    const relaxed = runCli(['train', ...flags, '--out', join(dir, 'c.safetensors')]);
    assert.equal(relaxed.status, 0, relaxed.stderr);
    const model = (f: string) => readFileSync(join(dir, f));
    assert.ok(model('a.safetensors').equals(model('b.safetensors')), 'wasm without FMA = wasm-simd');
    assert.ok(!model('a.safetensors').equals(model('c.safetensors')), 'fused and unfused differ');

    const ckpt = join(dir, 'relaxed.ckpt');
    const first = runCli(['train', ...flags, '--checkpoint', ckpt, '--out', join(dir, 'd.safetensors')]);
    assert.equal(first.status, 0, first.stderr);
    const r = runCli(
      ['train', '--resume', ckpt, '--kernels', 'wasm', '--epochs', '2', '--out', join(dir, 'e.safetensors')],
      {},
      NO_FMA,
    );
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /^gradpool: --kernels wasm: the checkpoint was computed with wasm-relaxed-simd kernels, which wasm cannot compute here: this CPU has no fused/,
    );
    // and with nothing that computes it (no native kernels either), the checkpoint is refused
    const bare = projectWithAddon(join(dir, 'bare'), undefined);
    const nothing = spawnSync(
      process.execPath,
      [...NO_FMA, bare, 'train', '--resume', ckpt, '--epochs', '2', '--out', join(dir, 'g.safetensors')],
      { encoding: 'utf8' },
    );
    assert.equal(nothing.status, 2);
    assert.match(
      nothing.stderr,
      /^gradpool: --resume: the checkpoint was computed with wasm-relaxed-simd kernels, which cannot run here: this CPU has no fused/,
    );
    if (NATIVE_VARIANTS.length === 0) return;
    // the native kernels read the CPU, not V8's flags: they continue the relaxed run
    const resumed = runCli(
      ['train', '--resume', ckpt, '--epochs', '2', '--log', 'json', '--out', join(dir, 'e.safetensors')],
      {},
      NO_FMA,
    );
    assert.equal(resumed.status, 0, resumed.stderr);
    const straight = runCli([
      'train',
      ...flags,
      '--epochs',
      '2',
      '--kernels',
      'wasm',
      '--out',
      join(dir, 'f.safetensors'),
    ]);
    assert.equal(straight.status, 0, straight.stderr);
    assert.ok(model('e.safetensors').equals(model('f.safetensors')), 'resumed natively = straight on wasm');
  });

  it("a resumed run takes the checkpoint's build, as made on another machine, unless --kernels names another build", async (t) => {
    if (!relaxedHere) return t.skip('auto picks wasm-simd here as it does without FMA');
    const dir = tempDir(t);
    const flags = ['--hidden', '16', '--batch-size', '256', '--threads', '2', '--seed', '5'];
    const ckpt = join(dir, 'run.ckpt');
    // epoch 1 on wasm where relaxed SIMD is not fused (its fastest: wasm-simd), epoch 2 here where it is
    const first = runCli(
      [
        'train',
        ...flags,
        '--kernels',
        'wasm',
        '--epochs',
        '1',
        '--checkpoint',
        ckpt,
        '--out',
        join(dir, 'a'),
      ],
      {},
      NO_FMA,
    );
    assert.equal(first.status, 0, first.stderr);
    assert.equal(loadCheckpoint(ckpt).state.kernels, 'wasm-simd');
    assertResumeEqualsStraight(
      dir,
      ckpt,
      ['--epochs', '2'],
      [...flags, '--epochs', '2', '--kernels', 'wasm-simd'],
    );

    const dataset = syntheticDataset(300, 60);
    const path = join(dir, 'c.safetensors');
    await assert.rejects(
      train(
        { hidden: [8], epochs: 2, batchSize: 40, kernels: 'wasm-simd' },
        { dataset, checkpoint: { path }, stopAfterStep: 5 },
      ),
      TrainingInterrupted,
    );
    const c = loadCheckpoint(path);
    await assert.rejects(
      train({ kernels: 'wasm-relaxed-simd' }, { dataset, resume: c }),
      /computed with wasm-simd kernels, this run would use wasm-relaxed-simd \(kernels\)/,
    );
    await assert.rejects(
      train({ kernels: 'js' }, { dataset, resume: c }),
      /computed with wasm-simd kernels, this run would use js \(kernels\)/,
    );
    // auto and wasm mean "the build that reproduces the run": the checkpoint's
    const finished = await train({ kernels: 'auto' }, { dataset, resume: c });
    const again = await train({ kernels: 'wasm' }, { dataset, resume: c });
    const uninterrupted = await train(
      { hidden: [8], epochs: 2, batchSize: 40, kernels: 'wasm-simd' },
      { dataset },
    );
    assert.deepEqual(finished.model.params, uninterrupted.model.params);
    assert.deepEqual(again.model.params, uninterrupted.model.params);
  });
});
