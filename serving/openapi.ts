import type { RouteOptions } from 'fastify';
import { ErrorSchema } from './schemas/errors.ts';
import { MODEL_EXAMPLE } from './schemas/models.ts';

/**
 * The OpenAPI document's finishing touches, so that a client can be generated from it
 * (tests/serving-openapi.test.ts validates it and compiles a generated client against a live call):
 * - every operation has an `operationId` (routes name their own; `onRoute` fills those that do not,
 *   from OPERATION_IDS or from the method and path) and public routes say `security: []`;
 * - every 4xx/5xx response has the error schema and a description, every response and request
 *   body an example (a `$ref`'d schema lends its own; ROUTE_EXAMPLES covers the routes whose schemas
 *   are declared inline in their route files).
 */

/** operationIds of routes whose files do not name one. */
const OPERATION_IDS: Record<string, string> = {
  'GET /healthz': 'getHealth',
  'GET /readyz': 'getReadiness',
  'GET /metrics': 'getMetrics',
  'POST /v1/scores': 'scoreAccounts',
  'POST /v1/predict': 'predict',
  'GET /v1/models': 'listModels',
  'GET /v1/models/:version': 'getModel',
  'PUT /v1/models/:version/aliases/:alias': 'setModelAlias',
  'GET /v1/reports/latest': 'getLatestReport',
  'GET /v1/reports/:version': 'getReport',
};

/** An operationId from the method and path: GET /v1/things/:id/parts -> getThingsByIdParts. */
export function derivedOperationId(method: string, url: string): string {
  const words = url.split('/').filter((p) => p && p !== 'v1').flatMap((p) => (p.startsWith(':') ? ['by', p.slice(1)] : p.split(/[^A-Za-z0-9]+/)));
  return [method.toLowerCase(), ...words.filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1))].join('');
}

/** `onRoute`: the operationId, `security: []` on public routes, and the error schema for a 500 of a public route. */
export function documentRoute(route: RouteOptions): void {
  const schema = route.schema as (RouteOptions['schema'] & { operationId?: string; security?: unknown[]; hide?: boolean }) | undefined;
  if (!schema || schema.hide) return;
  const method = Array.isArray(route.method) ? route.method[0] : route.method;
  schema.operationId ??= OPERATION_IDS[`${method} ${route.url}`] ?? derivedOperationId(method, route.url);
  if (!route.url.startsWith('/v1/')) {
    schema.security ??= [];
    const response = schema.response as Record<string, unknown> | undefined;
    if (response && !response['500']) response['500'] = ErrorSchema;
  }
}

const RESPONSE_DESCRIPTIONS: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  400: 'The request failed validation (CHURN_ERR_VALIDATION: the message names each problem) or was not valid HTTP (CHURN_ERR_BAD_REQUEST)',
  401: 'No API key, or an unknown or revoked one (CHURN_ERR_UNAUTHORIZED)',
  403: 'The API key lacks the scope this route needs (CHURN_ERR_FORBIDDEN)',
  404: 'No such account, model, report, alert or webhook (CHURN_ERR_ACCOUNT_NOT_FOUND, CHURN_ERR_MODEL_NOT_FOUND, CHURN_ERR_NOT_FOUND)',
  409: 'The request conflicts with the current state (the message says how)',
  413: 'The request body is too large (CHURN_ERR_PAYLOAD_TOO_LARGE)',
  429: 'Too many requests for this API key (CHURN_ERR_RATE_LIMITED) or failed authentications from this address (CHURN_ERR_AUTH_LIMITED); see Retry-After',
  500: 'A bug (CHURN_ERR_INTERNAL): the server log has the details under the request id',
  503: 'The database is unreachable or busy (CHURN_ERR_DATABASE), the request passed its deadline (CHURN_ERR_TIMEOUT) or no champion model is loaded (CHURN_ERR_NO_CHAMPION); retry after Retry-After',
};

const REPORT_EXAMPLES = { 'text/html': '<!doctype html><html lang="en"><head><title>Churnlens accuracy report, model 7</title>...', 'application/json': { model_version: 7, headline: {} } };

/** Examples of routes whose schemas are declared inline in their route files: operationId -> status -> content type -> example. */
const ROUTE_EXAMPLES: Record<string, Record<string, Record<string, unknown>>> = {
  getHealth: { 200: { 'application/json': { status: 'ok' } } },
  getReadiness: {
    200: { 'application/json': { ready: true, database: true, model_version: 7, model_problem: null } },
    503: { 'application/json': { ready: false, database: true, model_version: null, model_problem: null } },
  },
  getMetrics: { 200: { 'text/plain': '# HELP churn_scores_served_total Scores served\n# TYPE churn_scores_served_total counter\nchurn_scores_served_total{route="account_score"} 1042\n' } },
  listModels: { 200: { 'application/json': { models: [MODEL_EXAMPLE] } } },
  getLatestReport: { 200: REPORT_EXAMPLES },
  getReport: { 200: REPORT_EXAMPLES },
};

interface Media { schema?: { $ref?: string; example?: unknown; default?: unknown }; example?: unknown; examples?: unknown }
interface Operation {
  operationId?: string;
  parameters?: Media[];
  requestBody?: { content?: Record<string, Media> };
  responses?: Record<string, { description?: string; content?: Record<string, Media> }>;
}
interface Document { paths?: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, { examples?: unknown[]; example?: unknown }> } }

/**
 * A media object's (or parameter's) example: its own, its schema's `example` (request schemas that
 * transform their input declare `example`: zod keeps no `examples` on their input side), its
 * `$ref`'d schema's, or the fallback (the table's; a parameter's default).
 */
function giveExample(doc: Document, media: Media, fallback: unknown): void {
  if (media.schema?.example !== undefined) {
    media.example ??= media.schema.example;
    delete media.schema.example;
  }
  if (media.example !== undefined || media.examples !== undefined) return;
  const ref = media.schema?.$ref?.replace('#/components/schemas/', '');
  const component = ref ? doc.components?.schemas?.[ref] : undefined;
  const lent = component?.examples?.[0] ?? component?.example;
  if (lent !== undefined) media.example = lent;
  else if (fallback !== undefined) media.example = fallback;
}

/** transformObject's last step: response descriptions and examples over the whole document. */
export function finishDocument<T>(document: T): T {
  const doc = document as Document;
  for (const ops of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(ops)) {
      const table = ROUTE_EXAMPLES[op.operationId ?? ''] ?? {};
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        if (!response.description || response.description === 'Default Response') response.description = RESPONSE_DESCRIPTIONS[status] ?? 'Response';
        for (const [type, media] of Object.entries(response.content ?? {})) giveExample(doc, media, table[status]?.[type]);
      }
      for (const media of Object.values(op.requestBody?.content ?? {})) giveExample(doc, media, undefined);
      for (const parameter of op.parameters ?? []) giveExample(doc, parameter, parameter.schema?.default);
    }
  }
  return document;
}
