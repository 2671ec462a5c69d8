import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { UsageError } from '../src/errors.js';
import { parseFaultSpec, shouldFault } from '../src/train/faults.js';
import { train } from '../src/train/trainer.js';
import { runCli, syntheticDataset, tempDir } from './helpers.js';

// Worker failures: with GRADPOOL_INJECT_FAULTS a worker throws, exits or hangs on a shard;
// the step is recomputed on fresh threads and the result must be the bytes of a run
// without failures.

const dataset = syntheticDataset(300, 60);
const config = { hidden: [24, 12], epochs: 2, batchSize: 40, seed: 4, threads: 2, stepTimeout: 0.5 };
const hash = (r: { model: { params: Float32Array }; velocity: Float32Array }) =>
  createHash('sha256')
    .update(new Uint8Array(r.model.params.buffer))
    .update(new Uint8Array(r.velocity.buffer))
    .digest('hex');

afterEach(() => {
  delete process.env.GRADPOOL_INJECT_FAULTS;
});

describe('fault injection', () => {
  it('parses kind:rate[:seed] and rejects anything else', () => {
    assert.deepEqual(parseFaultSpec('exit:0.25:9'), { kind: 'exit', rate: 0.25, seed: 9 });
    assert.deepEqual(parseFaultSpec('hang:1'), { kind: 'hang', rate: 1, seed: 1 });
    assert.equal(parseFaultSpec(undefined), null);
    for (const bad of ['crash:0.1', 'throw:2', 'throw:x', 'throw:0.1:1.5', 'throw:0.1:1:2']) {
      assert.throws(() => parseFaultSpec(bad), UsageError, bad);
    }
  });

  it('draws from a seeded stream at the given rate', () => {
    const spec = { kind: 'throw' as const, rate: 0.1, seed: 3 };
    let hits = 0;
    for (let serial = 0; serial < 2000; serial++)
      for (let shard = 0; shard < 10; shard++) hits += shouldFault(spec, serial, shard) ? 1 : 0;
    assert.ok(Math.abs(hits - 2000) < 200, `${hits} of 20,000 at rate 0.1`);
    assert.equal(shouldFault(spec, 17, 4), shouldFault({ ...spec }, 17, 4));
  });
});

describe('worker failure', () => {
  for (const spec of ['throw:0.03:3', 'exit:0.03:5', 'hang:0.02:2']) {
    it(`${spec.split(':')[0]}: steps are recomputed on fresh threads and the result equals a run without failures`, async () => {
      const clean = await train(config, { dataset });
      process.env.GRADPOOL_INJECT_FAULTS = spec;
      const faulty = await train(config, { dataset });
      assert.ok(faulty.retries >= 1, 'faults were injected');
      assert.equal(hash(faulty), hash(clean));
      assert.deepEqual(
        faulty.metrics.map((m) => [m.trainLoss, m.testAccuracy]),
        clean.metrics.map((m) => [m.trainLoss, m.testAccuracy]),
      );
    });
  }

  // A thread that throws in a command's next step must not leave a slower thread, still
  // leaving the previous step's barrier, to quit the command alone: the others would wait for
  // it at the next barrier until the step timeout. With more threads than cores the threads
  // sleep at barriers and wake late, which opens that window wide; a step timeout longer
  // than the test's own makes such a stall fail the test.
  it('a throw in a later step of a command ends the command for every thread at once', {
    timeout: 60_000,
  }, async () => {
    const wide = { ...config, threads: 6, stepTimeout: 90, maxRetries: 20 };
    const clean = await train(wide, { dataset });
    process.env.GRADPOOL_INJECT_FAULTS = 'throw:0.05:11';
    const faulty = await train(wide, { dataset });
    assert.ok(faulty.retries >= 3, `faults were injected (${faulty.retries} retries)`);
    assert.equal(hash(faulty), hash(clean));
  });

  it('a shard failing past --max-retries ends training: exit 1, one line, the checkpoint untouched', (t) => {
    const dir = tempDir(t);
    const ckpt = join(dir, 'c.safetensors');
    const out = join(dir, 'm.safetensors');
    assert.equal(
      runCli(['train', '--hidden', '16', '--epochs', '1', '--checkpoint', ckpt, '--out', out]).status,
      0,
    );
    const before = readFileSync(ckpt);
    const r = runCli(
      [
        'train',
        '--resume',
        ckpt,
        '--epochs',
        '2',
        '--checkpoint',
        ckpt,
        '--max-retries',
        '2',
        '--out',
        join(dir, 'm2.safetensors'),
      ],
      { GRADPOOL_INJECT_FAULTS: 'throw:1' },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /^gradpool: epoch 2, step 1: shard \d+ failed 3 times; last: worker \d+: Error: injected fault \(throw\) in shard \d+; the last checkpoint in .*c\.safetensors is intact\n$/,
    );
    assert.ok(readFileSync(ckpt).equals(before), 'checkpoint bytes unchanged');
  });
});
