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

/** A cached answer for one secret: served until `until`, refreshed in the background from `refreshAt`. */
interface CacheEntry {
  principal: Principal | null;
  refreshAt: number;
  until: number;
}

/**
 * Verifies bearer secrets against bootstrap keys and database keys. Hashes are compared with
 * `timingSafeEqual`; every bootstrap key is compared (no early exit). Database answers are cached
 * for `cacheMs`, so a revoked key stops working within that time. Under steady traffic no request
 * waits for the database: a key used in the last fifth of its period is read again in the
 * background while the cached answer is still served, and the new answer starts a new period. A
 * key's reads are single-flight: requests that need the same key at once share one read (without
 * that, every request of the milliseconds a read took started its own read and its own
 * `last_used_at` update, and opened connections to run them: the API's periodic stalls under load).
 */
export class Authenticator {
  private cache = new Map<string, CacheEntry>();
  private inflight = new Map<string, Promise<Principal | null>>();

  constructor(private readonly db: Queryable, private readonly bootstrap: BootstrapKey[], private readonly cacheMs = 5000) {}

  /** The key's principal, or null; synchronous when the answer needs no database read (hot path). */
  lookup(secret: string): Principal | null | Promise<Principal | null> {
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
    const hit = this.cache.get(digest);
    if (hit) {
      const now = performance.now();
      if (now < hit.until) {
        // a failed refresh is dropped: the entry expires, and the next request reads again and reports it
        if (now >= hit.refreshAt && !this.inflight.has(digest)) this.read(prefixOf(secret)!, digest).catch(() => undefined);
        return hit.principal;
      }
    }
    const prefix = prefixOf(secret);
    if (!prefix) return null;
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
    // Approximate last use (once per cache period per key), never in the way of the request.
    if (principal) query(this.db, { text: 'UPDATE churn.api_keys SET last_used_at = now() WHERE key_id = $1', values: [row.key_id] }).catch(() => undefined);
    if (this.cache.size > 10_000) this.cache.clear();
    const now = performance.now();
    this.cache.set(cacheKey, { principal, refreshAt: now + this.cacheMs * 0.8, until: now + this.cacheMs });
    return principal;
  }
}

function bearer(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : null;
}

/** onRequest hook: 401 without a valid key, 403 when the key lacks `scope` (no promise on the cached path). */
export function requireScope(auth: Authenticator, scope: Scope) {
  return (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void => {
    const secret = bearer(request);
    if (!secret) return done(new ChurnError('CHURN_ERR_UNAUTHORIZED', 'send Authorization: Bearer <api key>'));
    const found = auth.lookup(secret);
    if (found instanceof Promise) found.then((principal) => admit(request, principal, scope, done), (err: Error) => done(err));
    else admit(request, found, scope, done);
  };
}

/** Admits the request with its principal or fails it (a module function: no closure per request). */
function admit(request: FastifyRequest, principal: Principal | null, scope: Scope, done: (err?: Error) => void): void {
  if (!principal) return done(new ChurnError('CHURN_ERR_UNAUTHORIZED', 'the API key is unknown or revoked'));
  request.principal = principal;
  if (!principal.scopes.includes(scope)) return done(new ChurnError('CHURN_ERR_FORBIDDEN', `this route needs the '${scope}' scope`));
  done();
}
