import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { DASHBOARD_HTML } from '../src/server/dashboard.js';
import { CONFIG_FIELDS, defaultConfig } from '../src/train/config.js';
import { CLI, tempDir } from './helpers.js';
import { CHROMIUM, CHROMIUM_PATH, needs } from './requirements.js';

// The dashboard in a real browser (Debian's chromium, headless, through playwright-core)
// against a real `gradpool serve`: the form, the jobs table, the chart and the model download,
// each checked against what the API says.

const TOKEN = 'browser-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** the server's --threads: what a job that leaves threads empty trains with */
const SERVER_THREADS = 2;
const POLL_MS = 2000;

interface Metric {
  epoch: number;
  trainLoss: number;
  testAccuracy: number;
  samplesPerSec: number;
}
interface ApiJob {
  id: string;
  state: string;
  config: Record<string, unknown>;
  metrics: Metric[];
  createdAt: string;
  finishedAt?: string;
}

function startServer(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const args = ['serve', '--port', '0', '--data-dir', dataDir, '--token', TOKEN];
  return new Promise((resolve, reject) => {
    const threads = ['--threads', String(SERVER_THREADS), '--max-threads', String(SERVER_THREADS)];
    const child = spawn(process.execPath, [CLI, ...args, ...threads], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"listening"'));
      if (line) resolve({ url: JSON.parse(line).url, child });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  return exited;
}

function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Runs `body` on a fresh server and a page whose token the server has accepted; closes both after. */
async function withDashboard(
  t: TestContext,
  body: (page: Page, url: string) => Promise<void>,
): Promise<void> {
  const [server, browser] = await Promise.allSettled([
    startServer(join(tempDir(t), 'data')),
    launchBrowser(),
  ]);
  try {
    if (server.status === 'rejected') throw server.reason;
    if (browser.status === 'rejected') throw browser.reason;
    const page = await browser.value.newPage();
    await page.goto(server.value.url);
    await page.fill('#token', TOKEN);
    await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/jobs' && r.status() === 200),
      page.click('#save-token'),
    ]);
    await body(page, server.value.url);
  } finally {
    if (browser.status === 'fulfilled') await browser.value.close();
    if (server.status === 'fulfilled') await stopServer(server.value.child);
  }
}

interface Submitted {
  status: number;
  /** the job body the page sent */
  sent: Record<string, unknown>;
  answer: { id?: string; error?: string; field?: string };
}

/** Fills the named form inputs, submits, and returns the request and the server's answer. */
async function submit(page: Page, fields: Record<string, string>): Promise<Submitted> {
  for (const [name, value] of Object.entries(fields)) await page.fill(`#submit [name=${name}]`, value);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/jobs'),
    page.click('#submit button[type=submit]'),
  ]);
  return {
    status: response.status(),
    sent: response.request().postDataJSON(),
    answer: await response.json(),
  };
}

async function apiJob(url: string, id: string): Promise<ApiJob> {
  const r = await fetch(`${url}/jobs/${id}`, { headers: AUTH });
  assert.equal(r.status, 200);
  return (await r.json()) as ApiJob;
}

/** Submits a small job through the form and waits until the table shows it succeeded. */
async function trainedJob(page: Page, url: string, epochs: number): Promise<ApiJob> {
  const { status, answer } = await submit(page, { hidden: '32', epochs: String(epochs) });
  assert.equal(status, 201, JSON.stringify(answer));
  const id = answer.id!;
  await page.locator(`#jobs tr[data-id="${id}"] .state-succeeded`).waitFor({ timeout: 60_000 });
  return apiJob(url, id);
}

const text = async (page: Page, selector: string) => ((await page.textContent(selector)) ?? '').trim();

/** An axis's tick labels as numbers, lowest first, with their y positions. */
async function ticks(page: Page, cls: string): Promise<{ value: number; y: number }[]> {
  const found = await page
    .locator(`#chart .${cls}`)
    .evaluateAll((els) =>
      els.map((e) => ({ value: parseFloat(e.textContent ?? ''), y: Number(e.getAttribute('y')) })),
    );
  return found.sort((a, b) => a.value - b.value);
}

/** Asserts the ticks cover [min, max] and reach at most one step beyond it on either side. */
function assertCovers(axis: { value: number }[], min: number, max: number, what: string): void {
  const values = axis.map((t) => t.value);
  const step = values[1] - values[0];
  const [lowest, highest] = [values[0], values[values.length - 1]];
  const eps = 1e-9 * Math.max(1, Math.abs(max));
  const shown = `${what} ticks ${values.join(', ')} for data ${min} … ${max}`;
  assert.ok(step > 0, shown);
  assert.ok(lowest <= min + eps && highest >= max - eps, shown);
  assert.ok(lowest >= min - step - eps && highest <= max + step + eps, shown);
}

/** Asserts the ticks of a single value hold it within a small span of at least two ticks. */
function assertPadded(axis: { value: number }[], value: number, span: number, what: string): void {
  const values = axis.map((t) => t.value);
  const [lowest, highest] = [values[0], values[values.length - 1]];
  const shown = `${what} ticks ${values.join(', ')} for ${value}`;
  assert.ok(values.length >= 2 && lowest <= value && value <= highest && highest - lowest <= span, shown);
}

describe('the dashboard', needs(CHROMIUM), () => {
  it('shows a job submitted from the form succeed with its settings, times and accuracy', async (t) => {
    await withDashboard(t, async (page, url) => {
      const job = await trainedJob(page, url, 2);
      const row = `#jobs tr[data-id="${job.id}"]`;
      const c = job.config;
      const last = job.metrics[job.metrics.length - 1];
      assert.equal(await page.getAttribute(`${row} .id code`, 'title'), job.id);
      assert.equal(await text(page, `${row} .id`), job.id.slice(0, 8));
      assert.equal(await text(page, `${row} .data`), 'mnist');
      assert.equal(await text(page, `${row} .layers`), '32 relu');
      assert.equal(
        await text(page, `${row} .optimizer`),
        `sgd lr ${c.lr} · momentum ${c.momentum} · weight decay ${c.weightDecay} · batch ${c.batchSize}`,
      );
      assert.equal(await page.getAttribute(`${row} .created time`, 'datetime'), job.createdAt);
      assert.equal(await page.getAttribute(`${row} .finished time`, 'datetime'), job.finishedAt);
      assert.match(await text(page, `${row} .finished`), /\d:\d\d/);
      assert.equal(
        (await text(page, `${row} .speed`)).replace(/\D/g, ''),
        String(Math.round(last.samplesPerSec)),
      );
      assert.equal(await text(page, `${row} .accuracy`), `${(100 * last.testAccuracy).toFixed(2)} %`);
      assert.ok(last.testAccuracy > 0.85, `accuracy ${last.testAccuracy}`);
      if (process.env.GRADPOOL_SCREENSHOT)
        await page.screenshot({ path: process.env.GRADPOOL_SCREENSHOT, fullPage: true });
    });
  });

  it('reports a wrong token on the page', async (t) => {
    await withDashboard(t, async (page) => {
      // the page's first poll went out before it had a token; the next one clears its message
      await page.locator('#error:empty').waitFor({ state: 'attached' });
      await page.fill('#token', 'wrong');
      await page.click('#save-token');
      await page.locator('#error', { hasText: 'missing or wrong token' }).waitFor({ timeout: 10_000 });
    });
  });

  it('keeps a rejected submission’s message and marked field through the polls until the next submit', async (t) => {
    await withDashboard(t, async (page, url) => {
      const bad = await submit(page, { hidden: '32,x', epochs: '1' });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.sent.hidden, [32, 'x']);
      // what the API answers that setting alone
      const direct = await fetch(`${url}/jobs`, {
        method: 'POST',
        headers: { ...AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ hidden: [32, 'x'] }),
      });
      const { error, field } = (await direct.json()) as { error: string; field: string };
      assert.equal(field, 'hidden.1');
      const shown = async () => [
        await text(page, '#form-error'),
        await page
          .locator('#submit [aria-invalid=true]')
          .evaluateAll((els) => els.map((e) => e.getAttribute('name'))),
      ];
      assert.deepEqual(await shown(), [error, ['hidden']]);
      let polls = 0;
      page.on('request', (r) => {
        if (r.method() === 'GET' && new URL(r.url()).pathname === '/jobs') polls++;
      });
      await page.waitForTimeout(2.25 * POLL_MS);
      assert.ok(polls >= 2, `${polls} polls`);
      assert.deepEqual(await shown(), [error, ['hidden']]);
      assert.equal(await text(page, '#error'), '');
      const good = await submit(page, { hidden: '32' });
      assert.equal(good.status, 201);
      await page.locator(`#jobs tr[data-id="${good.answer.id}"]`).waitFor();
      assert.deepEqual(await shown(), ['', []]);
    });
  });

  it('draws the chart’s axes over the range of the job’s loss and accuracy', async (t) => {
    await withDashboard(t, async (page, url) => {
      const job = await trainedJob(page, url, 3);
      const accuracy = job.metrics.map((m) => 100 * m.testAccuracy);
      const loss = job.metrics.map((m) => m.trainLoss);
      const acc = await ticks(page, 'tick-acc');
      assertCovers(acc, Math.min(...accuracy), Math.max(...accuracy), 'accuracy');
      assert.ok(
        acc[0].value > 0 && acc[acc.length - 1].value - acc[0].value < 50,
        'accuracy axis spans < 50 %',
      );
      assertCovers(await ticks(page, 'tick-loss'), Math.min(...loss), Math.max(...loss), 'loss');
      const epochs = (await ticks(page, 'tick-x')).map((e) => e.value);
      assert.deepEqual(epochs, [1, 2, 3]);
      // one point per epoch on each curve, and the accuracy's change fills much of its axis
      const points = (cls: string) =>
        page.locator(`#chart .${cls}`).evaluate((e) =>
          (e.getAttribute('d') ?? '')
            .split(/[ML]/)
            .filter(Boolean)
            .map((p: string) => Number(p.split(',')[1])),
        );
      assert.equal((await points('line-loss')).length, 3);
      const accY = await points('line-acc');
      assert.equal(accY.length, 3);
      const axisPx = acc[0].y - acc[acc.length - 1].y;
      const curvePx =
        accY[accuracy.indexOf(Math.min(...accuracy))] - accY[accuracy.indexOf(Math.max(...accuracy))];
      assert.ok(curvePx > 0.4 * axisPx, `the accuracy rises ${curvePx} px of the axis' ${axisPx}`);
    });
  });

  it('pads the axes of a one-epoch job and keeps accuracy within 0–100 %', async () => {
    // an edge no real job reaches on demand, so the page gets the job list from a stub
    const origin = 'http://dashboard.test';
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      for (const [trainLoss, testAccuracy] of [
        [0.5, 0.9],
        [0, 1],
      ]) {
        const metric = {
          epoch: 1,
          trainLoss,
          testAccuracy,
          trainAccuracy: 0.5,
          testLoss: 1,
          samplesPerSec: 1,
        };
        const job = { id: 'one-epoch', state: 'succeeded', config: { ...defaultConfig(), epochs: 1 } };
        const jobs = [{ ...job, progress: null, metrics: [metric], createdAt: new Date().toISOString() }];
        await page.route(`${origin}/**`, (route) =>
          new URL(route.request().url()).pathname === '/'
            ? route.fulfill({ contentType: 'text/html', body: DASHBOARD_HTML })
            : route.fulfill({ json: { jobs } }),
        );
        await page.goto(origin);
        await page.locator('#chart .tick-acc').first().waitFor();
        assert.deepEqual(
          (await ticks(page, 'tick-x')).map((e) => e.value),
          [1],
        );
        const acc = await ticks(page, 'tick-acc');
        assertPadded(acc, 100 * testAccuracy, 5, 'accuracy');
        assert.ok(
          acc[0].value > 0 && acc[acc.length - 1].value <= 100,
          `accuracy ticks ${acc.map((a) => a.value)}`,
        );
        const loss = await ticks(page, 'tick-loss');
        assertPadded(loss, trainLoss, 0.05, 'loss');
        assert.ok(loss[0].value >= 0, `loss ticks ${loss.map((l) => l.value)}`);
        const dots = await page
          .locator('#chart circle')
          .evaluateAll((els) => els.flatMap((e) => [e.getAttribute('cx'), e.getAttribute('cy')]).map(Number));
        assert.equal(dots.length, 4);
        assert.ok(dots.every(Number.isFinite), `dots at ${dots}`);
      }
    } finally {
      await browser.close();
    }
  });

  it('downloads a finished job’s model with the bytes the API serves', async (t) => {
    await withDashboard(t, async (page, url) => {
      const job = await trainedJob(page, url, 1);
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click(`#jobs tr[data-id="${job.id}"] [data-download]`),
      ]);
      assert.equal(download.suggestedFilename(), `${job.id}.safetensors`);
      const got = readFileSync(await download.path());
      const r = await fetch(`${url}/jobs/${job.id}/model`, { headers: AUTH });
      assert.equal(r.status, 200);
      const served = Buffer.from(await r.arrayBuffer());
      assert.ok(served.length > 32 * 784 * 4, `${served.length} bytes`);
      assert.ok(got.equals(served), `downloaded ${got.length} bytes, served ${served.length}`);
    });
  });

  it('has an input for every config field, holding its default', async (t) => {
    await withDashboard(t, async (page) => {
      const defaults = defaultConfig() as unknown as Record<string, unknown>;
      for (const [key, spec] of Object.entries(CONFIG_FIELDS)) {
        const input = page.locator(`#submit [name=${key}]`);
        assert.equal(await input.count(), 1, key);
        // threads' default is the server's, unknown to the page; keep's depends on the validation split
        const serverDefault = key === 'threads' || key === 'keep';
        assert.equal(await input.inputValue(), serverDefault ? '' : String(defaults[key]), key);
        if (spec.kind === 'choice' || spec.kind === 'boolean') {
          const options = await input.locator('option').allTextContents();
          const choices = spec.kind === 'boolean' ? ['false', 'true'] : spec.choices;
          assert.deepEqual(options, serverDefault ? ['server default', ...(choices ?? [])] : choices, key);
        }
      }
    });
  });

  it('stores the values typed in the form and leaves emptied inputs to the server’s defaults', async (t) => {
    await withDashboard(t, async (page, url) => {
      const typed = { hidden: '32', epochs: '1', seed: '7', momentum: '0.5', lr: '', threads: '' };
      const r = await submit(page, typed);
      assert.equal(r.status, 201, JSON.stringify(r.answer));
      assert.ok(!('lr' in r.sent) && !('threads' in r.sent), JSON.stringify(r.sent));
      const { config } = await apiJob(url, r.answer.id!);
      assert.deepEqual(
        [config.seed, config.momentum, config.lr, config.threads],
        [7, 0.5, defaultConfig().lr, SERVER_THREADS],
      );
    });
  });
});
