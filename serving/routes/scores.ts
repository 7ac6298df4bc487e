import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ChurnError } from '../../core/errors.ts';
import type { Top } from '../../scoring/build-score.ts';
import type { ModelHolder } from '../../scoring/holder.ts';
import { requireScope } from '../auth.ts';
import { servingLimits, type AppDeps } from '../deps.ts';
import { errorResponses } from '../schemas/errors.ts';
import { BatchBodySchema, BatchResponseSchema, PREDICT_BODY_LIMIT, PredictBodySchema, ScoresResponseSchema, TopQuerySchema } from '../schemas/scores.ts';
import { defaultAsOf } from '../../core/time.ts';
import { scoreAccounts, scoreInstances } from '../../scoring/score-accounts.ts';
import { withContexts } from './accounts.ts';

/**
 * Refuses (400) a request whose scores would carry more than `max` drivers in all: the response's
 * size, its memory and the time its serialisation holds the event loop grow with scores x drivers
 * (1,000 scores with `top=all` of 63 features were 15 MB and held the loop for over a second).
 */
export function checkDriverBudget(holder: ModelHolder, scores: number, top: Top, max: number): void {
  const features = holder.current?.featureNames.length;
  if (!features) return; // no model: scoring answers that
  const perScore = top === 'all' ? features : Math.min(top, features);
  if (scores * perScore <= max) return;
  const most = Math.max(1, Math.floor(max / perScore));
  throw new ChurnError('CHURN_ERR_VALIDATION', `too many drivers for one request: ${scores} scores x ${perScore} drivers (top=${top}) = ${scores * perScore}, over the limit of ${max}; `
    + `send at most ${most} per request with top=${top}, or a smaller top`);
}

export function scoreRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  const read = requireScope(deps.auth, 'score:read');
  const limits = servingLimits(deps);
  return async (app) => {
    app.post('/scores', {
      onRequest: read,
      config: { deadlineMs: limits.batchTimeoutMs },
      schema: { tags: ['scores'], summary: `Scores up to 1,000 accounts as of a time (features from PostgreSQL in one pass); at most ${limits.maxDriversPerRequest} drivers in all (accounts x top)`, security: [{ bearer: [] }],
        body: BatchBodySchema, querystring: TopQuerySchema, response: { 200: BatchResponseSchema, ...errorResponses } },
    }, async (req) => {
      checkDriverBudget(deps.holder, req.body.account_ids.length, req.query.top, limits.maxDriversPerRequest);
      const asOf = req.body.as_of ?? defaultAsOf();
      const scored = await scoreAccounts(deps, req.body.account_ids, asOf, req.query.top);
      const scores = await withContexts(deps.pool, scored.scores, asOf);
      deps.metrics.scoresServed.inc({ route: 'batch' }, scores.length);
      return { scores, errors: scored.errors };
    });

    app.post('/predict', {
      onRequest: read,
      config: { deadlineMs: limits.batchTimeoutMs },
      bodyLimit: Math.max(PREDICT_BODY_LIMIT, deps.bodyLimit ?? 0),
      schema: { tags: ['scores'], summary: `Scores caller-supplied feature values (no database read); body up to ${PREDICT_BODY_LIMIT / 1024 / 1024} MiB, at most ${limits.maxDriversPerRequest} drivers in all (instances x top)`, security: [{ bearer: [] }],
        body: PredictBodySchema, querystring: TopQuerySchema, response: { 200: ScoresResponseSchema, ...errorResponses } },
    }, async (req) => {
      checkDriverBudget(deps.holder, req.body.instances.length, req.query.top, limits.maxDriversPerRequest);
      const scores = await scoreInstances(deps.holder, deps.config, req.body.instances, { asOf: req.body.as_of, top: req.query.top, allowMissing: req.body.allow_missing });
      deps.metrics.scoresServed.inc({ route: 'predict' }, scores.length);
      // the scores are this request's own: the field is added to each, not copied with it (a spread of a score cost ~1.7 us)
      return { scores: scores.map((sc) => Object.assign(sc, { tier_segment: sc.segment })) };
    });
  };
}
