import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../serving/app.ts';
import { revokeApiKey } from '../serving/keys.ts';
import { saveModelReport } from '../jobs/report/store.ts';
import { BOOTSTRAP_SECRET, bearer, startHarness, type ServingHarness } from './serving-fixture.ts';
import { mulberry32 } from '../core/random.ts';

type Method = 'GET' | 'POST' | 'PUT';
interface RouteCase { method: Method; url: string; payload?: unknown; scope: 'score:read' | 'models:admin' }

/** Every /v1 route with a valid request (ids filled in once the data exists). */
function routes(h: ServingHarness): RouteCase[] {
  const id = h.accountIds[0];
  return [
    { method: 'GET', url: '/v1/accounts', scope: 'score:read' },
    { method: 'GET', url: `/v1/accounts/${id}/score`, scope: 'score:read' },
    { method: 'GET', url: `/v1/accounts/${id}/history`, scope: 'score:read' },
    { method: 'GET', url: `/v1/accounts/${id}/score-change`, scope: 'score:read' },
    { method: 'POST', url: '/v1/scores', payload: { account_ids: [id] }, scope: 'score:read' },
    { method: 'POST', url: '/v1/predict', payload: { instances: [{ active_days_28d: 3 }], allow_missing: true }, scope: 'score:read' },
    { method: 'GET', url: '/v1/models', scope: 'score:read' },
    { method: 'GET', url: `/v1/models/${h.champion}`, scope: 'score:read' },
    { method: 'PUT', url: `/v1/models/${h.champion}/aliases/champion`, payload: { force: true, reason: 'auth test' }, scope: 'models:admin' },
    { method: 'GET', url: '/v1/reports/latest', scope: 'score:read' },
    { method: 'GET', url: `/v1/reports/${h.champion}`, scope: 'score:read' },
  ];
}

function expectErrorShape(res: { statusCode: number; json(): unknown; headers: Record<string, unknown> }, status?: number): void {
  if (status) expect(res.statusCode).toBe(status);
  expect(res.statusCode).toBeGreaterThanOrEqual(400);
  expect(res.statusCode).toBeLessThan(500);
  const body = res.json() as Record<string, unknown>;
  const { problems, ...shape } = body;
  expect(shape).toEqual({ error: expect.stringMatching(/^CHURN_ERR_[A-Z_]+$/), message: expect.any(String), request_id: expect.any(String) });
  // several problems at once (a predict body) are each listed: the instance, the feature, why
  if (problems !== undefined) for (const p of problems as unknown[]) expect(p).toEqual({ row: expect.any(Number), feature: expect.any(String), reason: expect.any(String) });
  expect(res.headers['x-request-id']).toBe(body.request_id);
}

const rng = mulberry32;

describe('authentication, validation and error shape', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await startHarness();
    await saveModelReport(h.db.pool, h.champion, '<html><body>accuracy</body></html>', '{}');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('serves every route to a key with the right scope', async () => {
    for (const r of routes(h)) {
      const key = r.scope === 'models:admin' ? h.adminKey : h.readKey;
      const res = await h.app.inject({ method: r.method, url: r.url, payload: r.payload as object, headers: bearer(key) });
      expect(res.statusCode, `${r.method} ${r.url}: ${res.body.slice(0, 200)}`).toBeLessThan(500);
      // score-change needs two stored scores and there are none yet: that is a 404, still with the shape
      if (r.url.endsWith('score-change')) expectErrorShape(res, 404);
      else expect(res.statusCode, `${r.method} ${r.url}: ${res.body.slice(0, 200)}`).toBe(200);
      if (r.url.includes('/reports/')) {
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expect(res.body).toContain('accuracy');
      }
    }
  });

  it('answers 401 without a key, with a malformed header, or with an unknown or revoked key', async () => {
    const victim = h.readKey;
    for (const r of routes(h)) {
      for (const headers of [{}, { authorization: 'Basic abc' }, bearer('chl_00000000_' + 'x'.repeat(43)), bearer('nope')]) {
        expectErrorShape(await h.app.inject({ method: r.method, url: r.url, payload: r.payload as object, headers }), 401);
      }
    }
    const { createApiKey } = await import('../serving/keys.ts');
    const doomed = await createApiKey(h.db.pool, { name: 'doomed', scopes: ['score:read'] });
    expect(await revokeApiKey(h.db.pool, 'doomed')).toBe(1);
    expectErrorShape(await h.app.inject({ url: '/v1/models', headers: bearer(doomed) }), 401);
    expect((await h.app.inject({ url: '/v1/models', headers: bearer(victim) })).statusCode).toBe(200);
  });

  it('answers 403 when the key lacks the scope, and accepts a bootstrap key from CHURN_API_KEYS', async () => {
    for (const r of routes(h).filter((x) => x.scope === 'models:admin')) {
      expectErrorShape(await h.app.inject({ method: r.method, url: r.url, payload: r.payload as object, headers: bearer(h.readKey) }), 403);
      expectErrorShape(await h.app.inject({ method: r.method, url: r.url, payload: r.payload as object, headers: bearer(BOOTSTRAP_SECRET) }), 403);
    }
    expect((await h.app.inject({ url: '/v1/models', headers: bearer(BOOTSTRAP_SECRET) })).statusCode).toBe(200);
  });

  it('rejects a table of malformed parameters and bodies with a 4xx and the error shape', async () => {
    const id = h.accountIds[0];
    const JSON_ONLY = 'the body must be JSON: send it with Content-Type: application/json';
    const cases: { method: Method; url: string; payload?: unknown; raw?: string; type?: string; status?: number; message?: string }[] = [
      { method: 'GET', url: `/v1/accounts/${id}/score?as_of=yesterday`, status: 400 },
      { method: 'GET', url: `/v1/accounts/${id}/score?as_of=2026-13-45`, status: 400 },
      { method: 'GET', url: `/v1/accounts/${id}/score?as_of=3000-01-01`, status: 400 },
      // one wording for every wrong top (0 said "Too small: expected number to be >=1")
      ...['0', '-3', '1001', '2.5', 'some'].map((top) => ({ method: 'GET' as const, url: `/v1/accounts/${id}/score?top=${top}`, status: 400, message: 'invalid querystring: top: expected a whole number of drivers, 1-1000, or all' })),
      { method: 'GET', url: `/v1/accounts/${id}/score?explain=maybe`, status: 400 },
      { method: 'GET', url: `/v1/accounts/${id}/score?unknown=1`, status: 400 },
      { method: 'GET', url: '/v1/accounts/%00bad/score', status: 400 },
      { method: 'GET', url: `/v1/accounts/${'a'.repeat(150)}/score`, status: 400 },
      { method: 'GET', url: '/v1/accounts?limit=0', status: 400 },
      { method: 'GET', url: '/v1/accounts?limit=5000', status: 400 },
      { method: 'GET', url: '/v1/accounts?cursor=!!!', status: 400 },
      { method: 'GET', url: '/v1/accounts?cursor=bm90IGpzb24', status: 400 },
      { method: 'GET', url: '/v1/accounts?tier=DROP%20TABLE', status: 400 },
      // a rule in words, not a regular expression ("must match pattern /^[a-z][a-z0-9_]*$/")
      // numbers in a query string, in words
      { method: 'GET', url: '/v1/accounts?limit=0', status: 400, message: 'invalid querystring: limit: expected at least 1' },
      { method: 'GET', url: '/v1/accounts?limit=100000', status: 400, message: 'invalid querystring: limit: expected at most 1000' },
      { method: 'GET', url: '/v1/accounts?limit=abc', status: 400, message: 'invalid querystring: limit: expected a number' },
      { method: 'GET', url: '/v1/accounts?order=sideways', status: 400, message: 'invalid querystring: order: expected one of asc, desc' },
      // a body field of another type, in JSON's words ("Invalid input: expected array, received string")
      { method: 'POST', url: '/v1/scores', payload: { account_ids: 'acc_1' }, status: 400, message: 'invalid body: account_ids: expected an array, got text' },
      { method: 'GET', url: '/v1/accounts?tier=AT_RISK', status: 400, message: 'invalid querystring: tier: a tier name is lower-case letters, digits and _, starting with a letter (at_risk)' },
      { method: 'GET', url: '/v1/accounts?cursor=a%2Fb', status: 400, message: 'invalid querystring: cursor: invalid cursor: pass back next_cursor from a previous page' },
      { method: 'GET', url: `/v1/accounts/${id}/history?limit=abc`, status: 400 },
      { method: 'GET', url: `/v1/accounts/${id}/score-change?from=never`, status: 400 },
      { method: 'GET', url: '/v1/models/Bad!', status: 400 },
      { method: 'GET', url: '/v1/models/abc', status: 404 }, // an alias name that names no model
      { method: 'GET', url: '/v1/models/0', status: 400 },
      { method: 'GET', url: '/v1/models/999999', status: 404 },
      { method: 'GET', url: '/v1/models/2147483647', status: 404 }, // the largest version there can be: not "an alias is a lower-case name"
      { method: 'GET', url: '/v1/models/2147483648', status: 400, message: 'invalid params: version: a version is a whole number from 1 to 2147483647' },
      { method: 'GET', url: '/v1/reports/999999', status: 404 },
      { method: 'GET', url: '/v1/nothing-here', status: 404 },
      { method: 'POST', url: '/v1/scores', payload: {}, status: 400 },
      { method: 'POST', url: '/v1/scores', payload: { account_ids: [] }, status: 400 },
      { method: 'POST', url: '/v1/scores', payload: { account_ids: 'acc' }, status: 400 },
      { method: 'POST', url: '/v1/scores', payload: { account_ids: [1, 2] }, status: 400 },
      { method: 'POST', url: '/v1/scores', payload: { account_ids: Array.from({ length: 1001 }, (_, i) => `a${i}`) }, status: 400 },
      { method: 'POST', url: '/v1/scores', payload: { account_ids: [id], as_of: 12 }, status: 400 },
      { method: 'POST', url: '/v1/scores', payload: { account_ids: [id], extra: true }, status: 400 },
      { method: 'POST', url: '/v1/scores', payload: { account_ids: ['acc_nobody'], as_of: '2099-01-01' }, status: 400 },
      { method: 'POST', url: '/v1/predict', payload: { instances: [{}] }, status: 400 },
      { method: 'POST', url: '/v1/predict', payload: { instances: [{ active_days_28d: 'lots' }], allow_missing: true }, status: 400 },
      { method: 'PUT', url: `/v1/models/${h.champion}/aliases/champion`, payload: { force: true }, status: 400 },
      { method: 'POST', url: '/v1/scores', raw: '{"account_ids": [', type: 'application/json', status: 400 },
      // bodies are JSON only, and a body of another type says what to send (text/plain was a string, refused as "expected object")
      { method: 'POST', url: '/v1/scores', raw: '{"account_ids":["a"]}', type: 'text/plain', status: 415, message: JSON_ONLY },
      { method: 'POST', url: '/v1/predict', raw: 'instances=1', type: 'application/x-www-form-urlencoded', status: 415, message: JSON_ONLY },
      { method: 'POST', url: '/v1/scores', raw: '<a/>', type: 'application/xml', status: 415, message: JSON_ONLY },
      { method: 'POST', url: '/v1/predict', payload: { instances: [] }, status: 400 },
      { method: 'POST', url: '/v1/predict', payload: { instances: [[1, 2]] }, status: 400 },
      { method: 'POST', url: '/v1/predict', payload: { instances: [{ active_days_28d: { nested: 1 } }] }, status: 400 },
      { method: 'POST', url: '/v1/predict', payload: { instances: [{ active_days_28d: 'x'.repeat(500) }] }, status: 400 },
      { method: 'POST', url: '/v1/predict', raw: '{"instances":[{"active_days_28d":1e999}]}', type: 'application/json', status: 400 },
      { method: 'POST', url: '/v1/predict', raw: 'null', type: 'application/json', status: 400 },
      { method: 'PUT', url: `/v1/models/${h.champion}/aliases/Bad Alias`, payload: {}, status: 400 },
      { method: 'PUT', url: '/v1/models/999999/aliases/champion', payload: {}, status: 404 },
      { method: 'PUT', url: `/v1/models/${h.champion}/aliases/champion`, payload: { reason: 5 }, status: 400 },
      // refused before routing (Fastify's own answers had another shape, echoed the URL and lacked the headers)
      { method: 'GET', url: `/v1/accounts/${'a'.repeat(500)}/score`, status: 400, message: 'a part of the path is longer than 200 characters' },
      { method: 'GET', url: '/v1/accounts/%ff/score', status: 400, message: 'the path is not a valid URL path (a malformed %-escape?)' },
    ];
    for (const c of cases) {
      const res = await h.app.inject({
        method: c.method, url: c.url, headers: { ...bearer(h.adminKey), ...(c.type ? { 'content-type': c.type } : {}) },
        ...(c.raw !== undefined ? { payload: c.raw } : c.payload !== undefined ? { payload: c.payload as object } : {}),
      });
      expect(res.statusCode, `${c.method} ${c.url}: ${res.body.slice(0, 300)}`).toBe(c.status);
      expectErrorShape(res);
      if (c.message) expect((res.json() as { message: string }).message).toBe(c.message);
      expect([res.headers['cache-control'], res.headers['x-content-type-options']], `${c.method} ${c.url}`).toEqual(['no-store', 'nosniff']);
    }
  });

  it('never answers a generated fuzz set of parameters and bodies with a 5xx', async () => {
    const rand = rng(20261123);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const junk = (): string => {
      const alphabet = [...'aZ09_-.:/\\%?#&=+ \u0000\u00e9\u4e2d\ud83d\ude00\'"<>{}[],;'];
      return Array.from({ length: 1 + Math.floor(rand() * 40) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    };
    const value = (depth = 0): unknown => pick<() => unknown>([
      () => junk(), () => rand() * 1e6 - 5e5, () => Math.floor(rand() * 10), () => null, () => true, () => -0,
      () => (depth < 2 ? Array.from({ length: Math.floor(rand() * 3) }, () => value(depth + 1)) : []),
      () => (depth < 2 ? { [junk()]: value(depth + 1) } : {}),
    ])();
    const queries = ['as_of', 'top', 'explain', 'limit', 'cursor', 'tier', 'from', 'to'];
    for (let i = 0; i < 300; i++) {
      const id = pick([h.accountIds[0], encodeURIComponent(junk()), 'acc_nobody']);
      const qs = Array.from({ length: Math.floor(rand() * 3) }, () => `${pick(queries)}=${encodeURIComponent(String(value()))}`).join('&');
      const route = pick<[Method, string]>([
        ['GET', `/v1/accounts/${id}/score`], ['GET', `/v1/accounts/${id}/history`], ['GET', `/v1/accounts/${id}/score-change`],
        ['GET', '/v1/accounts'], ['POST', '/v1/scores'], ['POST', '/v1/predict'], ['GET', `/v1/models/${encodeURIComponent(junk())}`],
        ['PUT', `/v1/models/${pick([String(h.champion), encodeURIComponent(junk())])}/aliases/${encodeURIComponent(junk())}`],
        ['GET', `/v1/reports/${encodeURIComponent(junk())}`],
      ]);
      const body = route[0] === 'GET' ? undefined : pick([
        { account_ids: Array.from({ length: Math.floor(rand() * 4) }, () => value()) },
        { instances: Array.from({ length: Math.floor(rand() * 3) }, () => ({ [pick(h.catalog.names)]: value(), [junk()]: value() })) },
        { instances: [Object.fromEntries(h.catalog.names.slice(0, 5).map((n) => [n, value()]))] },
        value(),
      ]);
      const res = await h.app.inject({
        method: route[0], url: `${route[1]}${qs ? `?${qs}` : ''}`, headers: bearer(h.adminKey),
        ...(body !== undefined ? { payload: JSON.stringify(body), headers: { ...bearer(h.adminKey), 'content-type': 'application/json' } } : {}),
      });
      expect(res.statusCode, `${route[0]} ${route[1]}?${qs} ${JSON.stringify(body)?.slice(0, 200)}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
      if (res.statusCode >= 400) expectErrorShape(res);
    }
  });

  it('refuses a body over the size limit with 413', async () => {
    const ids = Array.from({ length: 60_000 }, (_, i) => `acc_${String(i).padStart(20, '0')}`);
    expectErrorShape(await h.app.inject({ method: 'POST', url: '/v1/scores', headers: bearer(h.readKey), payload: { account_ids: ids } }), 413);
  });

  it('limits requests per key and tells the caller when to retry', async () => {
    const limited = await buildApp({ ...h.deps, rateLimit: 3 });
    try {
      for (let i = 0; i < 3; i++) expect((await limited.inject({ url: '/v1/models', headers: bearer(h.readKey) })).statusCode).toBe(200);
      const over = await limited.inject({ url: '/v1/models', headers: bearer(h.readKey) });
      expectErrorShape(over, 429);
      expect(over.json().error).toBe('CHURN_ERR_RATE_LIMITED');
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      // another key has its own budget; unauthenticated operations routes are not limited
      expect((await limited.inject({ url: '/v1/models', headers: bearer(h.adminKey) })).statusCode).toBe(200);
      expect((await limited.inject({ url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('sends security headers and publishes an OpenAPI document listing every route', async () => {
    const res = await h.app.inject({ url: '/healthz' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBeDefined();
    const doc = (await h.app.inject({ url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/v1/accounts', '/v1/accounts/{id}/score', '/v1/scores', '/v1/predict', '/v1/accounts/{id}/history', '/v1/accounts/{id}/score-change',
      '/v1/models', '/v1/models/{version}', '/v1/models/{version}/aliases/{alias}', '/v1/reports/latest', '/v1/reports/{version}', '/healthz', '/readyz', '/metrics']) {
      expect(Object.keys(doc.paths), p).toContain(p);
    }
    expect(doc.components.schemas.Score.properties.drivers).toBeDefined();
    expect((await h.app.inject({ url: '/docs' })).statusCode).toBeLessThan(400);
  });

  it('exposes Prometheus metrics with per-route latency, scores served and the model version', async () => {
    await h.app.inject({ url: `/v1/accounts/${h.accountIds[1]}/score`, headers: bearer(h.readKey) });
    h.deps.metrics.modelVersion.set(h.champion);
    const text = (await h.app.inject({ url: '/metrics' })).body;
    expect(text).toMatch(/churn_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/accounts\/:id\/score"/);
    expect(text).toMatch(/churn_scores_served_total\{route="account_score"\} [1-9]/);
    expect(text).toContain(`churn_model_version ${h.champion}`);
  });
});
