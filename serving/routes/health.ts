import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppDeps } from '../deps.ts';

const ReadySchema = z.object({
  ready: z.boolean(), database: z.boolean(), model_version: z.number().int().nullable(),
  /** why the champion alias's version is not the one served (trained on another feature catalogue), else null */
  model_problem: z.string().nullable(),
});

/** Pings the database with a bound on the wait, so readiness answers quickly while it is away. */
async function databaseUp(deps: AppDeps, timeoutMs = 1500): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([deps.pool.query('SELECT 1').then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up', response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

    app.get('/readyz', {
      schema: { tags: ['operations'], summary: 'Ready: the database answers and a champion model is loaded', response: { 200: ReadySchema, 503: ReadySchema } },
    }, async (_req, reply) => {
      const database = await databaseUp(deps);
      // A model that could not load while the database was away is loaded once it is back.
      if (database && !deps.holder.current) await deps.holder.refresh().catch((err) => deps.log.warn({ err }, 'champion not loadable yet'));
      const model = deps.holder.current;
      const ready = database && model !== null;
      return reply.code(ready ? 200 : 503).send({ ready, database, model_version: model?.version ?? null, model_problem: deps.holder.problem });
    });

    app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics', response: { 200: { content: { 'text/plain': { schema: z.string() } } } } } }, async (_req, reply) => {
      const text = deps.clusterMetrics ? await deps.clusterMetrics() : await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    });
  };
}
