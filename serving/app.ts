import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import helmet, { type HelmetOptions } from 'helmet';
import Fastify, { type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { ChurnError } from '../core/errors.ts';
import { redactUrl } from '../core/redact.ts';
import { FailureLimiter } from './auth.ts';
import { servingLimits, type AppDeps } from './deps.ts';
import { clientErrorHandler, errorHandler, notFoundHandler } from './errors.ts';
import { accountRoutes } from './routes/accounts.ts';
import { documentRoute, finishDocument } from './openapi.ts';
import { alertRoutes } from './routes/alerts.ts';
import { healthRoutes } from './routes/health.ts';
import { modelRoutes } from './routes/models.ts';
import { reportRoutes } from './routes/reports.ts';
import { scoreRoutes } from './routes/scores.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { findNul } from './schemas/common.ts';
import { compiledSerializerCompiler } from './serializer.ts';

export type { AppDeps } from './deps.ts';
export type ChurnApp = Awaited<ReturnType<typeof buildApp>>;


/** helmet's options: its defaults, with a content security policy that lets the /docs UI load. */
export const SECURITY_HEADERS: Readonly<HelmetOptions> = {
  contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], imgSrc: ["'self'", 'data:', 'validator.swagger.io'], styleSrc: ["'self'", "'unsafe-inline'"], scriptSrc: ["'self'"] } },
};

/** The longest part of a path the router takes (an account id, a version or an alias fits). */
const MAX_PARAM_LENGTH = 200;

/** Fastify's request log serializer with the URL redacted. */
function requestForLog(req: FastifyRequest) {
  return { method: req.method, url: redactUrl(req.url), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

/**
 * Builds the Fastify app (never listens). Every route's zod schemas validate requests, write responses
 * and make the OpenAPI document at /openapi.json (UI at /docs). Errors come out as
 * `{ error, message, request_id }`; /v1 needs a bearer API key with the right scope, is rate limited
 * per key (and failed authentication per client address), answers with `Cache-Control: no-store`, and
 * has a deadline per request (503 CHURN_ERR_TIMEOUT when it passes).
 */
export async function buildApp(deps: AppDeps) {
  const limits = servingLimits(deps);
  // Every response: helmet's security headers (a content security policy that lets the /docs UI
  // load), worked out once (see `helmetHeaders`), and the request id.
  const security = helmetHeaders(SECURITY_HEADERS);
  const commonHeaders = (req: FastifyRequest, reply: FastifyReply): void => {
    void reply.headers(security);
    void reply.header('x-request-id', req.id);
    // answers for one API key: no cache (browser or proxy) may keep them
    if (req.url.startsWith('/v1/')) void reply.header('cache-control', 'no-store');
  };
  const app = Fastify({
    loggerInstance: deps.log.child({}, { serializers: { req: requestForLog } }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    clientErrorHandler,
    // a path the router cannot take apart (a bad %-escape, an over-long segment) is refused before
    // routing, where no hook runs: the error shape and the headers every answer carries, set here
    frameworkErrors: (err, req, reply) => {
      commonHeaders(req, reply);
      const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? `a part of the path is longer than ${MAX_PARAM_LENGTH} characters`
        : err.code === 'FST_ERR_BAD_URL' ? 'the path is not a valid URL path (a malformed %-escape?)' : 'the request could not be routed';
      errorHandler(new ChurnError('CHURN_ERR_VALIDATION', message), req, reply);
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(compiledSerializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // Declared up front, so every request object has the same shape whether or not a key is checked.
  app.decorateRequest('principal', undefined);
  app.decorateRequest('deadline', null);
  app.decorateRequest('bodyMayHoldNul', true); // false once the JSON parser has seen no \u0000 in the text
  app.decorate('authFailures', limits.authFailureLimit > 0 ? new FailureLimiter(limits.authFailureLimit) : null);
  // Every /v1 route: its deadline (the batch routes set a longer one in `config.deadlineMs`). Every
  // route: its operationId and, when public, `security: []` in the OpenAPI document.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/v1/')) withDeadline(route as RouteOptions, route.config?.deadlineMs ?? limits.requestTimeoutMs);
    documentRoute(route as RouteOptions);
  });

  // CORS, for browser tools of the origins CHURN_CORS_ORIGINS lists (off without): preflights are
  // answered without a key; a request from another origin gets no CORS headers (the browser keeps
  // the answer from the page).
  if (deps.corsOrigins?.length) {
    await app.register(cors, {
      origin: deps.corsOrigins.includes('*') ? '*' : deps.corsOrigins,
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'retry-after'],
      maxAge: 600,
    });
  }
  app.addHook('onRequest', (req, reply, done) => {
    commonHeaders(req, reply);
    done();
  });
  // No string that reaches SQL may hold a NUL (PostgreSQL refuses it with 22021, which was a 500).
  // JSON can carry a NUL only as the escape \u0000 (a raw control character is not JSON), so a body is
  // walked only when its text holds that escape (a walk of a 62-feature instance costs 2.5-5 us).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // Bodies are JSON only: Fastify's text/plain parser would hand a route a string, refused as "expected
  // object, received string"; without it such a body is a 415 that says what to send.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, text, done) => {
    req.bodyMayHoldNul = (text as string).includes('\\u0000');
    parseJson(req, text as string, done);
  });
  app.addHook('preValidation', (req, _reply, done) => {
    for (const [where, value] of [['body', req.bodyMayHoldNul ? req.body : undefined], ['querystring', req.query], ['params', req.params]] as const) {
      const path = findNul(value);
      if (path) return done(new ChurnError('CHURN_ERR_VALIDATION', `invalid ${where}: ${path.length ? `${path.join('.')}: ` : ''}a NUL character (\\u0000) is not allowed`));
    }
    done();
  });
  // Graceful shutdown: requests in flight finish, and their keep-alive connections close after the
  // response, so close() never waits on an idle client.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (req, reply, done) => {
    if (req.deadline) clearTimeout(req.deadline);
    deps.metrics.httpDuration.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });

  if (deps.rateLimit > 0) {
    await app.register(rateLimit, {
      max: deps.rateLimit,
      timeWindow: 60_000,
      hook: 'preHandler', // after authentication, so the limit is per key
      keyGenerator: (req) => req.principal?.id ?? `ip:${req.ip}`,
      allowList: (req) => !req.url.startsWith('/v1/') || req.method === 'OPTIONS', // CORS preflights carry no key
      errorResponseBuilder: (_req, ctx) => new ChurnError('CHURN_ERR_RATE_LIMITED', `rate limit of ${ctx.max} requests per minute reached; retry in ${Math.ceil(ctx.ttl / 1000)} s`, { details: { retryAfterSeconds: Math.ceil(ctx.ttl / 1000) } }),
    });
  }
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Churnlens API', version: '1', description: 'Churn risk, customer health and explained drivers. Errors are `{ error, message, request_id }`.' },
      servers: [{ url: '/', description: 'the server that serves this document' }],
      tags: [
        { name: 'accounts', description: 'accounts with their latest stored score and context, and totals per tier' },
        { name: 'scores', description: 'scores computed now, stored scores and their changes' },
        { name: 'models', description: 'the model registry' },
        { name: 'reports', description: 'accuracy reports' },
        { name: 'alerts', description: 'alerts and what people did with them, and the re-drive of their webhook deliveries' },
        { name: 'webhooks', description: 'webhook subscriptions (admin)' },
        { name: 'operations', description: 'health, readiness and metrics' },
      ],
      components: { securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'an API key (`churn keys create`)' },
        reportLink: { type: 'apiKey', in: 'query', name: 'token', description: 'a signed, expiring report link token (`churn report --link`); opens the accuracy report it names, nothing else' },
      } },
    },
    transform: jsonSchemaTransform,
    transformObject: (doc) => finishDocument(jsonSchemaTransformObject(doc)),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes(deps));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(accountRoutes(deps), { prefix: '/v1' });
  await app.register(scoreRoutes(deps), { prefix: '/v1' });
  await app.register(modelRoutes(deps), { prefix: '/v1' });
  await app.register(reportRoutes(deps), { prefix: '/v1' });
  await app.register(alertRoutes(deps), { prefix: '/v1' });
  await app.register(webhookRoutes(deps), { prefix: '/v1' });
  return app;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the timer of this request's deadline (/v1 routes) */
    deadline: NodeJS.Timeout | null;
    /** false when the body is JSON whose text holds no \u0000 escape, so no string in it holds a NUL */
    bodyMayHoldNul: boolean;
  }
}

/** Answers 503 CHURN_ERR_TIMEOUT if nothing was sent yet; the error handler logs it. */
function answerAtDeadline(reply: FastifyReply, ms: number): void {
  if (reply.sent || reply.raw.headersSent) return;
  void reply.send(new ChurnError('CHURN_ERR_TIMEOUT', `the request passed its deadline of ${ms} ms and was abandoned; try again shortly`));
}

/**
 * Gives a route a deadline of `ms` from routing (authentication, body, handler): past it, the answer is
 * 503 CHURN_ERR_TIMEOUT. The handler's work is then abandoned: its statements end by the API
 * sessions' statement and lock timeouts, its result (or error) is dropped, and a handler that had not
 * started yet does not start. (Fastify's own `handlerTimeout` is not used: on Node 20 its timer is
 * cleared as soon as a request body has been read, so it never fires for a POST.)
 */
function withDeadline(route: RouteOptions, ms: number): void {
  const start = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    req.deadline = setTimeout(answerAtDeadline, ms, reply, ms);
    done();
  };
  route.onRequest = [start, ...(route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest])] as RouteOptions['onRequest'];
  const handler = route.handler;
  route.handler = async function deadlineBound(this: unknown, req: FastifyRequest, reply: FastifyReply) {
    if (reply.sent) return undefined; // answered at its deadline before the handler began
    try {
      const out: unknown = await handler.call(this as never, req, reply);
      return reply.sent ? undefined : out; // sent already: by the handler itself, or at the deadline
    } catch (err) {
      if (!reply.sent) throw err;
      req.log.debug({ err }, 'the work of a request answered at its deadline failed');
      return undefined;
    }
  };
}

/**
 * The headers helmet's middleware sets for `options`, read off a response object that is never sent.
 * With these options every header is a constant (no directive depends on the request), so they are
 * worked out once and given to each reply with `reply.headers`. Running the middleware on each
 * response instead called `setHeader` a dozen times, which also takes Node's slower header path for
 * all of the response's other headers; `@fastify/helmet` rebuilds the middleware per request. Gain in
 * docs/serve-performance.md.
 */
export function helmetHeaders(options: Readonly<HelmetOptions>): Readonly<Record<string, string>> {
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  let failure: unknown;
  helmet(options)(res.req, res, (err?: unknown) => {
    failure = err;
  });
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  return Object.freeze(Object.fromEntries(Object.entries(res.getHeaders()).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)])));
}
