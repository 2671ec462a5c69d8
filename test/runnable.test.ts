import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fieldNaming, flagNaming, UsageError } from '../src/errors.js';
import { isFinal, JobStop, ProgressThrottle, stopJob, stopReason } from '../src/server/job-states.js';
import { checkRunnable } from '../src/train/plan.js';

// "Can this run?", asked once for train, bench and POST /jobs, from the dataset's shape; and
// the job lifecycle's rules, shared by the server's runner, the queue dispatcher and workers.

const mnist = { features: 784, outputs: 10, task: 'classify' as const, trainRows: 8000 };
const settings = { hidden: [256, 128], activation: 'relu' as const, batchSize: 128, threads: 2 };

function refusal(f: () => unknown): UsageError {
  try {
    f();
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  assert.fail('accepted');
}

describe('can this run?', () => {
  it('builds the network from the shape: inputs and classes come from the data', () => {
    const { net } = checkRunnable({ features: 13, outputs: 3, task: 'classify', trainRows: 1000 }, settings);
    assert.deepEqual(net.sizes, [13, 256, 128, 3]);
    assert.equal(net.size, 13 * 256 + 256 + 256 * 128 + 128 + 128 * 3 + 3);
  });

  const cases: [string, () => unknown, string, string][] = [
    [
      'a batch larger than the training rows',
      () => checkRunnable(mnist, { ...settings, batchSize: 8001 }),
      'batchSize',
      '--batch-size 8001 is larger than the 8000 training rows',
    ],
    [
      'more parameters than a server allows',
      () => checkRunnable(mnist, settings, 1000),
      'hidden',
      "--hidden 256,128: the model has 235146 parameters; the server's limit is 1000",
    ],
    [
      'more parameters than the layout allows',
      () => checkRunnable(mnist, { ...settings, hidden: [60000, 60000] }),
      'hidden',
      '--hidden 60000,60000: network 784-60000-60000-10 has 3647760010 parameters; the limit is 50000000',
    ],
    [
      'working memory past 4 GiB',
      () =>
        checkRunnable(
          { ...mnist, trainRows: 100_000 },
          { ...settings, hidden: [4096, 4096], batchSize: 65536, threads: 4 },
        ),
      'batchSize',
      '784-4096-4096-10 in batches of 65536 rows on 4 threads needs',
    ],
  ];
  for (const [what, run, field, cliMessage] of cases) {
    it(`refuses ${what}, naming ${field} as a field for the API and as a flag for the CLI`, () => {
      const e = refusal(run);
      assert.equal(e.field, field);
      assert.ok(e.describe(flagNaming).startsWith(cliMessage), e.describe(flagNaming));
      assert.equal(e.message, e.describe(fieldNaming));
      assert.doesNotMatch(e.message, /--/);
    });
  }

  it('a shape whose training rows are unknown (data only on queue workers) skips that check only', () => {
    assert.ok(checkRunnable({ ...mnist, trainRows: null }, { ...settings, batchSize: 60000 }).plan.bytes > 0);
  });
});

describe('the job lifecycle', () => {
  it('succeeded, failed and cancelled are final; queued and running are not', () => {
    assert.deepEqual(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'cancelled '].map(isFinal), [
      false,
      false,
      true,
      true,
      true,
      false,
    ]);
  });

  it('a stop carries its reason as a type, and the first reason given wins', () => {
    const c = new AbortController();
    assert.equal(stopReason(c.signal), null);
    stopJob(c, 'cancelled');
    stopJob(c, 'shutdown');
    assert.equal(stopReason(c.signal), 'cancelled');
    assert.ok(c.signal.reason instanceof JobStop);
    // an abort for another cause (a signal's Error) is no job stop
    const other = new AbortController();
    other.abort(new Error('cancelled'));
    assert.equal(stopReason(other.signal), null);
  });

  it('progress is reported at most once per interval, and always at an epoch end', () => {
    const t = new ProgressThrottle(500);
    assert.deepEqual(
      [t.due(false, 1000), t.due(false, 1200), t.due(true, 1300), t.due(false, 1700), t.due(false, 1800)],
      [true, false, true, false, true],
    );
  });
});
