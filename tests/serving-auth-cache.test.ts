import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../core/db.ts';
import { Authenticator } from '../serving/auth.ts';
import { createApiKey, revokeApiKey } from '../serving/keys.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The test database's pool, with the statements sent through it counted by kind. */
function counted(db: TestDatabase): { db: Queryable; selects: () => number; updates: () => number } {
  const texts: string[] = [];
  const pool = db.pool;
  const wrapper = { query: ((text: string, values?: unknown[]) => {
    texts.push(text);
    return pool.query(text, values);
  }) as Queryable['query'] } as Queryable;
  return {
    db: wrapper,
    selects: () => texts.filter((t) => /^\s*SELECT/i.test(t)).length,
    updates: () => texts.filter((t) => /^\s*UPDATE/i.test(t)).length,
  };
}

describe('API key cache', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('reads a key once for all the requests that need it at the same time', async () => {
    const secret = await createApiKey(db.pool, { name: 'burst', scopes: ['score:read'] });
    const c = counted(db);
    const auth = new Authenticator(c.db, [], 5000);
    const answers = await Promise.all(Array.from({ length: 25 }, () => auth.lookup(secret)));
    for (const a of answers) expect(a).toMatchObject({ name: 'burst', scopes: ['score:read'] });
    expect(c.selects()).toBe(1);
    expect(c.updates()).toBe(1);
    // the cached answer is synchronous: no promise, no read
    expect(auth.lookup(secret)).toMatchObject({ name: 'burst' });
    expect(c.selects()).toBe(1);
  });

  it('reads a key in use again before its answer expires, so no request waits for the database', async () => {
    const secret = await createApiKey(db.pool, { name: 'steady', scopes: ['score:read'] });
    const c = counted(db);
    const cacheMs = 4000; // wide margins around the marks below, for a loaded machine
    const auth = new Authenticator(c.db, [], cacheMs);
    const t0 = performance.now();
    await auth.lookup(secret);
    expect(c.selects()).toBe(1);
    // in the last fifth of the period: still the cached answer, with one read started behind it
    await sleep(cacheMs * 0.85 - (performance.now() - t0));
    const late = auth.lookup(secret);
    expect(late).not.toBeInstanceOf(Promise);
    expect(late).toMatchObject({ name: 'steady' });
    auth.lookup(secret); // a second request meanwhile starts no second read
    expect(c.selects()).toBe(2);
    // past the first period's end, the refreshed answer is served without a read
    await sleep(cacheMs * 1.2 - (performance.now() - t0));
    const after = auth.lookup(secret);
    expect(after).not.toBeInstanceOf(Promise);
    expect(after).toMatchObject({ name: 'steady' });
    expect(c.selects()).toBe(2);
  });

  it('stops accepting a revoked key within the cache period while the key stays in use', async () => {
    const secret = await createApiKey(db.pool, { name: 'revoked-soon', scopes: ['score:read'] });
    const cacheMs = 600;
    const auth = new Authenticator(db.pool, [], cacheMs);
    expect(await auth.lookup(secret)).toMatchObject({ name: 'revoked-soon' });
    await sleep(cacheMs * 0.7); // the next reads refresh ahead of expiry
    expect(await revokeApiKey(db.pool, 'revoked-soon')).toBe(1);
    const revokedAt = performance.now();
    let refusedAfter = Infinity;
    while (performance.now() - revokedAt < cacheMs * 3) {
      if ((await auth.lookup(secret)) === null) {
        refusedAfter = performance.now() - revokedAt;
        break;
      }
      await sleep(20);
    }
    expect(refusedAfter).toBeLessThan(cacheMs + 200);
    expect(auth.lookup(secret)).toBeNull(); // the refusal is cached too
  });
});

describe('API key cache under a flood of wrong secrets', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('keeps valid keys cached while thousands of distinct wrong secrets are refused', async () => {
    const FLOOD = 10_200;
    const secrets = await Promise.all(['one', 'two'].map((name) => createApiKey(db.pool, { name, scopes: ['score:read'] })));
    const c = counted(db);
    const auth = new Authenticator(c.db, [], 60_000);
    for (const s of secrets) expect(await auth.lookup(s)).toMatchObject({ scopes: ['score:read'] });
    const before = c.selects();
    // well-formed but unknown: each needs one read, and each refusal is remembered (a bounded cache of its own)
    // (more than 10,000: the old single cache was cleared, valid keys and all, past that size)
    for (let i = 0; i < FLOOD; i += 200) {
      await Promise.all(Array.from({ length: 200 }, (_, j) => auth.lookup(`chl_${(i + j).toString(16).padStart(8, '0')}_${'B'.repeat(43)}`)));
    }
    expect(c.selects()).toBe(before + FLOOD);
    for (const s of secrets) {
      const hit = auth.lookup(s);
      expect(hit).not.toBeInstanceOf(Promise); // still cached: no read
      expect(hit).toMatchObject({ scopes: ['score:read'] });
    }
    expect(c.selects()).toBe(before + FLOOD);
    // a recent refusal is answered from its cache
    expect(auth.lookup(`chl_${(FLOOD - 1).toString(16).padStart(8, '0')}_${'B'.repeat(43)}`)).toBeNull();
    expect(c.selects()).toBe(before + FLOOD);
  });

  it('never reads the database for a secret that cannot be a key', async () => {
    const c = counted(db);
    const auth = new Authenticator(c.db, [], 5000);
    for (const s of ['nope', 'chl_short', `chl_ABCDEF12_${'x'.repeat(43)}`, `chl_abcdef12_${'x'.repeat(42)}`, `chl_abcdef12_${'x'.repeat(43)}!`, `xyz_abcdef12_${'x'.repeat(43)}`]) {
      expect(auth.lookup(s)).toBeNull();
    }
    for (let i = 0; i < 1000; i++) expect(auth.lookup(`wrong-${i}`)).toBeNull();
    expect(c.selects()).toBe(0);
  });
});
