import { hash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { query, type Queryable, type Sql } from '../core/db.ts';
import { ChurnError, describeIssues } from '../core/errors.ts';

/** API keys: `chl_<8 hex prefix>_<43 base64url chars>`. Stored as sha256 + prefix; shown once. */
export const SCOPES = ['score:read', 'models:admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const KeyNameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a key name is 1-64 letters, digits, dots, dashes or underscores');
export const ScopesSchema = z.array(z.enum(SCOPES)).min(1);

export interface ApiKeyRow {
  key_id: number;
  name: string;
  key_prefix: string;
  scopes: string[];
  created_at: Date;
  revoked_at: Date | null;
  /** approximate: refreshed when the server looks the key up (at most every few seconds) */
  last_used_at: Date | null;
}

/** sha256 of the secret (one-shot `crypto.hash`: it runs on every authenticated request). */
export function hashSecret(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}

/** The lookup prefix of a database key, or null when the secret does not have the database shape. */
export function prefixOf(secret: string): string | null {
  const m = /^chl_([0-9a-f]{8})_[A-Za-z0-9_-]{43}$/.exec(secret);
  return m ? m[1] : null;
}

const insertKey = (name: string, prefix: string, hash: Buffer, scopes: string[]): Sql => ({
  text: `INSERT INTO churn.api_keys (name, key_prefix, key_hash, scopes) VALUES ($1, $2, $3, $4) RETURNING key_id`,
  values: [name, prefix, hash, scopes],
});

export const selectKeyByPrefix = (prefix: string): Sql => ({
  text: `SELECT key_id, name, key_prefix, key_hash, scopes, created_at, revoked_at FROM churn.api_keys WHERE key_prefix = $1`,
  values: [prefix],
});

/** Creates a key and returns its secret (the only time it is visible). */
export async function createApiKey(db: Queryable, input: { name: string; scopes: string[] }): Promise<string> {
  const name = KeyNameSchema.safeParse(input.name);
  const scopes = ScopesSchema.safeParse([...new Set(input.scopes)]);
  if (!name.success) throw new ChurnError('CHURN_ERR_VALIDATION', `key name: ${describeIssues(name.error.issues)}`);
  if (!scopes.success) {
    const unknown = input.scopes.filter((sc) => !(SCOPES as readonly string[]).includes(sc));
    const what = unknown.length ? `unknown scope${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => JSON.stringify(u)).join(', ')}` : 'no scope';
    throw new ChurnError('CHURN_ERR_VALIDATION', `scopes: ${what}; the scopes are ${SCOPES.join(', ')}`);
  }
  for (;;) {
    const prefix = randomBytes(4).toString('hex');
    const secret = `chl_${prefix}_${randomBytes(32).toString('base64url')}`;
    try {
      await query(db, insertKey(name.data, prefix, hashSecret(secret), scopes.data));
      return secret;
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err; // prefix collision: draw again
    }
  }
}

/** Revokes by name or by prefix; returns how many keys were revoked (0 means no such active key). */
export async function revokeApiKey(db: Queryable, nameOrPrefix: string): Promise<number> {
  const rows = await query(db, {
    text: `UPDATE churn.api_keys SET revoked_at = now() WHERE (name = $1 OR key_prefix = $1) AND revoked_at IS NULL RETURNING key_id`,
    values: [nameOrPrefix],
  });
  return rows.length;
}

export async function listApiKeys(db: Queryable): Promise<ApiKeyRow[]> {
  return query<ApiKeyRow>(db, `SELECT key_id, name, key_prefix, scopes, created_at, revoked_at, last_used_at FROM churn.api_keys ORDER BY key_id`);
}

export interface BootstrapKey {
  name: string;
  hash: Buffer;
  scopes: Scope[];
}

/** Parses `CHURN_API_KEYS` (`name:secret:scope1+scope2`, comma-separated). */
export function parseBootstrapKeys(raw: string | undefined): BootstrapKey[] {
  if (!raw) return [];
  return raw.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    // Scopes contain colons themselves (score:read): the name and secret are the first two fields.
    const parts = entry.split(':');
    if (parts.length < 3) throw new ChurnError('CHURN_ERR_CONFIG', 'CHURN_API_KEYS entries must look like name:secret:scope1+scope2');
    const [name, secret] = parts;
    const scopeText = parts.slice(2).join(':');
    const scopes = ScopesSchema.safeParse(scopeText.split('+'));
    if (!KeyNameSchema.safeParse(name).success || secret.length < 12 || !scopes.success) {
      throw new ChurnError('CHURN_ERR_CONFIG', `CHURN_API_KEYS entry '${name}': needs a valid name, a secret of at least 12 characters and scopes among ${SCOPES.join(', ')}`);
    }
    return { name, hash: hashSecret(secret), scopes: scopes.data };
  });
}
