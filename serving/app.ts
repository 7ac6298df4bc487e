import { randomUUID } from 'node:crypto';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { ChurnError } from '../core/errors.ts';
import type { AppDeps } from './deps.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { accountRoutes } from './routes/accounts.ts';
import { alertRoutes } from './routes/alerts.ts';
import { healthRoutes } from './routes/health.ts';
import { modelRoutes } from './routes/models.ts';
import { reportRoutes } from './routes/reports.ts';
import { scoreRoutes } from './routes/scores.ts';
import { compiledSerializerCompiler } from './serializer.ts';

export type { AppDeps } from './deps.ts';
export type ChurnApp = Awaited<ReturnType<typeof buildApp>>;

/**
 * Builds the Fastify app (never listens). Every route's zod schemas validate requests, write responses
 * and make the OpenAPI document at /openapi.json (UI at /docs). Errors come out as
 * `{ error, message, request_id }`; /v1 needs a bearer API key with the right scope and is rate
 * limited per key.
 */
export async function buildApp(deps: AppDeps) {
  const app = Fastify({
    loggerInstance: deps.log,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(compiledSerializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // Declared up front, so every request object has the same shape whether or not a key is checked.
  app.decorateRequest('principal', undefined);

  // Every response: helmet's security headers (a content security policy that lets the /docs UI
  // load) and the request id.
  await app.register(helmet, {
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], imgSrc: ["'self'", 'data:', 'validator.swagger.io'], styleSrc: ["'self'", "'unsafe-inline'"], scriptSrc: ["'self'"] } },
  });
  app.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-request-id', req.id);
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
    deps.metrics.httpDuration.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });

  if (deps.rateLimit > 0) {
    await app.register(rateLimit, {
      max: deps.rateLimit,
      timeWindow: 60_000,
      hook: 'preHandler', // after authentication, so the limit is per key
      keyGenerator: (req) => req.principal?.id ?? `ip:${req.ip}`,
      allowList: (req) => !req.url.startsWith('/v1/'),
      errorResponseBuilder: (_req, ctx) => new ChurnError('CHURN_ERR_RATE_LIMITED', `rate limit of ${ctx.max} requests per minute reached; retry in ${Math.ceil(ctx.ttl / 1000)} s`, { details: { retryAfterSeconds: Math.ceil(ctx.ttl / 1000) } }),
    });
  }
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Churnlens API', version: '1', description: 'Churn risk, customer health and explained drivers. Errors are `{ error, message, request_id }`.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API key (`churn keys create`)' } } },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes(deps));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(accountRoutes(deps), { prefix: '/v1' });
  await app.register(scoreRoutes(deps), { prefix: '/v1' });
  await app.register(modelRoutes(deps), { prefix: '/v1' });
  await app.register(reportRoutes(deps), { prefix: '/v1' });
  await app.register(alertRoutes(deps), { prefix: '/v1' });
  return app;
}
