import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ChurnError } from '../../core/errors.ts';
import { ReportLinkVerifier, tokenError, type ReportTarget } from '../../jobs/report/link.ts';
import { requireScope } from '../auth.ts';
import type { AppDeps } from '../deps.ts';
import { ReportParamsSchema } from '../schemas/models.ts';
import { ReportQuerySchema } from '../schemas/reports.ts';
import { errorResponses } from '../schemas/errors.ts';

type Done = (err?: Error) => void;

/** The report a request asks for, from its path (before validation: anything else is no report). */
function targetOf(request: FastifyRequest): ReportTarget | null {
  const v = (request.params as { version?: string }).version;
  if (v === undefined) return 'latest';
  const n = /^v?\d{1,9}$/.test(v) ? Number(v.replace(/^v/, '')) : 0;
  return n >= 1 ? n : null;
}

/**
 * onRequest: a `?token=` signed report link (jobs/report/link.ts) opens the report it names without
 * an API key; without a token, the bearer key with `score:read` as on every /v1 route. Link failures
 * count against the client address like wrong keys (429 once over the limit).
 */
function reportAccess(deps: AppDeps) {
  const byKey = requireScope(deps.auth, 'score:read');
  const links = new ReportLinkVerifier(deps.pool);
  return (request: FastifyRequest, reply: FastifyReply, done: Done): void => {
    const token = (request.query as { token?: unknown }).token;
    if (token === undefined) return byKey(request, reply, done);
    const limiter = request.server.authFailures;
    const wait = limiter ? limiter.retryAfter(request.ip) : 0;
    if (wait > 0) {
      return done(new ChurnError('CHURN_ERR_AUTH_LIMITED', `too many failed authentication attempts from this address (${limiter!.max} a minute); retry in ${wait} s`, { details: { retryAfterSeconds: wait } }));
    }
    const target = targetOf(request);
    const refuse = (err: ChurnError) => {
      limiter?.fail(request.ip);
      done(err);
    };
    if (typeof token !== 'string' || target === null) return refuse(new ChurnError('CHURN_ERR_LINK_INVALID', 'the token of this report link is malformed (copy the whole link)'));
    links.check(token, target).then((check) => {
      if (!check.ok) return refuse(tokenError(check));
      // a link is for reading in a browser: never indexed, never passed on as a referrer
      void reply.header('x-robots-tag', 'noindex, nofollow').header('referrer-policy', 'no-referrer');
      done();
    }, (err: Error) => done(err));
  };
}

export function reportRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  const access = reportAccess(deps);
  const body = {
    description: 'the accuracy report: self-contained HTML, or with ?format=json its JSON twin (every number in the report)',
    content: { 'text/html': { schema: z.string() }, 'application/json': { schema: z.record(z.string(), z.unknown()) } },
  };
  // a bearer key, or a signed report link's token in the query (no header: what a browser opens)
  const security: Record<string, string[]>[] = [{ bearer: [] }, { reportLink: [] }];
  return async (app) => {
    const send = async (version: number | 'latest', format: 'html' | 'json', reply: FastifyReply) => {
      const page = format === 'json' ? await deps.reports.json(version) : await deps.reports.html(version);
      if (page === null) throw new ChurnError('CHURN_ERR_NOT_FOUND', version === 'latest' ? 'no accuracy report yet; run `churn report`' : `no accuracy report for model version ${version}`);
      if (format === 'json') return reply.type('application/json; charset=utf-8').send(JSON.stringify(page));
      return reply.type('text/html; charset=utf-8').send(page);
    };
    app.get('/reports/latest', {
      onRequest: access,
      schema: { tags: ['reports'], summary: "The champion's (else the newest) accuracy report", security, querystring: ReportQuerySchema, response: { 200: body, ...errorResponses } },
    }, async (req, reply) => send('latest', req.query.format, reply));
    app.get('/reports/:version', {
      onRequest: access,
      schema: { tags: ['reports'], summary: "One model version's accuracy report", security, params: ReportParamsSchema, querystring: ReportQuerySchema, response: { 200: body, ...errorResponses } },
    }, async (req, reply) => send(req.params.version, req.query.format, reply));
  };
}
