import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../core/db.ts';
import { buildApp, type ChurnApp } from '../serving/app.ts';
import { Authenticator } from '../serving/auth.ts';
import { createApiKey } from '../serving/keys.ts';
import { bearer, startHarness, type ServingHarness } from './serving-fixture.ts';

/** `db` with the SELECTs sent through it counted. */
function countingSelects(db: Queryable): { db: Queryable; selects: () => number } {
  let n = 0;
  const wrapper = { query: ((text: string, values?: unknown[]) => {
    if (/^\s*SELECT/i.test(text)) n++;
    return (db as { query: (t: string, v?: unknown[]) => Promise<unknown> }).query(text, values);
  }) as Queryable['query'] } as Queryable;
  return { db: wrapper, selects: () => n };
}

const wrongKey = (i: number) => `chl_${i.toString(16).padStart(8, '0')}_${'A'.repeat(43)}`;

describe('failed authentication is limited per client address', () => {
  let h: ServingHarness;
  let app: ChurnApp;
  let counted: ReturnType<typeof countingSelects>;
  beforeAll(async () => {
    h = await startHarness();
    counted = countingSelects(h.db.pool);
    app = await buildApp({ ...h.deps, auth: new Authenticator(counted.db, []), limits: { authFailureLimit: 20 } });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  const from = (remoteAddress: string, key: string) => app.inject({ url: '/v1/models', remoteAddress, headers: bearer(key) });

  it('answers 401 to the first 20 wrong keys of an address and 429 with Retry-After to the rest, without reading the database for them', async () => {
    // a valid key in use from the same address before the attack: cached
    expect((await from('10.0.0.1', h.readKey)).statusCode).toBe(200);
    const statuses: number[] = [];
    let readsAtLimit = 0;
    for (let i = 0; i < 30; i++) {
      const res = await from('10.0.0.1', i % 3 === 0 ? 'not-a-key' : wrongKey(i));
      statuses.push(res.statusCode);
      if (i === 19) readsAtLimit = counted.selects();
      const body = res.json();
      expect(body).toEqual({ error: expect.any(String), message: expect.any(String), request_id: expect.any(String) });
      if (res.statusCode === 429) {
        expect(body.error).toBe('CHURN_ERR_AUTH_LIMITED');
        const retry = Number(res.headers['retry-after']);
        expect(retry).toBeGreaterThan(0);
        expect(retry).toBeLessThanOrEqual(60);
      } else {
        expect(body.error).toBe('CHURN_ERR_UNAUTHORIZED');
      }
    }
    expect(statuses).toEqual([...Array<number>(20).fill(401), ...Array<number>(10).fill(429)]);
    expect(counted.selects()).toBe(readsAtLimit); // refused at the door: no database read
    // the valid key already known keeps working from that address; another address has its own budget
    expect((await from('10.0.0.1', h.readKey)).statusCode).toBe(200);
    expect((await from('10.0.0.2', wrongKey(99))).statusCode).toBe(401);
    expect((await from('10.0.0.2', h.adminKey)).statusCode).toBe(200);
    // a key the server has not confirmed yet waits out the window at that address
    const fresh = await createApiKey(h.db.pool, { name: 'fresh', scopes: ['score:read'] });
    expect((await from('10.0.0.1', fresh)).statusCode).toBe(429);
    expect((await from('10.0.0.2', fresh)).statusCode).toBe(200);
  });

  it('does not count requests without credentials, and is off with a limit of 0', async () => {
    for (let i = 0; i < 25; i++) expect((await app.inject({ url: '/v1/models', remoteAddress: '10.0.0.3' })).statusCode).toBe(401);
    expect((await from('10.0.0.3', h.readKey)).statusCode).toBe(200);
    const open = await buildApp({ ...h.deps, limits: { authFailureLimit: 0 } });
    try {
      for (let i = 0; i < 25; i++) expect((await open.inject({ url: '/v1/models', remoteAddress: '10.0.0.4', headers: bearer(wrongKey(i)) })).statusCode).toBe(401);
    } finally {
      await open.close();
    }
  });
});
