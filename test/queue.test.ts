import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from './helpers.js';
import { type TestRedis, testRedis } from './redis-helpers.js';
import { needs, REDIS } from './requirements.js';
import {
  auth,
  body,
  cliModel,
  type JobJson,
  post,
  type Server,
  type Service,
  SLOW_SHARDS,
  startServer,
  startService,
  TOKEN,
  waitFor,
} from './service-helpers.js';

// `gradpool serve --queue` with `gradpool worker` processes on one Redis: the API behaves as
// with the embedded queue, whichever worker runs a job, and a worker killed mid-job hands
// the job on, to finish with the bytes of an uninterrupted run.

interface QueueJob extends JobJson {
  config: { threads?: number };
  progress: { worker?: string; threads?: number } | null;
}

const modelOf = async (url: string, id: string) =>
  Buffer.from(await (await fetch(`${url}/jobs/${id}/model`, { headers: auth })).arrayBuffer());

const isJobEvent = (id: string, event: string) => (e: Record<string, unknown>) =>
  e.id === id && e.event === event;

describe('gradpool serve --queue with gradpool worker', needs(REDIS), () => {
  let redis: TestRedis;
  let dir: string;
  let queue: string;
  let server: Server;
  const workers: Service[] = [];

  const startWorker = (queueName: string, env: Record<string, string> = {}) =>
    startService(
      'worker',
      [
        '--queue',
        redis.url,
        '--queue-name',
        queueName,
        '--threads',
        '1',
        '--checkpoint-every',
        '5',
        '--lock-duration',
        '2',
        '--work-dir',
        join(dir, `worker-${workers.length}`),
      ],
      env,
    );
  // A worker whose shards stall (SLOW_SHARDS): at full speed the 3 epochs of the jobs below
  // take well under a second, so a signal sent at their first checkpoint could arrive after
  // the end; at about 16 ms a step, some 3 s of the job are still to run then, on any machine.
  const startSlowWorker = (queueName: string) => {
    const worker = startWorker(queueName, SLOW_SHARDS);
    workers.push(worker);
    return worker;
  };

  const serverArgs = (queueName: string, dataDir: string) => [
    '--data-dir',
    join(dir, dataDir),
    '--token',
    TOKEN,
    '--queue',
    redis.url,
    '--queue-name',
    queueName,
    '--concurrency',
    '0',
  ];

  before(async () => {
    redis = await testRedis();
    dir = mkdtempSync(join(tmpdir(), 'gradpool-queue-'));
    queue = `test-${process.pid}-${Date.now()}`;
    server = await startServer(serverArgs(queue, 'data'));
    // one at a time: each takes the work folder its index names
    workers.push(startWorker(queue));
    workers.push(startWorker(queue));
    await Promise.all(workers.map((w) => w.waitForEvent((e) => e.event === 'ready', 60_000)));
  });
  after(async () => {
    await Promise.all([server, ...workers].map((s) => s.stop('SIGKILL')));
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a --work-dir that is a file: exit 2 with one line, once Redis has answered', () => {
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, 'x');
    const r = runCli(['worker', '--queue', redis.url, '--queue-name', queue, '--work-dir', file]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim(), `gradpool: --work-dir ${file} is not a folder`);
  });

  it('runs jobs on both workers; each model is the one gradpool train writes', async () => {
    const seeds = [11, 12, 13, 14];
    const ids: string[] = [];
    for (const seed of seeds) {
      // the last asks for 2 threads: honoured up to the worker's 1
      const r = await post(server.url, {
        hidden: [16],
        epochs: 2,
        seed,
        ...(seed === 14 ? { threads: 2 } : {}),
      });
      assert.equal(r.status, 201);
      ids.push((await body(r)).id);
    }
    for (const [i, id] of ids.entries()) {
      const job = (await waitFor(server.url, id, ['succeeded', 'failed'])) as QueueJob;
      assert.equal(job.state, 'succeeded', job.error);
      assert.equal(job.metrics.length, 2, 'a metrics row per epoch came back from the worker');
      assert.equal(job.progress?.threads, 1, "the worker's threads, not the server's");
      assert.equal(job.config.threads, i === 3 ? 2 : undefined, 'threads only where the job asked');
      assert.match(String(job.progress?.worker), /:\d+$/);
      if (i < 2) {
        const flags = ['--hidden', '16', '--epochs', '2', '--seed', String(seeds[i])];
        assert.ok((await modelOf(server.url, id)).equals(cliModel(dir, flags)), `job ${i}: same bytes`);
      }
    }
    for (const w of workers) {
      assert.ok(
        w.events.some((e) => e.event === 'started'),
        'each of the two workers took at least one job',
      );
    }
    // what the jobs shared through Redis is gone once the server has recorded the outcomes
    assert.deepEqual(await redis.client.keys(`gradpool:${queue}:*`), []);
    for (const id of ids) assert.equal(await redis.client.exists(`bull:${queue}:${id}`), 0);
  });

  it('a failing job is failed with the trainer’s message', async () => {
    const { id } = await body(await post(server.url, { hidden: [64, 64], epochs: 1, lr: 1e6 }));
    const job = await waitFor(server.url, id, ['succeeded', 'failed']);
    assert.equal(job.state, 'failed');
    assert.match(
      String(job.error),
      /training diverged at epoch 1, step \d+: the loss is NaN; try a lower lr/,
    );
  });

  it('DELETE stops a job running on a worker after its current step', async () => {
    const { id } = await body(await post(server.url, { hidden: [64], epochs: 200 }));
    const worker = await Promise.race(
      workers.map((w) => w.waitForEvent(isJobEvent(id, 'checkpoint')).then(() => w)),
    );
    const r = await fetch(`${server.url}/jobs/${id}`, { method: 'DELETE', headers: auth });
    assert.equal(r.status, 202);
    assert.equal(
      (await waitFor(server.url, id, ['cancelled', 'succeeded', 'failed'], 30_000)).state,
      'cancelled',
    );
    assert.equal((await worker.waitForEvent(isJobEvent(id, 'finished'))).state, 'cancelled');
    assert.equal((await fetch(`${server.url}/jobs/${id}/model`, { headers: auth })).status, 409);
  });

  it('a worker killed mid-job: another resumes from the shared checkpoint, same bytes', async () => {
    const name = `${queue}-kill`;
    const owner = await startServer(serverArgs(name, 'data-kill'));
    try {
      const flags = ['--hidden', '128', '--epochs', '3', '--seed', '5'];
      const victim = startSlowWorker(name);
      const { id } = await body(await post(owner.url, { hidden: [128], epochs: 3, seed: 5 }));
      await victim.waitForEvent(isJobEvent(id, 'checkpoint'));
      victim.child.kill('SIGKILL');
      await victim.exited;
      assert.ok(!victim.events.some(isJobEvent(id, 'finished')), 'killed mid-job');
      const survivor = startWorker(name);
      workers.push(survivor);
      const resumed = await survivor.waitForEvent(isJobEvent(id, 'resumed'), 60_000);
      assert.ok(Number(resumed.epoch) >= 1 && Number(resumed.step) >= 5, 'resumed past the start');
      const job = await waitFor(owner.url, id, ['succeeded', 'failed']);
      assert.equal(job.state, 'succeeded', job.error);
      assert.equal(job.metrics.length, 3);
      assert.ok(
        (await modelOf(owner.url, id)).equals(cliModel(dir, flags)),
        'same bytes as one uninterrupted run',
      );
    } finally {
      await owner.stop();
    }
  });

  it('two servers on one queue: each gets the results of its own jobs only', async () => {
    // this one also takes jobs itself (--concurrency 1), beside the two workers
    const args = serverArgs(queue, 'data-second').map((a) => (a === '0' ? '1' : a));
    const second = await startServer(args);
    try {
      const mine = await Promise.all(
        [21, 22, 23].map(
          async (seed) => (await body(await post(second.url, { hidden: [16], epochs: 1, seed }))).id,
        ),
      );
      const theirs = (await body(await post(server.url, { hidden: [16], epochs: 1, seed: 24 }))).id;
      for (const id of mine)
        assert.equal((await waitFor(second.url, id, ['succeeded', 'failed'])).state, 'succeeded');
      assert.equal((await waitFor(server.url, theirs, ['succeeded', 'failed'])).state, 'succeeded');
      const listed = async (url: string) =>
        (await body<{ jobs: JobJson[] }>(await fetch(`${url}/jobs`, { headers: auth }))).jobs.map(
          (j) => j.id,
        );
      assert.deepEqual(new Set(await listed(second.url)), new Set(mine));
      assert.ok(!(await listed(server.url)).some((id) => mine.includes(id)));
      assert.equal((await fetch(`${server.url}/jobs/${mine[0]}`, { headers: auth })).status, 404);
      const flags = ['--hidden', '16', '--epochs', '1', '--seed', '21'];
      assert.ok((await modelOf(second.url, mine[0])).equals(cliModel(dir, flags)));
    } finally {
      assert.equal(await second.stop(), 0);
    }
  });

  it('a queued job cancelled before any worker took it never runs', async () => {
    const idle = `${queue}-idle`;
    const other = await startServer(serverArgs(idle, 'data-idle'));
    try {
      const { id } = await body(await post(other.url, { hidden: [16], epochs: 1 }));
      const r = await fetch(`${other.url}/jobs/${id}`, { method: 'DELETE', headers: auth });
      assert.equal(r.status, 202);
      assert.equal((await body(r)).state, 'cancelled');
      const worker = startWorker(idle);
      workers.push(worker);
      await worker.waitForEvent((e) => e.event === 'ready');
      const { id: next } = await body(await post(other.url, { hidden: [16], epochs: 1 }));
      assert.equal((await waitFor(other.url, next, ['succeeded', 'failed'])).state, 'succeeded');
      assert.ok(!worker.events.some((e) => e.id === id), 'the cancelled job was not run');
      assert.equal((await waitFor(other.url, id, ['cancelled'])).state, 'cancelled');
    } finally {
      await other.stop();
    }
  });

  it('a job that finished while its server was down is collected at the next start', async () => {
    const down = `${queue}-down`;
    const args = serverArgs(down, 'data-down');
    let owner = await startServer(args);
    const { id } = await body(await post(owner.url, { hidden: [16], epochs: 2, seed: 9 }));
    await owner.stop('SIGKILL');
    const worker = startWorker(down);
    workers.push(worker);
    await worker.waitForEvent(isJobEvent(id, 'finished'));
    owner = await startServer(args);
    try {
      const job = await waitFor(owner.url, id, ['succeeded', 'failed'], 30_000);
      assert.equal(job.state, 'succeeded', job.error);
      assert.equal(job.metrics.length, 2);
      const flags = ['--hidden', '16', '--epochs', '2', '--seed', '9'];
      assert.ok((await modelOf(owner.url, id)).equals(cliModel(dir, flags)));
      const jobs = (await body<{ jobs: JobJson[] }>(await fetch(`${owner.url}/jobs`, { headers: auth })))
        .jobs;
      assert.equal(jobs.length, 1, 'no job lost or duplicated');
    } finally {
      await owner.stop();
    }
  });

  it('a worker stopped with SIGTERM puts its job back; another finishes it', async () => {
    const name = `${queue}-term`;
    const owner = await startServer(serverArgs(name, 'data-term'));
    try {
      const first = startSlowWorker(name);
      const { id } = await body(await post(owner.url, { hidden: [128], epochs: 3, seed: 6 }));
      await first.waitForEvent(isJobEvent(id, 'checkpoint'));
      assert.equal(await first.stop('SIGTERM'), 0, 'exits 0 after handing the job back');
      assert.ok(first.events.some(isJobEvent(id, 'requeued')));
      const next = startWorker(name);
      workers.push(next);
      await next.waitForEvent(isJobEvent(id, 'resumed'));
      const job = await waitFor(owner.url, id, ['succeeded', 'failed']);
      assert.equal(job.state, 'succeeded', job.error);
      const flags = ['--hidden', '128', '--epochs', '3', '--seed', '6'];
      assert.ok((await modelOf(owner.url, id)).equals(cliModel(dir, flags)));
    } finally {
      await owner.stop();
    }
  });
});

describe('gradpool worker and serve --queue: bad settings', () => {
  const cases: [string, string[], RegExp][] = [
    ['no --queue', ['worker'], /worker needs --queue redis:\/\/HOST:PORT/],
    ['not a Redis URL', ['worker', '--queue', 'http://x'], /--queue must be a redis:\/\/ or rediss:\/\/ URL/],
    [
      'nothing listening',
      ['worker', '--queue', 'redis://127.0.0.1:1'],
      /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/,
    ],
    [
      'a password in the URL is not printed',
      ['serve', '--port', '0', '--queue', 'redis://:hunter2@127.0.0.1:1'],
      /cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/,
    ],
    [
      'a bad queue name',
      ['worker', '--queue', 'redis://127.0.0.1:1', '--queue-name', 'a b'],
      /--queue-name must be/,
    ],
    [
      '--concurrency 0 without --queue',
      ['serve', '--port', '0', '--concurrency', '0'],
      /^gradpool: --concurrency must be ≥ 1, got 0$/m,
    ],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: exit 2 with one line`, () => {
      const r = runCli(args, { GRADPOOL_TOKEN: '' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /hunter2/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    });
  }
});
