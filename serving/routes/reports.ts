import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ChurnError } from '../../core/errors.ts';
import { requireScope } from '../auth.ts';
import type { AppDeps } from '../deps.ts';
import { ReportParamsSchema } from '../schemas/models.ts';
import { errorResponses } from '../schemas/errors.ts';

export function reportRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  const read = requireScope(deps.auth, 'score:read');
  const body = {
    description: 'the accuracy report: self-contained HTML, or with ?format=json its JSON twin (every number in the report)',
    content: { 'text/html': { schema: z.string() }, 'application/json': { schema: z.record(z.string(), z.unknown()) } },
  };
  const querystring = z.object({ format: z.enum(['html', 'json']).default('html').describe('html (default) or json, the JSON twin') });
  return async (app) => {
    const send = async (version: number | 'latest', format: 'html' | 'json', reply: FastifyReply) => {
      const page = format === 'json' ? await deps.reports.json(version) : await deps.reports.html(version);
      if (page === null) throw new ChurnError('CHURN_ERR_NOT_FOUND', version === 'latest' ? 'no accuracy report yet; run `churn report`' : `no accuracy report for model version ${version}`);
      if (format === 'json') return reply.type('application/json; charset=utf-8').send(JSON.stringify(page));
      return reply.type('text/html; charset=utf-8').send(page);
    };
    app.get('/reports/latest', {
      onRequest: read,
      schema: { tags: ['reports'], summary: "The champion's (else the newest) accuracy report", security: [{ bearer: [] }], querystring, response: { 200: body, ...errorResponses } },
    }, async (req, reply) => send('latest', req.query.format, reply));
    app.get('/reports/:version', {
      onRequest: read,
      schema: { tags: ['reports'], summary: "One model version's accuracy report", security: [{ bearer: [] }], params: ReportParamsSchema, querystring, response: { 200: body, ...errorResponses } },
    }, async (req, reply) => send(req.params.version, req.query.format, reply));
  };
}
