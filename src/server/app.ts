import { createHash, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { dataShape } from '../data/shape.js';
import { GradpoolError } from '../errors.js';
import { isCsv, resolveConfig, type TrainConfig } from '../train/config.js';
import { resolveKernels } from '../train/kernels.js';
import { checkRunnable } from '../train/plan.js';
import { DASHBOARD_HTML } from './dashboard.js';
import { checkDataSpec, resolveDataSpec } from './data-access.js';
import type { JobExecutor } from './job-executor.js';
import { jobBodySchema } from './job-schema.js';
import { isFinal } from './job-states.js';
import type { JobStore } from './job-store.js';
import { predictRoute } from './predict-route.js';

// The HTTP job API. fastify: the ecosystem's most used maintained framework with JSON-schema
// validation (ajv) built in, a body limit, and light per-request overhead.

export interface ServerLimits {
  token: string | null;
  /** threads of a job that does not say; null: the threads of the worker that runs it (--queue) */
  threads: number | null;
  maxThreads: number;
  maxEpochs: number;
  maxParams: number;
  maxQueued: number;
  dataRoot: string | null;
}

export function buildApp(store: JobStore, runner: JobExecutor, limits: ServerLimits): FastifyInstance {
  const app = Fastify({
    bodyLimit: 64 * 1024,
    logger: false,
    // reject unknown fields instead of silently dropping them; no type coercion
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  const tokenDigest = limits.token ? createHash('sha256').update(limits.token).digest() : null;

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error.validation) {
      const v = error.validation[0];
      const params = v.params as { additionalProperty?: string; allowedValues?: unknown[] };
      const field = params.additionalProperty ?? v.instancePath.replace(/^\//, '').replace(/\//g, '.');
      const what = params.additionalProperty
        ? 'is not a known field'
        : params.allowedValues
          ? `must be one of ${params.allowedValues.join(', ')}`
          : v.message;
      return reply.code(400).send({ error: `${field || 'body'} ${what}`, field: field || undefined });
    }
    // messages from the library name the field they are about, as the request did
    if (error instanceof GradpoolError)
      return reply.code(400).send({ error: error.message, field: error.field });
    const status = error.statusCode ?? 500;
    return reply.code(status).send({ error: status === 500 ? 'internal error' : error.message });
  });

  app.addHook('onRequest', async (request, reply) => {
    // the health check and the dashboard page (which holds no data) are open
    if (!tokenDigest || request.url === '/healthz' || request.url === '/') return;
    const header = request.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    // compare digests: equal lengths, and the time does not depend on where they differ
    if (!timingSafeEqual(createHash('sha256').update(given).digest(), tokenDigest)) {
      return reply.code(401).send({ error: 'missing or wrong token' });
    }
  });

  // event streams of jobs still running when the server stops would hold app.close() open
  // until every client went away: they end, and a client reconnects to the next server
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });

  app.get('/healthz', async () => ({ ok: true, accepting: runner.isAccepting }));

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(DASHBOARD_HTML));

  app.post('/jobs', { schema: { body: jobBodySchema() } }, async (request, reply) => {
    if (!runner.isAccepting) return reply.code(503).send({ error: 'the server is shutting down' });
    const body = (request.body ?? {}) as Partial<Record<keyof TrainConfig, unknown>>;
    // every field the request gave is checked as given: beta1 under sgd is a 400, not ignored
    const given = new Set(Object.keys(body));
    const config = resolveConfig(
      limits.threads === null ? body : { threads: limits.threads, ...body },
      given,
    );
    const threadsChosen = body.threads !== undefined || limits.threads !== null;
    const caps: [boolean, keyof TrainConfig, string][] = [
      [
        threadsChosen && config.threads > limits.maxThreads,
        'threads',
        `threads ${config.threads} exceeds the server's limit of ${limits.maxThreads}`,
      ],
      [
        config.epochs > limits.maxEpochs,
        'epochs',
        `epochs ${config.epochs} exceeds the server's limit of ${limits.maxEpochs}`,
      ],
    ];
    for (const [over, field, error] of caps) if (over) return reply.code(422).send({ error, field });
    // a named kernel build must run here; under --queue, on whichever worker takes the job
    if (limits.threads !== null && config.kernels !== 'auto') await resolveKernels(config.kernels);
    checkDataSpec(config.data, limits.dataRoot);
    const data = resolveDataSpec(config.data, limits.dataRoot);
    // a CSV's test file is a path on the server too, under the same rules
    if (config.testData !== '') checkDataSpec(config.testData, limits.dataRoot, 'testData');
    const testData = config.testData === '' ? '' : resolveDataSpec(config.testData, limits.dataRoot);
    const shape = await dataShape(data);
    try {
      // under --queue the worker's thread count may differ; this checks with the server's
      // a CSV's shape is known once it loads: the runner reports what does not fit
      if (shape) checkRunnable(shape, config, limits.maxParams);
    } catch (e) {
      if (!(e instanceof GradpoolError)) throw e;
      return reply.code(422).send({ error: e.message, field: e.field });
    }
    const key = request.headers['idempotency-key'];
    const idempotencyKey = typeof key === 'string' && key !== '' ? key.slice(0, 200) : undefined;
    if (!idempotencyKey && store.countQueued() >= limits.maxQueued) {
      return reply.code(429).send({ error: `${limits.maxQueued} jobs are already queued` });
    }
    const stored: Record<string, unknown> = { ...config, data, testData };
    // left to the worker that takes the job, which trains with its own --threads
    if (!threadsChosen) delete stored.threads;
    // a CSV's default rate depends on its task, known once the data loads: left to the run
    if (body.lr === undefined && isCsv(config)) delete stored.lr;
    const { job, created } = store.create(stored, idempotencyKey);
    // a retry must be the same request: a key reused for other settings would silently drop them
    if (!created && JSON.stringify(job.config) !== JSON.stringify(stored)) {
      return reply.code(422).send({
        error: `idempotency-key '${idempotencyKey}' was used for job ${job.id} with other settings`,
      });
    }
    if (created) await runner.submitted(job.id);
    // the state at acceptance: a new job is queued, a repeated key returns the job as it was then
    return reply.code(created ? 201 : 200).send({ id: job.id, state: job.state });
  });

  app.get('/jobs', async () => ({ jobs: store.list() }));

  app.get<{ Params: { id: string } }>('/jobs/:id', async (request, reply) => {
    const job = store.get(request.params.id);
    return job ?? reply.code(404).send({ error: 'no such job' });
  });

  app.get<{ Params: { id: string } }>('/jobs/:id/model', async (request, reply) => {
    const job = store.get(request.params.id);
    if (!job) return reply.code(404).send({ error: 'no such job' });
    const path = join(store.jobDir(job.id), 'model.safetensors');
    if (job.state !== 'succeeded' || !existsSync(path)) {
      return reply
        .code(409)
        .send({ error: `the job is ${job.state}; its model exists once it has succeeded` });
    }
    return reply
      .type('application/octet-stream')
      .header('content-disposition', `attachment; filename="${job.id}.safetensors"`)
      .send(createReadStream(path));
  });

  predictRoute(app, store, limits.threads);

  app.delete<{ Params: { id: string } }>('/jobs/:id', async (request, reply) => {
    const job = store.get(request.params.id);
    if (!job) return reply.code(404).send({ error: 'no such job' });
    if (isFinal(job.state)) return reply.code(409).send({ error: `the job is already ${job.state}` });
    await runner.cancel(job.id);
    return reply.code(202).send({ id: job.id, state: store.get(job.id)?.state });
  });

  app.get<{ Params: { id: string } }>('/jobs/:id/events', async (request, reply) => {
    const job = store.get(request.params.id);
    if (!job) return reply.code(404).send({ error: 'no such job' });
    reply.hijack();
    const res = reply.raw;
    streams.add(res);
    res.on('close', () => streams.delete(res));
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const send = (payload: unknown) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
    send({ state: job.state, progress: job.progress });
    if (isFinal(job.state)) return res.end();
    const listener = (payload: { state: string }) => {
      send(payload);
      if (isFinal(payload.state)) close();
    };
    const close = () => {
      runner.events.off(`job:${job.id}`, listener);
      res.end();
    };
    runner.events.on(`job:${job.id}`, listener);
    request.raw.on('close', () => runner.events.off(`job:${job.id}`, listener));
  });

  return app;
}
