import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { registerAlertGauges } from '../../jobs/alerts/metrics.ts';
import { redeliverDead } from '../../jobs/alerts/redrive.ts';
import { requireScope } from '../auth.ts';
import type { AppDeps } from '../deps.ts';
import { RedeliverBodySchema, RedeliverResponseSchema } from '../schemas/alerts.ts';
import { errorResponses } from '../schemas/errors.ts';

/** Alert delivery administration: the re-drive of dead-lettered webhook deliveries (and their gauge on /metrics). */
export function alertRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  const admin = requireScope(deps.auth, 'models:admin');
  registerAlertGauges(deps.metrics.registry, deps.pool, { onError: (err) => deps.log.debug({ err }, 'dead-letter gauge unavailable') });
  return async (app) => {
    app.post('/alerts/redeliver', {
      onRequest: admin,
      schema: {
        tags: ['alerts'], summary: 'Requeues dead-lettered webhook deliveries (attempts reset, sent by the next delivery round)', security: [{ bearer: [] }],
        body: RedeliverBodySchema, response: { 200: RedeliverResponseSchema, ...errorResponses },
      },
    }, async (req) => {
      const r = await redeliverDead(deps.pool, req.body);
      req.log.info({ selection: req.body, requeued: r.requeued, by: req.principal?.name }, 'dead-lettered webhook deliveries requeued');
      return r;
    });
  };
}
