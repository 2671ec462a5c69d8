import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { GradpoolError } from '../errors.js';
import { loadModel } from '../io/model-file.js';
import { type Answer, answers, Predictor } from '../train/predictor.js';
import type { JobStore } from './job-store.js';

// POST /jobs/:id/predict: a succeeded job's model on JSON rows, on a warm Predictor kept per
// job (the last few used), so a request costs a forward pass, not a thread pool's start.
// Table models take objects (column → number or text; extra keys ignored), image models
// arrays of pixel values 0–255. Answers are what `gradpool predict` writes as JSON lines.

/** Rows per request (more: 400, from the body's schema) and bytes per body (more: 413); split a bigger request. */
export const PREDICT_MAX_ROWS = 10_000;
export const PREDICT_BODY_LIMIT = 16 * 1024 * 1024;
const WARM_MODELS = 2;

const bodySchema = {
  type: 'object',
  required: ['rows'],
  additionalProperties: false,
  properties: {
    rows: {
      type: 'array',
      minItems: 1,
      maxItems: PREDICT_MAX_ROWS,
      items: { anyOf: [{ type: 'object' }, { type: 'array', items: { type: 'number' } }] },
    },
    proba: { type: 'boolean' },
  },
};

export function predictRoute(app: FastifyInstance, store: JobStore, threads: number | null): void {
  const warm = new Map<string, Promise<Predictor>>();
  const predictorFor = (id: string, path: string): Promise<Predictor> => {
    let p = warm.get(id);
    if (p)
      warm.delete(id); // re-inserted below: most recently used last
    else p = Predictor.open(loadModel(path), threads === null ? {} : { threads });
    warm.set(id, p);
    p.catch(() => warm.delete(id));
    while (warm.size > WARM_MODELS) {
      const [oldest, predictor] = warm.entries().next().value as [string, Promise<Predictor>];
      warm.delete(oldest);
      predictor.then((q) => q.close()).catch(() => {});
    }
    return p;
  };
  app.addHook('onClose', async () => {
    await Promise.all([...warm.values()].map((p) => p.then((q) => q.close()).catch(() => {})));
    warm.clear();
  });

  app.post<{ Params: { id: string }; Body: { rows: unknown[]; proba?: boolean } }>(
    '/jobs/:id/predict',
    { schema: { body: bodySchema }, bodyLimit: PREDICT_BODY_LIMIT },
    async (request, reply) => {
      const job = store.get(request.params.id);
      if (!job) return reply.code(404).send({ error: 'no such job' });
      const path = join(store.jobDir(job.id), 'model.safetensors');
      if (job.state !== 'succeeded')
        return reply.code(409).send({ error: `the job is ${job.state}; it predicts once it has succeeded` });
      if (!existsSync(path))
        return reply
          .code(409)
          .send({ error: 'the job has succeeded, but its model file is missing on the server' });
      const predictor = await predictorFor(job.id, path);
      const { rows, proba = false } = request.body;
      try {
        return { predictions: await run(predictor, rows, proba) };
      } catch (e) {
        if (!(e instanceof GradpoolError)) throw e;
        return reply.code(422).send({ error: e.message, field: e.field ?? 'rows' });
      }
    },
  );
}

async function run(predictor: Predictor, rows: readonly unknown[], proba: boolean): Promise<Answer[]> {
  const p = predictor.preprocessing;
  if (proba && !(p.kind === 'image' || p.target.task === 'classify'))
    throw new GradpoolError('proba applies to classifiers; this model regresses', 2, 'proba');
  if (p.kind === 'table') {
    rows.forEach((r, i) => {
      if (Array.isArray(r))
        throw new GradpoolError(`row ${i + 1}: this model takes objects of column values`, 2);
    });
    return predictor.predictRecords(rows as Record<string, unknown>[], proba);
  }
  const F = predictor.features;
  const pixels = new Uint8Array(rows.length * F);
  rows.forEach((r, i) => {
    if (!Array.isArray(r) || r.length !== F)
      throw new GradpoolError(`row ${i + 1}: this model takes arrays of ${F} pixel values`, 2);
    r.forEach((v, j) => {
      if (!Number.isInteger(v) || v < 0 || v > 255)
        throw new GradpoolError(`row ${i + 1}, pixel ${j}: expected a whole number 0–255, got ${v}`, 2);
      pixels[i * F + j] = v;
    });
  });
  return answers(p, await predictor.run(pixels, rows.length), rows.length, proba);
}
