import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requireScope } from '../auth.ts';
import type { AppDeps } from '../deps.ts';
import { errorResponses } from '../schemas/errors.ts';
import { BatchBodySchema, BatchResponseSchema, PredictBodySchema, ScoresResponseSchema, TopQuerySchema } from '../schemas/scores.ts';
import { defaultAsOf } from '../../core/time.ts';
import { scoreAccounts, scoreInstances } from '../../scoring/score-accounts.ts';

export function scoreRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  const read = requireScope(deps.auth, 'score:read');
  return async (app) => {
    app.post('/scores', {
      onRequest: read,
      schema: { tags: ['scores'], summary: 'Scores up to 1,000 accounts as of a time (features from PostgreSQL in one pass)', security: [{ bearer: [] }],
        body: BatchBodySchema, querystring: TopQuerySchema, response: { 200: BatchResponseSchema, ...errorResponses } },
    }, async (req) => {
      const { scores, errors } = await scoreAccounts(deps, req.body.account_ids, req.body.as_of ?? defaultAsOf(), req.query.top);
      deps.metrics.scoresServed.inc({ route: 'batch' }, scores.length);
      return { scores, errors };
    });

    app.post('/predict', {
      onRequest: read,
      schema: { tags: ['scores'], summary: 'Scores caller-supplied feature values (no database read)', security: [{ bearer: [] }],
        body: PredictBodySchema, querystring: TopQuerySchema, response: { 200: ScoresResponseSchema, ...errorResponses } },
    }, async (req) => {
      const scores = await scoreInstances(deps.holder, deps.config, req.body.instances, { asOf: req.body.as_of, top: req.query.top, allowMissing: req.body.allow_missing });
      deps.metrics.scoresServed.inc({ route: 'predict' }, scores.length);
      return { scores };
    });
  };
}
