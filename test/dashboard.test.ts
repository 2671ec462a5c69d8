import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { chromium } from 'playwright-core';
import { CLI, tempDir } from './helpers.js';

// The dashboard in a real browser (Debian's chromium, headless, through playwright-core):
// submit a job through the form, watch it reach succeeded, read the accuracy off the page.

const CHROMIUM = '/usr/bin/chromium';

function startServer(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
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

it('submits a job from the form and shows it succeed with its accuracy and chart', {
  skip: !existsSync(CHROMIUM) && 'chromium is not installed',
}, async (t) => {
  const dir = tempDir(t);
  const server = await startServer([
    '--data-dir',
    join(dir, 'data'),
    '--token',
    'browser-token',
    '--threads',
    '2',
  ]);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
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
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.fill('#token', 'browser-token');
    await page.click('#save-token');
    await page.fill('input[name=hidden]', '32');
    await page.fill('input[name=epochs]', '3');
    await page.click('button[type=submit]');
    const row = page.locator('#jobs tr').first();
    await row.locator('.state-succeeded').waitFor({ timeout: 90_000 });
    const shown = (await row.locator('.accuracy').textContent())?.trim();
    // the same figure through the API
    const jobs = await (
      await fetch(`${server.url}/jobs`, { headers: { authorization: 'Bearer browser-token' } })
    ).json();
    const job = (jobs as { jobs: { metrics: { testAccuracy: number }[] }[] }).jobs[0];
    const accuracy = job.metrics[job.metrics.length - 1].testAccuracy;
    assert.equal(shown, `${(100 * accuracy).toFixed(2)} %`);
    assert.ok(accuracy > 0.85, `accuracy ${accuracy}`);
    // the chart draws one point per epoch for both curves
    const paths = await page
      .locator('#chart path')
      .evaluateAll((els) => els.map((e) => (e.getAttribute('d') ?? '').split(/[ML]/).filter(Boolean).length));
    assert.deepEqual(paths, [3, 3]);
    if (process.env.GRADPOOL_SCREENSHOT)
      await page.screenshot({ path: process.env.GRADPOOL_SCREENSHOT, fullPage: true });
    // a wrong token is reported on the page, not swallowed
    await page.fill('#token', 'wrong');
    await page.click('#save-token');
    await page.locator('#error', { hasText: 'missing or wrong token' }).waitFor({ timeout: 10_000 });
  } finally {
    await browser.close();
    server.child.kill('SIGTERM');
  }
});
