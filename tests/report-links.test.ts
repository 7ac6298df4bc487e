import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { checkReportToken, createReportLink, ensureLinkSecret, ReportLinkVerifier, revokeReportLinks, signReportToken } from '../jobs/report/link.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { fixedReports, REPORT_READER_KEY, startReportApp } from './report-app.ts';

const SECRET = Buffer.alloc(32, 7);
const NOW = new Date('2026-11-23T08:00:00Z');
const DAY = 86_400_000;

describe('report link tokens', () => {
  const token = signReportToken(SECRET, 'latest', new Date(NOW.getTime() + 7 * DAY));

  it('accept the report they name until they expire', () => {
    expect(checkReportToken(SECRET, token, 'latest', NOW)).toEqual({ ok: true, expiresAt: new Date(NOW.getTime() + 7 * DAY) });
    expect(checkReportToken(SECRET, token, 'latest', new Date(NOW.getTime() + 7 * DAY - 1000)).ok).toBe(true);
    expect(checkReportToken(SECRET, token, 'latest', new Date(NOW.getTime() + 7 * DAY))).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('refuse another report, another secret, an edited expiry and garbage', () => {
    expect(checkReportToken(SECRET, token, 7, NOW)).toMatchObject({ ok: false, reason: 'other_report' });
    expect(checkReportToken(Buffer.alloc(32, 8), token, 'latest', NOW)).toMatchObject({ ok: false, reason: 'forged' });
    expect(checkReportToken(null, token, 'latest', NOW)).toMatchObject({ ok: false, reason: 'forged' });
    const [target, expires, sig] = token.split('.');
    expect(checkReportToken(SECRET, `${target}.${Number(expires) + 86_400}.${sig}`, 'latest', NOW)).toMatchObject({ ok: false, reason: 'forged' });
    expect(checkReportToken(SECRET, `7.${expires}.${sig}`, 7, NOW)).toMatchObject({ ok: false, reason: 'forged' });
    for (const bad of ['', 'latest', `${token}x`, token.replace(/\.[^.]+$/, '.!!'), `0.${expires}.${sig}`]) {
      expect(checkReportToken(SECRET, bad, 'latest', NOW)).toMatchObject({ ok: false, reason: 'malformed' });
    }
  });
});

describe('GET /v1/reports with a signed link', () => {
  let db: TestDatabase;
  let server: Awaited<ReturnType<typeof startReportApp>>;
  const html = '<!doctype html><html><body><main>report v7</main></body></html>';
  const json = { schemaVersion: 2, model: { version: 7 } };
  const pathOf = (url: string) => url.replace(/^https?:\/\/[^/]+/, '');

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startReportApp(db.pool, fixedReports(7, html, json));
  });
  afterAll(async () => {
    await server?.close();
    await db?.drop();
  });

  it('opens the report without an Authorization header, HTML and JSON twin, and the bearer key still works', async () => {
    const link = await createReportLink(db.pool, { target: 'latest', now: new Date(), baseUrl: 'http://127.0.0.1:3000' });
    expect(link.url).toMatch(/^http:\/\/127\.0\.0\.1:3000\/v1\/reports\/latest\?token=latest\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(link.expiresAt.getTime() - Date.now()).toBeGreaterThan(7 * DAY - 60_000);
    const page = await server.app.inject({ method: 'GET', url: pathOf(link.url) });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toBe(html);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    const twin = await server.app.inject({ method: 'GET', url: `${pathOf(link.url)}&format=json` });
    expect(twin.statusCode).toBe(200);
    expect(twin.json()).toEqual(json);
    const keyed = await server.app.inject({ method: 'GET', url: '/v1/reports/7', headers: { authorization: `Bearer ${REPORT_READER_KEY}` } });
    expect(keyed.statusCode).toBe(200);
    expect((await server.app.inject({ method: 'GET', url: '/v1/reports/7' })).statusCode).toBe(401);
  });

  it('opens one version with a link to that version, and nothing else', async () => {
    const link = await createReportLink(db.pool, { target: 7, now: new Date(), days: 1, baseUrl: 'http://localhost:3000/' });
    expect(link.url).toContain('http://localhost:3000/v1/reports/7?token=7.');
    expect((await server.app.inject({ method: 'GET', url: pathOf(link.url) })).statusCode).toBe(200);
    expect((await server.app.inject({ method: 'GET', url: pathOf(link.url).replace('/reports/7', '/reports/v7') })).statusCode).toBe(200);
    const other = await server.app.inject({ method: 'GET', url: pathOf(link.url).replace('/reports/7', '/reports/latest') });
    expect(other.statusCode).toBe(401);
    expect(other.json()).toMatchObject({ error: 'CHURN_ERR_LINK_INVALID', message: 'this report link opens another report' });
    // a token is no API key: other routes still want one
    expect((await server.app.inject({ method: 'GET', url: `/v1/accounts?token=${link.token}` })).statusCode).toBe(401);
  });

  it('refuses an expired link and a forged one with 401 and the error shape', async () => {
    const expired = await createReportLink(db.pool, { target: 'latest', now: new Date(Date.now() - 8 * DAY), days: 7, baseUrl: 'http://127.0.0.1:3000' });
    const res = await server.app.inject({ method: 'GET', url: pathOf(expired.url) });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: 'CHURN_ERR_LINK_EXPIRED', message: expect.stringMatching(/expired at .*churn report --link/), request_id: expect.any(String) });

    const good = await createReportLink(db.pool, { target: 'latest', now: new Date(), baseUrl: 'http://127.0.0.1:3000' });
    const forged = good.token.replace(/\.(\d+)\./, (_, e: string) => `.${Number(e) + 365 * 86_400}.`);
    for (const token of [forged, signReportToken(Buffer.alloc(32, 1), 'latest', new Date(Date.now() + DAY)), 'latest.1.abc', 'x'.repeat(300)]) {
      const bad = await server.app.inject({ method: 'GET', url: `/v1/reports/latest?token=${encodeURIComponent(token)}` });
      expect(bad.statusCode, token).toBe(401);
      expect(bad.json().error, token).toBe('CHURN_ERR_LINK_INVALID');
      expect(bad.json().request_id).toEqual(expect.any(String));
    }
  });

  it('accepts links signed after the server started, and refuses earlier ones once revoked, without a restart', async () => {
    const before = await createReportLink(db.pool, { target: 'latest', now: new Date(), baseUrl: 'http://127.0.0.1:3000' });
    expect((await server.app.inject({ method: 'GET', url: pathOf(before.url) })).statusCode).toBe(200);
    await revokeReportLinks(db.pool);
    await new Promise((r) => setTimeout(r, 1100)); // the server re-reads the secret at most once a second after a miss
    const after = await createReportLink(db.pool, { target: 'latest', now: new Date(), baseUrl: 'http://127.0.0.1:3000' });
    expect((await server.app.inject({ method: 'GET', url: pathOf(after.url) })).statusCode).toBe(200);
    const revoked = await server.app.inject({ method: 'GET', url: pathOf(before.url) });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().error).toBe('CHURN_ERR_LINK_INVALID');
  });

  it('creates one secret however many callers race for it', async () => {
    await query(db.pool, 'DELETE FROM churn.settings');
    expect(await new ReportLinkVerifier(db.pool).check(signReportToken(SECRET, 'latest', new Date(Date.now() + DAY)), 'latest')).toMatchObject({ ok: false, reason: 'forged' });
    const secrets = await Promise.all(Array.from({ length: 6 }, () => ensureLinkSecret(db.pool)));
    expect(new Set(secrets.map((s) => s.toString('hex'))).size).toBe(1);
    expect(secrets[0]).toHaveLength(32);
    const [{ n }] = await query<{ n: number }>(db.pool, "SELECT count(*)::int AS n FROM churn.settings WHERE name = 'report_link_secret'");
    expect(n).toBe(1);
  });

  it('counts wrong links against the client address like wrong keys', async () => {
    const limited = await startReportApp(db.pool, fixedReports(7, html, json), { authFailureLimit: 3 });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await limited.app.inject({ method: 'GET', url: `/v1/reports/latest?token=latest.1.${'A'.repeat(43)}` })).statusCode);
      expect(codes).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});
