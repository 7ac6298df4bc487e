import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ChurnError } from '../../core/errors.ts';
import { requireScope } from '../auth.ts';
import type { AppDeps } from '../deps.ts';
import { ReportParamsSchema } from '../schemas/models.ts';
import { errorResponses } from '../schemas/score.ts';

export function reportRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  const read = requireScope(deps.auth, 'score:read');
  const html = { description: 'the accuracy report', content: { 'text/html': { schema: z.string() } } };
  return async (app) => {
    const send = async (version: number | 'latest') => {
      const page = await deps.reports.html(version);
      if (page === null) throw new ChurnError('CHURN_ERR_NOT_FOUND', version === 'latest' ? 'no accuracy report yet; run `churn report`' : `no accuracy report for model version ${version}`);
      return page;
    };
    app.get('/reports/latest', {
      onRequest: read,
      schema: { tags: ['reports'], summary: 'The latest accuracy report (HTML)', security: [{ bearer: [] }], response: { 200: html, ...errorResponses } },
    }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(await send('latest')));
    app.get('/reports/:version', {
      onRequest: read,
      schema: { tags: ['reports'], summary: "One model version's accuracy report (HTML)", security: [{ bearer: [] }], params: ReportParamsSchema, response: { 200: html, ...errorResponses } },
    }, async (req, reply) => reply.type('text/html; charset=utf-8').send(await send(req.params.version)));
  };
}
