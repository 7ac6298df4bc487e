import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { query, type Queryable } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import { prefixOf, selectKeyByPrefix, type BootstrapKey, type Scope } from './keys.ts';

export interface Principal {
  /** stable id used for rate limiting: `db:<key_id>` or `env:<name>` */
  id: string;
  name: string;
  scopes: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** A cached valid key: served until `until`, refreshed in the background from `refreshAt`. */
interface CacheEntry {
  principal: Principal;
  refreshAt: number;
  until: number;
}

/** Valid keys cached at most (only secrets the database confirmed get here, so this is never reached in practice). */
const MAX_VALID = 10_000;
/** Refused secrets remembered at most; the oldest is forgotten first. A cache of its own, so refusals never evict a valid key. */
const MAX_REFUSED = 1_000;

/**
 * Verifies bearer secrets against bootstrap keys and database keys. Hashes are compared with
 * `timingSafeEqual`; every bootstrap key is compared (no early exit). A secret without the shape of a
 * database key (`chl_<8 hex>_<43 base64url>`) is refused without a database read. Database answers
 * are cached for `cacheMs`, so a revoked key stops working within that time: valid keys in one cache,
 * refusals in another, small and bounded, so a flood of wrong secrets cannot push a valid key out.
 * Under steady traffic no request waits for the database: a valid key used in the last fifth of its
 * period is read again in the background while the cached answer is still served, and the new answer
 * starts a new period. A key's reads are single-flight: requests that need the same key at once share
 * one read (without that, every request of the milliseconds a read took started its own read and its
 * own `last_used_at` update, and opened connections to run them: the API's periodic stalls under load).
 */
export class Authenticator {
  private valid = new Map<string, CacheEntry>();
  private refused = new Map<string, number>(); // digest -> until
  private inflight = new Map<string, Promise<Principal | null>>();

  constructor(private readonly db: Queryable, private readonly bootstrap: BootstrapKey[], private readonly cacheMs = 5000) {}

  /**
   * The key's principal, or null; synchronous when the answer needs no database read (hot path).
   * With `readDatabase` false, `undefined` stands for an answer only the database could give.
   */
  lookup(secret: string): Principal | null | Promise<Principal | null>;
  lookup(secret: string, readDatabase: false): Principal | null | undefined;
  lookup(secret: string, readDatabase = true): Principal | null | undefined | Promise<Principal | null> {
    // the digest as a binary string: the cache key, made into a Buffer only when compared
    const digest = hash('sha256', secret, 'binary');
    if (this.bootstrap.length) {
      const bytes = Buffer.from(digest, 'latin1');
      let found: Principal | null = null;
      for (const k of this.bootstrap) {
        if (timingSafeEqual(k.hash, bytes) && !found) found = { id: `env:${k.name}`, name: k.name, scopes: k.scopes };
      }
      if (found) return found;
    }
    const prefix = prefixOf(secret);
    if (!prefix) return null; // cannot be a database key: no read
    const now = performance.now();
    const hit = this.valid.get(digest);
    if (hit && now < hit.until) {
      // a failed refresh is dropped: the entry expires, and the next request reads again and reports it
      if (now >= hit.refreshAt && !this.inflight.has(digest)) this.read(prefix, digest).catch(() => undefined);
      return hit.principal;
    }
    const refusedUntil = this.refused.get(digest);
    if (refusedUntil !== undefined && now < refusedUntil) return null;
    if (!readDatabase) return undefined;
    return this.inflight.get(digest) ?? this.read(prefix, digest);
  }

  async verify(secret: string): Promise<Principal | null> {
    return this.lookup(secret);
  }

  /** Reads the key from the database once for every request that needs it meanwhile. */
  private read(prefix: string, digest: string): Promise<Principal | null> {
    const pending = this.fromDatabase(prefix, Buffer.from(digest, 'latin1'), digest).finally(() => this.inflight.delete(digest));
    this.inflight.set(digest, pending);
    return pending;
  }

  private async fromDatabase(prefix: string, hash: Buffer, cacheKey: string): Promise<Principal | null> {
    const rows = await query<{ key_id: number; name: string; key_hash: Buffer; scopes: string[]; revoked_at: Date | null }>(this.db, selectKeyByPrefix(prefix));
    const row = rows[0];
    const principal = row && row.revoked_at === null && row.key_hash.length === hash.length && timingSafeEqual(row.key_hash, hash)
      ? { id: `db:${row.key_id}`, name: row.name, scopes: row.scopes }
      : null;
    const now = performance.now();
    if (principal) {
      // Approximate last use (once per cache period per key), never in the way of the request.
      query(this.db, { text: 'UPDATE churn.api_keys SET last_used_at = now() WHERE key_id = $1', values: [row.key_id] }).catch(() => undefined);
      this.valid.delete(cacheKey); // re-inserted last: the oldest entry is the least recently confirmed
      if (this.valid.size >= MAX_VALID) this.valid.delete(this.valid.keys().next().value!);
      this.valid.set(cacheKey, { principal, refreshAt: now + this.cacheMs * 0.8, until: now + this.cacheMs });
      this.refused.delete(cacheKey);
    } else {
      this.valid.delete(cacheKey);
      this.refused.delete(cacheKey);
      if (this.refused.size >= MAX_REFUSED) this.refused.delete(this.refused.keys().next().value!);
      this.refused.set(cacheKey, now + this.cacheMs);
    }
    return principal;
  }
}

/**
 * Failed authentication attempts per client address in fixed windows of `windowMs`: from the `max`-th
 * failure to the end of its window the address is refused (429) any answer that needs the database.
 * Tracks at most `maxAddresses` addresses (expired windows are swept first, then the oldest dropped).
 */
export class FailureLimiter {
  private windows = new Map<string, { failures: number; resetAt: number }>();

  constructor(readonly max: number, private readonly windowMs = 60_000, private readonly maxAddresses = 10_000) {}

  /** Seconds until `address` may try unknown secrets again; 0 when it may now. */
  retryAfter(address: string, now = performance.now()): number {
    const w = this.windows.get(address);
    if (!w) return 0;
    if (now >= w.resetAt) {
      this.windows.delete(address);
      return 0;
    }
    return w.failures >= this.max ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 0;
  }

  fail(address: string, now = performance.now()): void {
    const w = this.windows.get(address);
    if (w && now < w.resetAt) {
      w.failures++;
      return;
    }
    if (!w && this.windows.size >= this.maxAddresses) this.sweep(now);
    this.windows.set(address, { failures: 1, resetAt: now + this.windowMs });
  }

  private sweep(now: number): void {
    for (const [address, w] of this.windows) if (now >= w.resetAt) this.windows.delete(address);
    if (this.windows.size >= this.maxAddresses) this.windows.delete(this.windows.keys().next().value!);
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** failed authentication attempts per client address (null: not limited) */
    authFailures: FailureLimiter | null;
  }
}

function bearer(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : null;
}

/**
 * onRequest hook: 401 without a valid key, 403 when the key lacks `scope` (no promise on the cached
 * path). Wrong credentials count against the client address (`FailureLimiter`); an address over the
 * limit gets 429 for anything but a key already known valid, without a database read.
 */
export function requireScope(auth: Authenticator, scope: Scope) {
  return (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void => {
    const secret = bearer(request);
    if (!secret) return done(new ChurnError('CHURN_ERR_UNAUTHORIZED', 'send Authorization: Bearer <api key>'));
    const limiter = request.server.authFailures;
    const wait = limiter ? limiter.retryAfter(request.ip) : 0;
    if (wait > 0) {
      const known = auth.lookup(secret, false);
      if (known) return admit(request, known, scope, done);
      return done(new ChurnError('CHURN_ERR_AUTH_LIMITED', `too many failed authentication attempts from this address (${limiter!.max} a minute); retry in ${wait} s`, { details: { retryAfterSeconds: wait } }));
    }
    const found = auth.lookup(secret);
    if (found instanceof Promise) found.then((principal) => admit(request, principal, scope, done), (err: Error) => done(err));
    else admit(request, found, scope, done);
  };
}

/** Admits the request with its principal or fails it (a module function: no closure per request). */
function admit(request: FastifyRequest, principal: Principal | null, scope: Scope, done: (err?: Error) => void): void {
  if (!principal) {
    request.server.authFailures?.fail(request.ip);
    return done(new ChurnError('CHURN_ERR_UNAUTHORIZED', 'the API key is unknown or revoked'));
  }
  request.principal = principal;
  if (!principal.scopes.includes(scope)) return done(new ChurnError('CHURN_ERR_FORBIDDEN', `this route needs the '${scope}' scope`));
  done();
}
