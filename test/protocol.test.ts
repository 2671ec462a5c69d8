import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flagNaming, UsageError } from '../src/errors.js';
import {
  ARRIVED,
  CMD,
  CMD_STOP,
  CMD_TRAIN_STEPS,
  ControlBlock,
  copyForStep,
  DONE,
  GEN,
  NEXT,
  PHASE,
  READY,
  STEP_DONE,
} from '../src/train/control.js';
import { COMMAND_MS, commandSize } from '../src/train/epoch.js';
import { checkNumber, checkWholeNumber } from '../src/train/numbers.js';

// The step protocol's operations, run by hand on one thread in the order the coordinator and
// the workers run them; the sizing of commands; the one parser of numbers.

describe('the control block', () => {
  it('publish() starts a command from a clean slate: claims, barrier, error, commits and DONE', () => {
    const c = ControlBlock.create(3);
    // what a failed command may leave behind: a half-full barrier, claimed work, an error
    c.ints[ARRIVED] = 2;
    c.ints[NEXT] = 7;
    c.ints[DONE] = 1;
    c.ints[STEP_DONE] = 4;
    for (let w = 0; w < 3; w++) c.claimBlock(w);
    c.writeError(1, 5, new Error('boom'));
    const gen = c.ints[GEN];
    c.publish(CMD_TRAIN_STEPS);
    assert.deepEqual(
      [c.ints[ARRIVED], c.ints[NEXT], c.ints[DONE], c.ints[STEP_DONE], c.failed, c.ints[CMD], c.ints[GEN]],
      [0, 0, 0, 0, false, CMD_TRAIN_STEPS, gen + 1],
    );
    for (let w = 0; w < 3; w++) assert.equal(c.claimBlock(w), 0, `worker ${w}'s share starts over`);
    assert.equal(c.readError(), null);
  });

  it('hands out each shard and each block of a share once', () => {
    const c = ControlBlock.create(2);
    c.publish(CMD_TRAIN_STEPS);
    assert.deepEqual([c.claimShard(), c.claimShard(), c.claimShard()], [0, 1, 2]);
    assert.deepEqual([c.claimBlock(1), c.claimBlock(0), c.claimBlock(1)], [0, 0, 1]);
  });

  it('a step commits only without an error, and readies the claims for the next', () => {
    const c = ControlBlock.create(2);
    c.publish(CMD_TRAIN_STEPS);
    c.claimShard();
    c.claimBlock(0);
    c.commitStep();
    assert.equal(c.committed, 1);
    assert.deepEqual([c.claimShard(), c.claimBlock(0)], [0, 0]);
    c.writeError(0, -1, new Error('x'));
    c.commitStep();
    assert.equal(c.committed, 1, 'a failed step is not committed');
  });

  it('the barrier releases once every thread has arrived, and only the last runs the commit', () => {
    const c = ControlBlock.create(3);
    const first = c.arrive();
    const second = c.arrive();
    assert.ok(first !== null && second === first, 'the first two wait on the same phase');
    assert.equal(c.arrive(), null, 'the third is the last');
    c.release();
    assert.equal(c.ints[ARRIVED], 0);
    assert.notEqual(c.arrive(), first, 'the next round waits on a new phase');
    // after 2³¹ barriers PHASE is negative: a waiting thread must not take itself for the last
    const wrapped = ControlBlock.create(2);
    wrapped.ints[PHASE] = -1;
    assert.equal(wrapped.arrive(), -1);
    assert.equal(wrapped.arrive(), null);
  });

  it('step i of a command reads copy (CURRENT + i) mod 2; advance() makes the last written current', () => {
    const c = ControlBlock.create(1);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => copyForStep(c.current, i)),
      [0, 1, 0, 1],
    );
    c.advance(3); // three steps committed: step 2 read copy 0 and wrote copy 1
    assert.equal(c.current, 1);
    c.advance(0); // a command that committed nothing leaves the parameters where they were
    assert.equal(c.current, 1);
    c.advance(2);
    assert.equal(c.current, 1);
  });

  it('keeps the first error reported, its shard and its first line', () => {
    const c = ControlBlock.create(2);
    c.publish(CMD_TRAIN_STEPS);
    const e = new Error('injected fault (throw) in shard 3');
    c.writeError(1, 3, e);
    c.writeError(0, 9, new Error('a later one'));
    const r = c.readError();
    assert.equal(r?.shard, 3);
    assert.equal(r?.text, 'worker 1: Error: injected fault (throw) in shard 3');
  });

  it('the last worker to finish a command is the one told it completed it', () => {
    const c = ControlBlock.create(3);
    c.publish(CMD_TRAIN_STEPS);
    assert.deepEqual([c.finish(), c.finish(), c.finish()], [false, false, true]);
  });

  it('a worker announces itself after reading the generation it waits past; stop is a command', () => {
    const c = ControlBlock.create(1);
    const gen = c.announceReady();
    assert.equal(c.ints[READY], 1);
    c.publishStop();
    assert.equal(c.ints[GEN], gen + 1);
    assert.equal(c.ints[CMD], CMD_STOP);
  });

  it('a worker on the same buffer sees what the coordinator wrote (one layout for both sides)', () => {
    const coordinator = ControlBlock.create(4);
    coordinator.floats[0] = 0.05;
    coordinator.publish(CMD_TRAIN_STEPS);
    coordinator.claimBlock(3);
    coordinator.writeError(2, 1, new Error('seen'));
    const worker = new ControlBlock(coordinator.buffer, 4);
    assert.equal(worker.floats[0], 0.05);
    assert.equal(worker.claimBlock(3), 1);
    assert.equal(worker.readError()?.text, 'worker 2: Error: seen');
  });
});

describe('command sizing', () => {
  const base = {
    stepsLeft: 100,
    stepMs: 1,
    untilCheckpoint: Number.POSITIVE_INFINITY,
    untilStop: Number.POSITIVE_INFINITY,
    fullSteps: 100,
  };
  it('about COMMAND_MS of steps, at most MAX_STEPS, at least one', () => {
    assert.equal(commandSize(base), 16);
    assert.equal(commandSize({ ...base, stepMs: COMMAND_MS / 3 }), 3);
    assert.equal(commandSize({ ...base, stepMs: 10 * COMMAND_MS }), 1);
  });
  it("cut at a due checkpoint, a requested stop and the epoch's end; the short last step runs alone", () => {
    assert.equal(commandSize({ ...base, untilCheckpoint: 5 }), 5);
    assert.equal(commandSize({ ...base, untilStop: 2 }), 2);
    assert.equal(commandSize({ ...base, untilStop: 0 }), 1);
    assert.equal(commandSize({ ...base, stepsLeft: 4 }), 4);
    assert.equal(commandSize({ ...base, stepsLeft: 4, fullSteps: 3 }), 3);
    assert.equal(commandSize({ ...base, stepsLeft: 1, fullSteps: 1 }), 1);
  });
});

/** Asserts `f` throws a UsageError whose message (not its String(), which adds the name) matches. */
function refuses(f: () => unknown, message: RegExp, what?: string): void {
  assert.throws(f, (e: unknown) => e instanceof UsageError && message.test(e.message), what);
}

describe('numbers from flags, fields and variables', () => {
  it('whole numbers: decimal digits within the range, named as given', () => {
    assert.equal(checkWholeNumber('threads', '8', 1, 1024), 8);
    assert.equal(checkWholeNumber('threads', ' 8 ', 1, 1024), 8);
    assert.equal(checkWholeNumber('threads', 8, 1, 1024), 8);
    const cases: [unknown, RegExp][] = [
      ['', /^threads must be a whole number, got ''$/],
      ['abc', /^threads must be a whole number, got 'abc'$/],
      ['1e3', /^threads must be a whole number, got '1e3'$/],
      ['0x10', /^threads must be a whole number, got '0x10'$/],
      ['2.5', /^threads must be a whole number, got '2.5'$/],
      [2.5, /^threads must be a whole number, got 2.5$/],
      [true, /^threads must be a whole number, got 'true'$/],
      ['0', /^threads must be ≥ 1, got 0$/],
      ['2000', /^threads must be ≤ 1024, got 2000$/],
      ['99999999999999999999', /^threads must be a whole number, got 100000000000000000000$/],
    ];
    for (const [value, message] of cases)
      refuses(() => checkWholeNumber('threads', value, 1, 1024), message, String(value));
  });

  it('numbers: decimal or exponent notation, open or closed bounds', () => {
    assert.equal(checkNumber('lr', '1e-3', { min: 0, above: true }, false), 0.001);
    assert.equal(checkNumber('lr', '.5', { min: 0, above: true }, false), 0.5);
    refuses(() => checkNumber('lr', '0', { min: 0, above: true }, false), /^lr must be > 0, got 0$/);
    refuses(
      () => checkNumber('momentum', '1', { min: 0, max: 1, below: true }, false),
      /^momentum must be < 1, got 1$/,
    );
    refuses(() => checkNumber('lr', 'Infinity', {}, false), /^lr must be a number, got 'Infinity'$/);
    refuses(() => checkNumber('lr', Number.NaN, {}, false), /^lr must be a number, got 'NaN'$/);
  });

  it('the CLI names the same setting by its flag', () => {
    try {
      checkWholeNumber('checkpointEvery', '0', 1, 10);
      assert.fail('accepted 0');
    } catch (e) {
      assert.ok(e instanceof UsageError);
      assert.equal(e.field, 'checkpointEvery');
      assert.equal(e.message, 'checkpointEvery must be ≥ 1, got 0');
      assert.equal(e.describe(flagNaming), '--checkpoint-every must be ≥ 1, got 0');
    }
  });
});

describe('the parts of a run', () => {
  it("preparing a resumed run: the checkpoint's settings, what may change on top, where it starts", async () => {
    const { prepareRun } = await import('../src/train/prepare.js');
    const { syntheticDataset } = await import('./helpers.js');
    const dataset = syntheticDataset(100, 20);
    const fresh = await prepareRun({ hidden: [8], batchSize: 30, epochs: 2, kernels: 'js' }, { dataset });
    assert.equal(fresh.stepsPerEpoch, 4, '100 rows in batches of 30: the last one short');
    assert.deepEqual([fresh.start.epoch, fresh.start.step], [1, 0]);
    assert.deepEqual(fresh.net.sizes, [64, 8, 10]);
    const resume = {
      config: { ...fresh.config },
      model: { layout: fresh.net, params: new Float32Array(fresh.net.size) },
      optimizerState: [new Float32Array(fresh.net.size)],
      state: {
        epoch: 2,
        step: 3,
        epochRng: [1, 2, 3, 4],
        epochLoss: 1.5,
        epochCorrect: 9,
        epochSeen: 90,
        metrics: [],
        kernels: 'js',
      },
    };
    const resumed = await prepareRun({ threads: 3, epochs: 5 }, { dataset, resume });
    assert.deepEqual([resumed.config.threads, resumed.config.epochs, resumed.config.batchSize], [3, 5, 30]);
    assert.deepEqual(resumed.start.sums, { loss: 1.5, correct: 9, seen: 90 });
    assert.deepEqual([resumed.start.epoch, resumed.start.step], [2, 3]);
    await assert.rejects(
      prepareRun({ batchSize: 20 }, { dataset, resume }),
      /resume: batchSize is 20 but the checkpoint was trained with 30$/,
    );
  });

  it('checkpoints every N steps of the run, counted across epochs', async () => {
    const { RunCheckpoints } = await import('../src/train/run-checkpoints.js');
    const none = new RunCheckpoints(undefined, () => assert.fail('nothing to write'), 0.1);
    assert.equal(none.stepsUntilDue(7), Number.POSITIVE_INFINITY);
    assert.equal(none.save(3), null);
    const every = new RunCheckpoints({ path: 'x', everySteps: 5 }, () => assert.fail('not due'), 0.1);
    assert.deepEqual(
      [0, 3, 5, 9].map((s) => every.stepsUntilDue(s)),
      [5, 2, 5, 1],
    );
    every.afterSteps(7);
    assert.ok(every.periodic);
  });
});

describe('the library entry', () => {
  it('exports what resuming from a checkpoint needs', async () => {
    const lib = await import('../src/index.js');
    assert.equal(typeof lib.loadCheckpoint, 'function');
    assert.equal(typeof lib.saveCheckpoint, 'function');
    assert.ok(new lib.TrainingInterrupted('stopped', null) instanceof lib.GradpoolError);
    assert.equal(lib.flagNaming('batchSize'), '--batch-size');
  });
});
