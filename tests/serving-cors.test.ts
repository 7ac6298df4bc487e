import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { startLightApp, type LightApp } from './helpers/light-app.ts';
import { bearer } from './serving-fixture.ts';

const ALLOWED = 'https://cs.example.com';
const OTHER = 'https://elsewhere.example.com';
const preflight = (origin: string) => ({
  method: 'OPTIONS' as const, url: '/v1/accounts',
  headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
});

describe('CORS for browser tools', () => {
  let db: TestDatabase;
  let off: LightApp;
  let on: LightApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    off = await startLightApp({ db });
    on = await startLightApp({ db, corsOrigins: loadConfig({ CHURN_CORS_ORIGINS: `${ALLOWED}, https://app.example.com:8443` }).CHURN_CORS_ORIGINS });
  });
  afterAll(async () => {
    await off?.close();
    await on?.close();
    await db?.drop();
  });

  it('is off by default: no CORS headers on answers or preflights', async () => {
    const res = await off.app.inject({ url: '/v1/accounts', headers: { ...bearer(off.readKey), origin: ALLOWED } });
    expect(res.statusCode).toBe(200);
    expect(Object.keys(res.headers).filter((k) => k.startsWith('access-control-'))).toEqual([]);
    const pre = await off.app.inject(preflight(ALLOWED));
    expect(pre.statusCode).toBe(404);
    expect(Object.keys(pre.headers).filter((k) => k.startsWith('access-control-'))).toEqual([]);
  });

  it('answers an allowed origin with its headers, preflight included (without a key), and on errors too', async () => {
    const pre = await on.app.inject(preflight(ALLOWED));
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(String(pre.headers['access-control-allow-methods'])).toContain('GET');
    expect(String(pre.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization');
    expect(pre.headers['access-control-max-age']).toBe('600');
    const res = await on.app.inject({ url: '/v1/accounts', headers: { ...bearer(on.readKey), origin: ALLOWED } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(String(res.headers['access-control-expose-headers'])).toContain('x-request-id');
    expect(String(res.headers.vary)).toMatch(/origin/i);
    const refused = await on.app.inject({ url: '/v1/accounts', headers: { origin: ALLOWED } });
    expect(refused.statusCode).toBe(401); // the key still guards the route; the page can read why
    expect(refused.headers['access-control-allow-origin']).toBe(ALLOWED);
  });

  it('gives another origin no CORS headers, answer or preflight', async () => {
    const res = await on.app.inject({ url: '/v1/accounts', headers: { ...bearer(on.readKey), origin: OTHER } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const pre = await on.app.inject(preflight(OTHER));
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('reads CHURN_CORS_ORIGINS as a list of origins (or *), refusing anything else', () => {
    expect(loadConfig({}).CHURN_CORS_ORIGINS).toEqual([]);
    expect(loadConfig({ CHURN_CORS_ORIGINS: '*' }).CHURN_CORS_ORIGINS).toEqual(['*']);
    for (const bad of ['https://cs.example.com/', 'https://cs.example.com/app', 'cs.example.com', 'ftp://cs.example.com']) {
      expect(() => loadConfig({ CHURN_CORS_ORIGINS: bad }), bad).toThrow(/CHURN_CORS_ORIGINS: '.*' is not an origin/);
    }
  });
});
