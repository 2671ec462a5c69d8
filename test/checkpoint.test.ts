import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ModelFileError, UsageError } from '../src/errors.js';
import { writeFileAtomic } from '../src/io/atomic-write.js';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { loadModel } from '../src/io/model-file.js';
import { TrainingInterrupted, train } from '../src/train/trainer.js';
import { assertResumeEqualsStraight, CLI, runCli, syntheticDataset, tempDir } from './helpers.js';

// "Equal" means byte-identical parameters and momentum to the uninterrupted run.

const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const hash = (...arrays: Float32Array[]) => {
  const h = createHash('sha256');
  for (const a of arrays) h.update(bytes(a));
  return h.digest('hex');
};

const dataset = syntheticDataset(300, 60);
// 300 rows, batch 40: 8 steps per epoch, the last one 20 rows
const config = {
  hidden: [24, 12],
  epochs: 3,
  batchSize: 40,
  lr: 0.05,
  momentum: 0.9,
  weightDecay: 1e-3,
  seed: 4,
};

async function interruptedAt(step: number, path: string, threads: number) {
  await assert.rejects(
    train({ ...config, threads }, { dataset, checkpoint: { path }, stopAfterStep: step }),
    (e: unknown) => e instanceof TrainingInterrupted && e.exitCode === 130 && e.checkpoint === path,
  );
  return loadCheckpoint(path);
}

describe('checkpoints and resume', () => {
  it('resuming at any step, mid-epoch or at an epoch boundary, with other thread counts, equals the uninterrupted run', async (t) => {
    const dir = tempDir(t);
    const full = await train({ ...config, threads: 2 }, { dataset });
    const want = hash(full.model.params, full.optimizerState[0]);
    for (const [step, threadsBefore, threadsAfter] of [
      [3, 1, 3],
      [8, 2, 1],
      [13, 3, 2],
    ]) {
      const path = join(dir, `c${step}.safetensors`);
      const c = await interruptedAt(step, path, threadsBefore);
      assert.equal((c.state.epoch - 1) * 8 + c.state.step, step);
      const resumed = await train({ threads: threadsAfter }, { dataset, resume: c });
      assert.equal(hash(resumed.model.params, resumed.optimizerState[0]), want, `resumed at step ${step}`);
      assert.deepEqual(
        resumed.metrics.map((m) => [m.trainLoss, m.trainAccuracy, m.testLoss, m.testAccuracy]),
        full.metrics.map((m) => [m.trainLoss, m.trainAccuracy, m.testLoss, m.testAccuracy]),
        'per-epoch metrics carry over exactly',
      );
    }
  });

  it('--checkpoint-every keeps the latest state, and a checkpoint also loads as a model', async (t) => {
    const path = join(tempDir(t), 'c.safetensors');
    const r = await train(
      { ...config, epochs: 1, threads: 2 },
      { dataset, checkpoint: { path, everySteps: 3, atEpochEnd: false } },
    );
    const c = loadCheckpoint(path);
    assert.deepEqual([c.state.epoch, c.state.step], [1, 6], 'the last multiple of 3 within the 8 steps');
    assert.notEqual(hash(c.model.params), hash(r.model.params));
    assert.deepEqual(loadModel(path).params, c.model.params);
  });

  it('refuses to resume with a setting that changes the result, naming it', async (t) => {
    const c = await interruptedAt(5, join(tempDir(t), 'c.safetensors'), 2);
    await assert.rejects(
      train({ hidden: [30, 12] }, { dataset, resume: c }),
      (e: unknown) =>
        e instanceof UsageError &&
        /^resume: hidden is \[30,12\] but the checkpoint was trained with \[24,12\]$/.test(e.message) &&
        e.field === 'hidden',
    );
    await assert.rejects(
      train({ lr: 0.1 }, { dataset, resume: c }),
      /resume: lr is 0.1 but the checkpoint was trained with 0.05$/,
    );
    await assert.rejects(
      train({ kernels: 'js' }, { dataset, resume: c }),
      /computed with wasm.* kernels, this run would use js/,
    );
  });

  it('refuses --epochs that end before the checkpoint; ending exactly there writes its model', async (t) => {
    const dir = tempDir(t);
    // step 13 of 8-step epochs: 5 steps into epoch 2
    const mid = await interruptedAt(13, join(dir, 'mid.safetensors'), 2);
    await assert.rejects(
      train({ epochs: 1 }, { dataset, resume: mid }),
      /resume: the checkpoint has trained 1 epoch and 5 steps of epoch 2; epochs 1 ends before that: use epochs 2 or more$/,
    );
    const endPath = join(dir, 'end.safetensors');
    await train(
      { ...config, epochs: 2, threads: 2 },
      { dataset, checkpoint: { path: endPath, atEpochEnd: true } },
    );
    const end = loadCheckpoint(endPath);
    assert.deepEqual([end.state.epoch, end.state.step], [3, 0], 'written at the end of epoch 2');
    await assert.rejects(
      train({ epochs: 1 }, { dataset, resume: end }),
      /resume: the checkpoint has trained 2 epochs; epochs 1 ends before that: use epochs 2 or more$/,
    );
    const same = await train({ epochs: 2 }, { dataset, resume: end });
    assert.equal(
      hash(same.model.params, same.optimizerState[0]),
      hash(end.model.params, end.optimizerState[0]),
    );
  });

  const damage: [string, (b: Buffer) => Buffer, RegExp][] = [
    [
      'a flipped bit in a tensor',
      (b) => {
        const c = Buffer.from(b);
        c[c.length - 9] ^= 1;
        return c;
      },
      /checksum mismatch/,
    ],
    ['a truncated file', (b) => b.subarray(0, b.length - 100), /data_offsets out of range/],
    ['a model file instead', () => Buffer.alloc(0), /too short/],
  ];
  for (const [what, corrupt, message] of damage) {
    it(`rejects ${what} naming the file and the check`, async (t) => {
      const path = join(tempDir(t), 'c.safetensors');
      await interruptedAt(2, path, 1);
      writeFileSync(path, corrupt(readFileSync(path)));
      assert.throws(
        () => loadCheckpoint(path),
        (e: unknown) =>
          e instanceof ModelFileError &&
          e.message.startsWith(`${path}: not a valid gradpool checkpoint`) &&
          message.test(e.message),
      );
    });
  }

  it('rejects a model file given as a checkpoint', (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'm.safetensors');
    assert.equal(runCli(['train', '--hidden', '8', '--epochs', '1', '--out', out]).status, 0);
    const r = runCli(['train', '--resume', out, '--out', join(dir, 'x.safetensors')]);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /not a valid gradpool checkpoint: __metadata__.format is "gradpool-mlp", expected "gradpool-checkpoint"/,
    );
  });
});

describe('divergence', () => {
  it('--lr 1e6: exit 1 naming the step and suggesting a lower rate; no model, the checkpoint stays finite', (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'm.safetensors');
    const ckpt = join(dir, 'c.safetensors');
    const r = runCli([
      'train',
      '--lr',
      '1000000',
      '--epochs',
      '3',
      '--checkpoint',
      ckpt,
      '--checkpoint-every',
      '1',
      '--out',
      out,
    ]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /training diverged (at|by) epoch 1, step \d+: .*try a lower --lr \(now 1000000\)/);
    assert.ok(!existsSync(out), 'no model file');
    if (existsSync(ckpt)) {
      const c = loadCheckpoint(ckpt); // loads: so every value in it is finite
      assert.ok(c.model.params.every(Number.isFinite));
    }
  });
});

/** Starts `gradpool train`, sends `signal` (`times` times) once it has reported `afterEpochs` epochs. */
function trainAndSignal(args: string[], signal: NodeJS.Signals, afterEpochs: number, times = 1) {
  return new Promise<{ code: number | null; stderr: string }>((done) => {
    const child = spawn(process.execPath, [CLI, 'train', ...args, '--log', 'json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!sent && stdout.split('\n').filter((l) => l.includes('"event":"epoch"')).length >= afterEpochs) {
        sent = true;
        for (let i = 0; i < times; i++) child.kill(signal);
      }
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => done({ code, stderr }));
  });
}

describe('signals', () => {
  it('SIGINT: checkpoint beside --out, exit 130; resuming gives the bytes of the uninterrupted run', async (t) => {
    const dir = tempDir(t);
    const flags = ['--hidden', '32', '--seed', '3', '--threads', '2'];
    const out = join(dir, 'm.safetensors');
    const r = await trainAndSignal([...flags, '--epochs', '60', '--out', out], 'SIGINT', 1);
    assert.equal(r.code, 130, r.stderr);
    const ckpt = join(dir, 'm.checkpoint.safetensors');
    assert.match(r.stderr, new RegExp(`checkpoint written to ${ckpt}`));
    assert.ok(!existsSync(out));
    const c = loadCheckpoint(ckpt);
    const stoppedAt = c.state.epoch;
    // Finish through the epoch after the one it stopped in, then compare with a straight run.
    const epochs = String(stoppedAt + 1);
    assertResumeEqualsStraight(
      dir,
      ckpt,
      ['--epochs', epochs, '--threads', '1'],
      [...flags, '--epochs', epochs],
    );
  });

  it('SIGTERM: exit 143 with the checkpoint at --checkpoint', async (t) => {
    const dir = tempDir(t);
    const ckpt = join(dir, 'run.ckpt');
    const r = await trainAndSignal(
      ['--hidden', '16', '--epochs', '60', '--checkpoint', ckpt, '--out', join(dir, 'm.safetensors')],
      'SIGTERM',
      1,
    );
    assert.equal(r.code, 143, r.stderr);
    assert.ok(loadCheckpoint(ckpt).state.epoch >= 2);
  });

  it("stdout's reader gone (| head -1): stops as for a signal, checkpoint, exit 141", async (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'm.safetensors');
    const args = ['train', '--hidden', '16', '--epochs', '60', '--log', 'json', '--out', out];
    const r = await new Promise<{ code: number | null; first: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let first = '';
      let stderr = '';
      child.stdout.once('data', (d) => {
        first = String(d).split('\n')[0];
        child.stdout.destroy(); // as `head -1` exits after its line
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('exit', (code) => done({ code, first, stderr }));
    });
    assert.equal(r.code, 141, r.stderr);
    assert.equal(JSON.parse(r.first).event, 'start');
    assert.match(r.stderr, /stdout closed: stopping after this step/);
    assert.doesNotMatch(r.stderr, /EPIPE|at .*\.js/, 'no stack trace');
    const ckpt = join(dir, 'm.checkpoint.safetensors');
    assert.match(r.stderr, new RegExp(`checkpoint written to ${ckpt}`));
    assert.ok(loadCheckpoint(ckpt).state.epoch < 60, 'stopped early, and the checkpoint loads whole');
    assert.ok(!existsSync(out));
  });

  it('a second SIGINT exits at once with 130; the checkpoint on disk stays whole', async (t) => {
    const dir = tempDir(t);
    const ckpt = join(dir, 'run.ckpt');
    const r = await trainAndSignal(
      ['--hidden', '64', '--epochs', '200', '--checkpoint', ckpt, '--out', join(dir, 'm.safetensors')],
      'SIGINT',
      2,
      2,
    );
    assert.equal(r.code, 130, r.stderr);
    const c = loadCheckpoint(ckpt); // whole: it loads and its checksum holds
    assert.ok(c.state.epoch >= 2);
  });
});

describe('writing files', () => {
  it('writes into a target that is not a regular file (/dev/null, a FIFO) instead of renaming over it', (t) => {
    const fifo = join(tempDir(t), 'out.fifo');
    const made = spawnSync('mkfifo', [fifo]);
    if (made.status !== 0) return t.skip('no mkfifo here');
    // a reader drains the FIFO, as `cat` would in a pipeline
    const reader = spawn('cat', [fifo]);
    let read = '';
    reader.stdout.on('data', (d) => {
      read += d;
    });
    const done = new Promise((resolve) => reader.on('close', resolve));
    writeFileAtomic(fifo, [Buffer.from('model bytes')]);
    return done.then(() => {
      assert.equal(read, 'model bytes');
      assert.ok(statSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
    });
  });
});
