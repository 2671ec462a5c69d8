import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadDataset } from '../src/data/dataset.js';
import { buildApp } from '../src/server/app.js';
import { JobRunner } from '../src/server/job-runner.js';
import { JobStore } from '../src/server/job-store.js';
import { NATIVE_VARIANTS, runCli, tempDir } from './helpers.js';
import {
  auth,
  body,
  cliModel,
  finishesAfterRestart,
  type JobJson,
  json,
  post,
  type Server,
  SLOW_SHARDS,
  startServer,
  TOKEN,
  waitFor,
} from './service-helpers.js';

// gradpool serve, driven over HTTP on loopback as a client would.

describe('gradpool serve', () => {
  let server: Server;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gradpool-serve-'));
    const root = join(dir, 'root');
    mkdirSync(join(root, 'set'), { recursive: true });
    writeFileSync(join(root, 'set', 't.csv'), 'a,x\n1,2\n');
    symlinkSync('/etc', join(root, 'escape'));
    server = await startServer([
      '--data-dir',
      join(dir, 'data'),
      '--token',
      TOKEN,
      '--threads',
      '2',
      '--max-epochs',
      '50',
      '--max-params',
      '1000000',
      '--data-root',
      root,
    ]);
  });
  after(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('GET /healthz needs no token; everything else does (401)', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.url}/jobs`)).status, 401);
    assert.equal(
      (await fetch(`${server.url}/jobs`, { headers: { authorization: 'Bearer wrong' } })).status,
      401,
    );
  });

  // [what, body, status, message, the field the answer names]
  const bad: [string, unknown, number, RegExp, string | undefined][] = [
    ['malformed JSON', '{"epochs": ', 400, /JSON/i, undefined],
    [
      'an unknown field',
      { epochs: 1, learningRate: 0.1 },
      400,
      /learningRate is not a known field/,
      'learningRate',
    ],
    ['a wrong type', { epochs: 'ten' }, 400, /epochs must be integer/, 'epochs'],
    [
      'a value not in a list',
      { activation: 'gelu' },
      400,
      /^activation must be one of relu, tanh, sigmoid$/,
      'activation',
    ],
    ['an impossible value', { lr: -1 }, 400, /^lr must be > 0, got -1$/, 'lr'],
    ['a layer of no units', { hidden: [32, 0] }, 400, /^hidden must be ≥ 1, got 0$/, 'hidden'],
    ['too many threads', { threads: 1000 }, 422, /threads 1000 exceeds the server's limit/, 'threads'],
    ['too many epochs', { epochs: 51 }, 422, /epochs 51 exceeds the server's limit of 50/, 'epochs'],
    [
      'an unknown dataset',
      { data: 'cifar' },
      400,
      /^data: unknown dataset 'cifar': expected mnist, fashion-mnist/,
      'data',
    ],
    [
      'a batch larger than the data',
      { batchSize: 8001 },
      422,
      /^batchSize 8001 is larger than the 8000 training rows$/,
      'batchSize',
    ],
    [
      'too many parameters',
      { hidden: [4096, 4096] },
      422,
      /parameters; the server's limit is 1000000/,
      'hidden',
    ],
    // 784·60000 + 60000 + 60000² + 60000 + 60000·10 + 10, past even the layout's own limit
    [
      'far too many',
      { hidden: [60000, 60000] },
      422,
      /has 3647760010 parameters; the server's limit is 1000000/,
      'hidden',
    ],
    ['a path with ..', { data: 'idx:set/../../etc' }, 400, /'\.\.' is not allowed/, 'data'],
    ['an encoded ..', { data: 'idx:set/%2e%2e/x' }, 400, /'\.\.' is not allowed/, 'data'],
    ['a symlink out of the data root', { data: 'idx:escape' }, 400, /leads outside the data root/, 'data'],
    ['a NUL', { data: 'idx:set\u0000x' }, 400, /NUL/, 'data'],
    // CSV datasets (issue 15): paths under the data root, the target named
    ['a csv path with ..', { data: 'csv:../etc/passwd', target: 'x' }, 400, /'\.\.' is not allowed/, 'data'],
    [
      'a test file out of the data root',
      { data: 'csv:set/t.csv', target: 'x', testData: 'csv:../t.csv' },
      400,
      /^testData: '\.\.' is not allowed/,
      'testData',
    ],
    ['a csv without its target', { data: 'csv:set/t.csv' }, 400, /needs target COLUMN/, 'target'],
    [
      'a target for images',
      { target: 'y' },
      400,
      /^target applies to csv: data; this run's is mnist$/,
      'target',
    ],
    // the recipes' settings (issue 14)
    ['beta1 1', { optimizer: 'adam', beta1: 1 }, 400, /^beta1 must be < 1, got 1$/, 'beta1'],
    ['eps 0', { optimizer: 'adamw', eps: 0 }, 400, /^eps must be > 0, got 0$/, 'eps'],
    ['dropout 1', { dropout: 1 }, 400, /^dropout must be < 1, got 1$/, 'dropout'],
    [
      'an unknown optimizer',
      { optimizer: 'rmsprop' },
      400,
      /^optimizer must be one of sgd, adam, adamw$/,
      'optimizer',
    ],
    ['nesterov as text', { nesterov: 'yes' }, 400, /^nesterov must be boolean$/, 'nesterov'],
    [
      'beta1 under sgd',
      { beta1: 0.9 },
      400,
      /^beta1 applies to optimizer adam, adamw; this run's is sgd$/,
      'beta1',
    ],
    [
      'early stopping alone',
      { earlyStopping: 3 },
      400,
      /^earlyStopping 3 needs a validation split: add validationSplit/,
      'earlyStopping',
    ],
    // mnist's 8,000 training rows: 63 steps of 128 an epoch
    [
      'a warm-up past the run',
      { epochs: 2, warmupSteps: 126 },
      422,
      /^warmupSteps: a warm-up of 126 steps does not end within the run's 126/,
      'warmupSteps',
    ],
    [
      'a split leaving less than a batch',
      { validationSplit: 0.999 },
      422,
      /^validationSplit 0.999 leaves 8 training rows, fewer than a batchSize of 128$/,
      'validationSplit',
    ],
  ];
  for (const [what, payload, status, message, field] of bad) {
    it(`POST /jobs with ${what}: ${status}, naming the problem${field ? ` and the field ${field}` : ''}`, async () => {
      const r = await post(server.url, payload);
      assert.equal(r.status, status);
      const answer = await body<{ error: string; field?: string }>(r);
      assert.match(answer.error, message);
      assert.equal(answer.field, field);
      // the API names fields as the request did, never the CLI's flags
      assert.doesNotMatch(answer.error, /--/);
    });
  }

  it('POST /jobs with a body over 64 KiB: 413', async () => {
    const r = await post(server.url, { data: 'x'.repeat(70_000) });
    assert.equal(r.status, 413);
  });

  it('runs a job: 201 queued, SSE progress to succeeded, metrics, the model byte-identical to gradpool train', async () => {
    const r = await post(server.url, { hidden: [32], epochs: 2, seed: 5 });
    assert.equal(r.status, 201);
    const { id, state } = await body(r);
    assert.equal(state, 'queued');
    const events = await (await fetch(`${server.url}/jobs/${id}/events`, { headers: auth })).text();
    const states = events
      .split('\n\n')
      .filter(Boolean)
      .map((e) => JSON.parse(e.replace(/^data: /, '')).state);
    assert.equal(states[states.length - 1], 'succeeded');
    const job = await waitFor(server.url, id, ['succeeded']);
    assert.equal(job.metrics.length, 2);
    assert.equal(typeof job.metrics[1].testAccuracy, 'number');
    const model = Buffer.from(
      await (await fetch(`${server.url}/jobs/${id}/model`, { headers: auth })).arrayBuffer(),
    );
    assert.ok(
      model.equals(cliModel(dir, ['--hidden', '32', '--epochs', '2', '--seed', '5', '--threads', '1'])),
    );
    const list = (await body<{ jobs: JobJson[] }>(await fetch(`${server.url}/jobs`, { headers: auth }))).jobs;
    assert.equal(list[0].id, id, 'newest first');
  });

  it('POST /jobs/:id/predict: the numbers gradpool predict gives; auth, schema and shape errors', async () => {
    const job = await waitFor(
      server.url,
      (await body(await post(server.url, { hidden: [16], epochs: 1, seed: 3 }))).id,
      ['succeeded'],
    );
    const modelPath = join(dir, 'predict-model.safetensors');
    writeFileSync(
      modelPath,
      Buffer.from(await (await fetch(`${server.url}/jobs/${job.id}/model`, { headers: auth })).arrayBuffer()),
    );
    const mnist = await loadDataset('mnist');
    const n = 5;
    const pixels = (mnist.test.inputs as Uint8Array).subarray(0, n * 784);
    const idx = join(dir, 'five-images-idx3-ubyte');
    const header = Buffer.alloc(16);
    for (const [i, v] of [0x0803, n, 28, 28].entries()) header.writeUInt32BE(v, 4 * i);
    writeFileSync(idx, Buffer.concat([header, pixels]));
    const cli = runCli([
      'predict',
      '--model',
      modelPath,
      '--input',
      idx,
      '--format',
      'jsonl',
      '--proba',
      '--threads',
      '1',
    ]);
    assert.equal(cli.status, 0, cli.stderr);
    const want = cli.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const rows = Array.from({ length: n }, (_, r) => Array.from(pixels.subarray(r * 784, (r + 1) * 784)));
    const url = `${server.url}/jobs/${job.id}/predict`;
    const r = await post(url, { rows, proba: true }, json, '');
    assert.equal(r.status, 200);
    assert.deepEqual((await body<{ predictions: unknown[] }>(r)).predictions, want);
    assert.equal((await post(url, { rows }, { 'content-type': 'application/json' }, '')).status, 401);
    const noRows = await post(url, { proba: true }, json, '');
    assert.equal(noRows.status, 400);
    const short = await post(url, { rows: [[1, 2, 3]] }, json, '');
    assert.equal(short.status, 422);
    assert.deepEqual(await short.json(), {
      error: 'row 1: this model takes arrays of 784 pixel values',
      field: 'rows',
    });
    const big = await post(url, { rows: Array.from({ length: 10_001 }, () => [0]) }, json, '');
    assert.equal(big.status, 400, 'more rows than the limit');
    assert.equal((await post(`${server.url}/jobs/nope/predict`, { rows }, json, '')).status, 404);
  });

  it('POST /jobs/:id/predict on a CSV regression model: a 422 names the field at fault; a missing model file is said so', async (t) => {
    const { store, app, close } = inProcess(t);
    try {
      const data = join(tempDir(t), 'reg.csv');
      const rows = Array.from({ length: 200 }, (_, i) => `${i % 13},${((i * 7) % 11) / 4}`);
      writeFileSync(data, `a,y\n${rows.join('\n')}\n`);
      // a succeeded job with its model, recorded straight in the store (the runner never sees it)
      const { job } = store.create({ data: `csv:${data}`, target: ['y'] });
      assert.ok(store.finish(job.id, 'succeeded'));
      const model = join(store.jobDir(job.id), 'model.safetensors');
      const flags = [
        '--data',
        `csv:${data}`,
        '--target',
        'y',
        '--hidden',
        '4',
        '--epochs',
        '1',
        '--threads',
        '1',
      ];
      const trained = runCli(['train', ...flags, '--out', model, '--log', 'json']);
      assert.equal(trained.status, 0, trained.stderr);
      const predict = (payload: unknown) =>
        app.inject({ method: 'POST', url: `/jobs/${job.id}/predict`, payload: payload as object });
      const ok = await predict({ rows: [{ a: 3 }] });
      assert.equal(ok.statusCode, 200, ok.body);
      const [answer] = (ok.json() as { predictions: { values: { y: number } }[] }).predictions;
      assert.ok(Number.isFinite(answer.values.y), ok.body);
      const proba = await predict({ rows: [{ a: 3 }], proba: true });
      assert.equal(proba.statusCode, 422);
      assert.deepEqual(proba.json(), {
        error: 'proba applies to classifiers; this model regresses',
        field: 'proba',
      });
      const array = await predict({ rows: [[3]] });
      assert.equal(array.statusCode, 422);
      assert.deepEqual(array.json(), {
        error: 'row 1: this model takes objects of column values',
        field: 'rows',
      });
      rmSync(model);
      const gone = await predict({ rows: [{ a: 3 }] });
      assert.equal(gone.statusCode, 409);
      assert.deepEqual(gone.json(), {
        error: 'the job has succeeded, but its model file is missing on the server',
      });
    } finally {
      await close();
    }
  });

  it('a job with a validation split and AdamW: valLoss per epoch, the kept epoch in its progress, the model gradpool train writes', async () => {
    const recipe = {
      hidden: [32],
      epochs: 3,
      seed: 5,
      optimizer: 'adamw',
      lr: 0.003,
      validationSplit: 0.1,
      dropout: 0.1,
    };
    const r = await post(server.url, recipe);
    assert.equal(r.status, 201);
    const job = await waitFor(server.url, (await body(r)).id, ['succeeded']);
    const losses = job.metrics.map((m) => m.valLoss as number);
    assert.equal(losses.length, 3);
    assert.ok(losses.every((l) => typeof l === 'number'));
    const best = losses.indexOf(Math.min(...losses)) + 1;
    assert.deepEqual([job.progress?.keptEpoch, job.progress?.stopped], [best, 'completed']);
    const model = Buffer.from(
      await (await fetch(`${server.url}/jobs/${job.id}/model`, { headers: auth })).arrayBuffer(),
    );
    const flags = ['--hidden', '32', '--epochs', '3', '--seed', '5', '--optimizer', 'adamw', '--lr', '0.003'];
    assert.ok(
      model.equals(
        cliModel(dir, [...flags, '--validation-split', '0.1', '--dropout', '0.1', '--threads', '1']),
      ),
    );
  });

  it('Idempotency-Key returns the same job; the model is 409 until it succeeds; DELETE cancels', async () => {
    const headers = { ...json, 'idempotency-key': 'k-1' };
    // big enough to be still running when it is cancelled (40 epochs of [64] took 0.6 s)
    const a = await body(await post(server.url, { hidden: [512, 512], epochs: 40 }, headers));
    const b = await post(server.url, { hidden: [512, 512], epochs: 40 }, headers);
    assert.equal(b.status, 200);
    assert.equal((await body(b)).id, a.id);
    const other = await post(server.url, { hidden: [512, 512], epochs: 41 }, headers);
    assert.equal(other.status, 422);
    assert.equal(
      (await body<{ error: string }>(other)).error,
      `idempotency-key 'k-1' was used for job ${a.id} with other settings`,
    );
    assert.equal((await fetch(`${server.url}/jobs/${a.id}/model`, { headers: auth })).status, 409);
    assert.equal((await post(`${server.url}/jobs/${a.id}/predict`, { rows: [[0]] }, json, '')).status, 409);
    await waitFor(server.url, a.id, ['running']);
    assert.equal(
      (await fetch(`${server.url}/jobs/${a.id}`, { method: 'DELETE', headers: auth })).status,
      202,
    );
    const job = await waitFor(server.url, a.id, ['cancelled']);
    assert.equal(job.state, 'cancelled');
    assert.equal(
      (await fetch(`${server.url}/jobs/${a.id}`, { method: 'DELETE', headers: auth })).status,
      409,
    );
    assert.equal((await fetch(`${server.url}/jobs/nope`, { headers: auth })).status, 404);
  });
});

describe('gradpool serve under load', () => {
  it('200 concurrent submissions of tiny jobs: 200 accepted, 200 succeed, none lost or duplicated', async (t) => {
    const dir = tempDir(t);
    const server = await startServer([
      '--data-dir',
      join(dir, 'data'),
      '--token',
      TOKEN,
      '--threads',
      '1',
      '--concurrency',
      '2',
      '--max-queued',
      '500',
    ]);
    try {
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          post(
            server.url,
            { hidden: [4], epochs: 1, batchSize: 500, seed: i },
            { ...json, 'idempotency-key': `load-${i}` },
          ),
        ),
      );
      assert.deepEqual([...new Set(responses.map((r) => r.status))], [201]);
      const ids = await Promise.all(responses.map(async (r) => (await body(r)).id));
      assert.equal(new Set(ids).size, 200, 'distinct ids');
      // a retried submission with a used key is the same job, not a new one
      const retry = { hidden: [4], epochs: 1, batchSize: 500, seed: 7 };
      assert.equal(
        (await body(await post(server.url, retry, { ...json, 'idempotency-key': 'load-7' }))).id,
        ids[7],
      );
      const end = Date.now() + 240_000;
      let jobs: JobJson[] = [];
      for (;;) {
        jobs = (await body<{ jobs: JobJson[] }>(await fetch(`${server.url}/jobs`, { headers: auth }))).jobs;
        if (jobs.every((j) => j.state === 'succeeded' || j.state === 'failed')) break;
        assert.ok(Date.now() < end, `${jobs.filter((j) => j.state !== 'succeeded').length} jobs unfinished`);
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(jobs.length, 200);
      assert.deepEqual(new Set(jobs.map((j) => j.id)), new Set(ids));
      assert.ok(
        jobs.every((j) => j.state === 'succeeded'),
        jobs.find((j) => j.state !== 'succeeded')?.error,
      );
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});

/** A server whose data survives it, checkpointing every `every` steps. */
const crashArgs = (dir: string, every: number) => [
  '--data-dir',
  join(dir, 'data'),
  '--token',
  TOKEN,
  '--threads',
  '2',
  '--checkpoint-every',
  String(every),
];

describe('gradpool serve across a crash', () => {
  it('SIGKILL mid-job: on restart the job resumes from its checkpoint and ends with the model it would have had', async (t) => {
    const dir = tempDir(t);
    const args = crashArgs(dir, 10);
    const server = await startServer(args, SLOW_SHARDS);
    const { id } = await body(await post(server.url, { hidden: [48], epochs: 6, seed: 8 }));
    // wait until it has checkpointed past the first epoch
    for (;;) {
      const job = await body(await fetch(`${server.url}/jobs/${id}`, { headers: auth }));
      if (job.state !== 'queued' && job.metrics.length >= 1) break;
      assert.notEqual(job.state, 'succeeded', 'killed too late to test anything');
      await new Promise((r) => setTimeout(r, 20));
    }
    // a second server on the same folder would train the same job at once: refused, naming the holder
    const second = runCli(['serve', '--port', '0', ...args]);
    assert.equal(second.status, 2, second.stderr);
    assert.equal(
      second.stderr,
      `gradpool: --data-dir ${join(dir, 'data')} is in use by another gradpool serve (pid ${server.child.pid})\n`,
    );
    server.child.kill('SIGKILL');
    await server.exited;
    await finishesAfterRestart(args, id, dir, [
      '--hidden',
      '48',
      '--epochs',
      '6',
      '--seed',
      '8',
      '--threads',
      '2',
    ]);
  });
});

describe('gradpool serve: where it listens, and who may call it', () => {
  it('a port in use: exit 2 with one line, before anything is created', async (t) => {
    const dir = tempDir(t);
    const first = await startServer(['--data-dir', join(dir, 'a'), '--token', TOKEN]);
    try {
      const port = new URL(first.url).port;
      const r = runCli(['serve', '--port', port, '--data-dir', join(dir, 'b'), '--token', TOKEN]);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr, `gradpool: --port ${port}: 127.0.0.1:${port} is already in use\n`);
      assert.ok(!existsSync(join(dir, 'b')), 'no data folder created');
    } finally {
      await first.stop();
    }
  });

  it('no token on an address other machines reach: refused unless --no-auth, which logs the real address', async (t) => {
    const dir = tempDir(t);
    const open = runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', join(dir, 'a')], {
      GRADPOOL_TOKEN: '',
    });
    assert.equal(open.status, 2, open.stderr);
    assert.match(
      open.stderr,
      /^gradpool: --host 0\.0\.0\.0 can be reached from other machines: give --token \(or GRADPOOL_TOKEN\), or --no-auth to serve an open API\n$/,
    );
    assert.ok(!existsSync(join(dir, 'a')), 'nothing created');
    const both = runCli(['serve', '--no-auth', '--token', 'x', '--port', '0', '--data-dir', join(dir, 'a')]);
    assert.equal(both.status, 2, both.stderr);
    assert.equal(
      both.stderr,
      'gradpool: --no-auth and a token (--token or GRADPOOL_TOKEN) contradict each other\n',
    );
    const asked = await startServer(['--host', '0.0.0.0', '--no-auth', '--data-dir', join(dir, 'b')], {
      GRADPOOL_TOKEN: '',
    });
    try {
      assert.match(asked.url, /^http:\/\/0\.0\.0\.0:\d+$/, 'the address it is bound to, not 127.0.0.1');
      const port = new URL(asked.url).port;
      assert.equal((await fetch(`http://127.0.0.1:${port}/jobs`)).status, 200, 'open, as asked');
    } finally {
      await asked.stop();
    }
  });

  it('no token on loopback: one warning, once it listens', async (t) => {
    const server = await startServer(['--data-dir', join(tempDir(t), 'a')], { GRADPOOL_TOKEN: '' });
    try {
      await server.stop();
      assert.deepEqual(server.stderrLines(), [
        'gradpool: warning: no token: any program on this machine can submit and cancel jobs',
      ]);
    } finally {
      await server.stop();
    }
  });
});

describe('gradpool serve: a --data-dir it cannot use', () => {
  it('a file, or a folder whose job database is not SQLite: exit 2 with one line, the file untouched', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    const asFile = runCli(['serve', '--port', '0', '--data-dir', file], { GRADPOOL_TOKEN: '' });
    assert.equal(asFile.status, 2, asFile.stderr);
    assert.equal(asFile.stderr.trim(), `gradpool: --data-dir ${file} is not a folder`);
    const corrupt = join(dir, 'corrupt');
    mkdirSync(corrupt);
    const junk = 'not a database '.repeat(20);
    writeFileSync(join(corrupt, 'gradpool.db'), junk);
    const r = runCli(['serve', '--port', '0', '--data-dir', corrupt], { GRADPOOL_TOKEN: '' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr.trim(),
      /^gradpool: --data-dir \S+corrupt: cannot open its job database: file is not a database$/,
    );
    assert.equal(readFileSync(join(corrupt, 'gradpool.db'), 'utf8'), junk);
  });
});

/** buildApp on a fresh job store in this process: the limits a test gives over small defaults. */
function inProcess(
  t: { after: (fn: () => void) => void },
  limits: Partial<Parameters<typeof buildApp>[2]> = {},
) {
  const store = new JobStore(tempDir(t));
  const given = {
    token: null,
    threads: 1,
    maxThreads: 2,
    maxEpochs: 10,
    maxParams: 1e6,
    maxQueued: 10,
    dataRoot: null,
    ...limits,
  };
  const runner = new JobRunner(store, { concurrency: 1, checkpointEvery: 10, maxParams: given.maxParams });
  const app = buildApp(store, runner, given);
  const close = async () => {
    await runner.shutdown();
    await app.close();
    store.close();
  };
  return { store, runner, app, close };
}

describe('gradpool serve: limits that need the model', () => {
  it('refuses with 422 a job whose working memory WebAssembly cannot address', async (t) => {
    const { store, app, close } = inProcess(t, { maxParams: 5e7 });
    try {
      const r = await app.inject({
        method: 'POST',
        url: '/jobs',
        payload: { hidden: [60000], batchSize: 8000 },
      });
      assert.equal(r.statusCode, 422);
      assert.match(
        r.json().error,
        /784-60000-10 in batches of 8000 rows on 1 thread needs 4\.\d GiB of working memory; WebAssembly's limit is 4 GiB: lower batchSize, hidden or threads/,
      );
      assert.equal(store.countQueued(), 0);
    } finally {
      await close();
    }
  });

  it("a CSV job trains with its own settings; past the server's parameter cap it fails once its file is read", async (t) => {
    const root = tempDir(t);
    const rows = Array.from({ length: 60 }, (_, i) => `${i % 7},${(i * 3) % 5},${i % 2 ? 'a' : 'b'}`);
    writeFileSync(join(root, 't.csv'), `x,z,y\n${rows.join('\n')}\n`);
    const { store, app, close } = inProcess(t, { maxParams: 1000, dataRoot: root });
    try {
      const r = await app.inject({
        method: 'POST',
        url: '/jobs',
        payload: { data: 'csv:t.csv', target: 'y', hidden: [400], epochs: 1, batchSize: 16 },
      });
      assert.equal(r.statusCode, 201, r.body);
      const { id } = r.json();
      for (let i = 0; i < 200 && store.get(id)?.state !== 'failed'; i++)
        await new Promise((w) => setTimeout(w, 50));
      assert.equal(store.get(id)?.state, 'failed');
      // 2 inputs → 400 → 2 classes: 2·400 + 400 + 400·2 + 2 parameters
      assert.match(String(store.get(id)?.error), /the model has 2002 parameters; the server's limit is 1000/);
      // within the cap, the same file trains: the job reads it with its own target and split
      const ok = await app.inject({
        method: 'POST',
        url: '/jobs',
        payload: { data: 'csv:t.csv', target: 'y', hidden: [4], epochs: 2, batchSize: 16, testSplit: 0.25 },
      });
      assert.equal(ok.statusCode, 201, ok.body);
      const job = ok.json().id;
      for (let i = 0; i < 400 && store.get(job)?.state !== 'succeeded'; i++)
        await new Promise((w) => setTimeout(w, 50));
      assert.equal(store.get(job)?.state, 'succeeded', String(store.get(job)?.error));
      const metrics = store.get(job)?.metrics as { testAccuracy?: number }[];
      assert.equal(metrics.length, 2);
      // 60 rows, a quarter of them (15) test rows: an accuracy is a whole number of fifteenths
      const correct = (metrics[1].testAccuracy ?? Number.NaN) * 15;
      assert.ok(Math.abs(correct - Math.round(correct)) < 1e-9, String(metrics[1].testAccuracy));
    } finally {
      await close();
    }
  });
});

describe('gradpool serve shutting down', () => {
  it('refuses new jobs with 503 once shutdown has begun', async (t) => {
    const { runner, app, close } = inProcess(t);
    try {
      await runner.shutdown();
      const r = await app.inject({ method: 'POST', url: '/jobs', payload: { epochs: 1 } });
      assert.equal(r.statusCode, 503);
      assert.match(r.json().error, /shutting down/);
      assert.deepEqual((await app.inject({ url: '/healthz' })).json(), { ok: true, accepting: false });
    } finally {
      await close();
    }
  });

  it('SIGTERM mid-job, a client following its events: exit 0 with the job checkpointed; the next start finishes it with the same bytes', async (t) => {
    const dir = tempDir(t);
    const args = crashArgs(dir, 5);
    const server = await startServer(args, SLOW_SHARDS);
    const { id } = await body(await post(server.url, { hidden: [48], epochs: 5, seed: 2 }));
    await waitFor(server.url, id, ['running']);
    // an open event stream of a job that stays running must not hold the server's exit
    const events = await fetch(`${server.url}/jobs/${id}/events`, { headers: auth });
    const streamEnded = events.text();
    await new Promise((r) => setTimeout(r, 300));
    server.child.kill('SIGTERM');
    const timeout = new Promise((r) => setTimeout(() => r('still running 20 s after SIGTERM'), 20_000));
    assert.equal(await Promise.race([server.exited, timeout]), 0);
    assert.match(await streamEnded, /"state":"running"/);
    await finishesAfterRestart(args, id, dir, [
      '--hidden',
      '48',
      '--epochs',
      '5',
      '--seed',
      '2',
      '--threads',
      '1',
    ]);
  });
});

describe('gradpool serve on a CPU without FMA (node --no-enable-fma3)', () => {
  it('refuses a job naming an arithmetic that cannot run here with 400 and the reason; wasm-simd is accepted', async (t) => {
    const dir = tempDir(t);
    // V8 without FMA, and no native kernels (an ISA this CPU lacks): nothing computes the fused arithmetic
    const server = await startServer(
      ['--data-dir', join(dir, 'data'), '--token', TOKEN, '--threads', '1'],
      { GRADPOOL_NATIVE_ISA: 'off' },
      ['--no-enable-fma3'],
    );
    t.after(() => server.stop());
    const refused = await post(server.url, { hidden: [8], epochs: 1, kernels: 'wasm-relaxed-simd' });
    assert.equal(refused.status, 400);
    assert.match(
      (await body<{ error: string }>(refused)).error,
      /^kernels wasm-relaxed-simd: this CPU has no fused multiply-add/,
    );
    const native = await post(server.url, { hidden: [8], epochs: 1, kernels: 'native' });
    assert.equal(native.status, 400);
    assert.match(
      (await body<{ error: string }>(native)).error,
      /^kernels native: native kernels unavailable: GRADPOOL_NATIVE_ISA=off$/,
    );
    const accepted = await post(server.url, { hidden: [8], epochs: 1, kernels: 'wasm-simd' });
    assert.equal(accepted.status, 201);
    await waitFor(server.url, (await body(accepted)).id, ['succeeded']);
  });

  it('accepts wasm-relaxed-simd there where the native kernels compute it (they read the CPU, not V8)', async (t) => {
    if (NATIVE_VARIANTS.length === 0) return t.skip('no native kernels here');
    const dir = tempDir(t);
    const server = await startServer(
      ['--data-dir', join(dir, 'data'), '--token', TOKEN, '--threads', '1'],
      {},
      ['--no-enable-fma3'],
    );
    t.after(() => server.stop());
    const accepted = await post(server.url, { hidden: [8], epochs: 1, kernels: 'wasm-relaxed-simd' });
    assert.equal(accepted.status, 201);
    await waitFor(server.url, (await body(accepted)).id, ['succeeded']);
  });
});
