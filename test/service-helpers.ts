import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../src/io/checkpoint.js';
import { CLI, runCli } from './helpers.js';

// Driving `gradpool serve` and `gradpool worker` as a user would: child processes, HTTP on
// loopback, their JSON log lines.

/** A long-running gradpool command (serve, worker) and the JSON lines it logs. */
export interface Service {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** every JSON line it has printed so far */
  events: Record<string, unknown>[];
  /** resolves with the first logged event (past or future) that matches */
  waitForEvent(
    match: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** what it has written to stderr so far, by line */
  stderrLines(): string[];
}

export interface Server extends Service {
  url: string;
}

/** `gradpool COMMAND ARGS` in a child process; `nodeArgs` go to node itself (V8 flags, for instance). */
export function startService(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Service {
  const child = spawn(process.execPath, [...nodeArgs, CLI, command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const events: Record<string, unknown>[] = [];
  const emitter = new EventEmitter();
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    const lines = out.split('\n');
    out = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const event = JSON.parse(line) as Record<string, unknown>;
      events.push(event);
      emitter.emit('event', event);
    }
  });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    process.stderr.write(d);
  });
  const stderrLines = () => err.split('\n').filter((l) => l !== '');
  const waitForEvent = (match: (e: Record<string, unknown>) => boolean, timeoutMs = 120_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = events.find(match);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${command}: no matching event in ${timeoutMs} ms`));
      }, timeoutMs);
      const onEvent = (e: Record<string, unknown>) => {
        if (!match(e)) return;
        cleanup();
        resolve(e);
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`${command} exited with ${code}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        emitter.off('event', onEvent);
        child.off('exit', onExit);
      };
      emitter.on('event', onEvent);
      child.on('exit', onExit);
    });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return { child, exited, events, waitForEvent, stop, stderrLines };
}

export async function startServer(
  args: string[],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<Server> {
  const service = startService('serve', ['--port', '0', ...args], env, nodeArgs);
  const listening = await service.waitForEvent((e) => e.event === 'listening', 60_000);
  return { ...service, url: String(listening.url) };
}

export interface JobJson {
  id: string;
  state: string;
  error?: string;
  metrics: { testAccuracy: number; valLoss?: number }[];
  progress: Record<string, unknown> | null;
}
export const body = async <T = JobJson>(r: Response): Promise<T> => (await r.json()) as T;

export const TOKEN = 'test-token';
export const auth = { authorization: `Bearer ${TOKEN}` };
export const json = { ...auth, 'content-type': 'application/json' };
/** POST to the server at `url` (to `path` under it: /jobs unless given; '' for `url` itself). */
export const post = (url: string, body: unknown, headers: Record<string, string> = json, path = '/jobs') =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

export async function waitFor(url: string, id: string, states: string[], timeoutMs = 120_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const job = await body(await fetch(`${url}/jobs/${id}`, { headers: auth }));
    if (states.includes(job.state)) return job;
    if (Date.now() > end) throw new Error(`job ${id} is still ${job.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The model `gradpool train` writes for a job config, to compare bytes with. */
export function cliModel(dir: string, flags: string[]): Buffer {
  const out = join(dir, `cli-${flags.join('_')}.safetensors`);
  const r = runCli(['train', ...flags, '--out', out, '--log', 'json']);
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(out);
}

/**
 * A server's shards stall 10 ms one time in 20 (GRADPOOL_INJECT_FAULTS=slow, which changes no
 * byte), so that a job of a few epochs is still running when a test stops the server: at full
 * speed such a job can end before the signal arrives.
 */
export const SLOW_SHARDS = { GRADPOOL_INJECT_FAULTS: 'slow:0.05' };

/**
 * Starts the server again and checks that it found the job still running, with a checkpoint
 * past its first step to resume from, and that the job finishes with the bytes `gradpool train`
 * writes.
 */
export async function finishesAfterRestart(args: string[], id: string, dir: string, flags: string[]) {
  const dataDir = args[args.indexOf('--data-dir') + 1];
  const checkpoint = loadCheckpoint(join(dataDir, 'jobs', id, 'checkpoint.safetensors'));
  assert.ok(checkpoint.state.epoch > 0 || checkpoint.state.step > 0, 'a checkpoint past the start');
  const server = await startServer(args);
  try {
    const listening = server.events.find((e) => e.event === 'listening');
    assert.equal(listening?.resumed, 1, 'the job was still running when the server stopped');
    const job = await waitFor(server.url, id, ['succeeded', 'failed']);
    assert.equal(job.state, 'succeeded', job.error);
    const model = Buffer.from(
      await (await fetch(`${server.url}/jobs/${id}/model`, { headers: auth })).arrayBuffer(),
    );
    assert.ok(model.equals(cliModel(dir, flags)), 'same bytes as an uninterrupted run');
    const jobs = (await body<{ jobs: JobJson[] }>(await fetch(`${server.url}/jobs`, { headers: auth }))).jobs;
    assert.equal(jobs.length, 1, 'no job lost or duplicated');
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}
