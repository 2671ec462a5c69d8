import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';

// The Redis the queue tests use: the one `.ci/run` starts (GRADPOOL_TEST_REDIS), or a
// private redis-server (from PATH) on a free loopback port. Tests use their own queue names,
// so they share a server safely.

export interface TestRedis {
  url: string;
  client: Redis;
  close(): Promise<void>;
}

export async function testRedis(): Promise<TestRedis> {
  let url = process.env.GRADPOOL_TEST_REDIS;
  let stopServer = async () => {};
  if (!url) {
    // the suites that call this are skipped (or, under CI, failed) without it: requirements.ts
    const port = 20000 + Math.floor(Math.random() * 20000);
    const server = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise((done) => server.on('exit', done));
    stopServer = async () => {
      server.kill('SIGTERM');
      await exited;
    };
    url = `redis://127.0.0.1:${port}`;
  }
  // a fresh client per attempt: the server may still be starting
  let client: Redis;
  for (let attempt = 0; ; attempt++) {
    client = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (e) {
      client.disconnect();
      if (attempt >= 50) {
        await stopServer();
        throw new Error(`no Redis at ${url}: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    client,
    close: async () => {
      client.disconnect();
      await stopServer();
    },
  };
}
