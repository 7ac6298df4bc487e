import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool } from '../core/db.ts';
import { withTransaction } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import { createEventPartitionsAhead } from './ingest/partitions.ts';

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
const LOCK_KEY = 0x636875726e; // "churn": serialises concurrent migrators

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const out: Migration[] = [];
  for (const file of files) {
    const sql = await fs.readFile(path.join(dir, file), 'utf8');
    out.push({ version: Number(file.slice(0, 3)), name: file.slice(4, -4), sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  const versions = new Set(out.map((m) => m.version));
  if (versions.size !== out.length) throw new ChurnError('CHURN_ERR_MIGRATION', `two migrations share a version number in ${dir}`);
  return out;
}

export interface MigrateResult {
  applied: Migration[];
  current: number;
  /** event partitions created for this month and the next ones (after the migrations, best effort) */
  partitionsCreated: number;
}

/**
 * Applies every pending migration in one transaction (all or nothing), under an advisory lock so
 * that concurrent processes (replicas, parallel tests) never race. Idempotent: a second call applies nothing.
 * `upTo` stops at a version (used to test upgrades). An applied migration whose file changed is an error.
 * Then, in short transactions of their own that give way to other sessions, the monthly event
 * partitions of this month and the next ones (features/ingest/partitions.ts), so that loads of
 * current events never create one.
 */
export async function migrate(pool: Pool, opts: { upTo?: number; migrations?: Migration[] } = {}): Promise<MigrateResult> {
  const migrations = opts.migrations ?? (await loadMigrations());
  const result = await applyMigrations(pool, migrations, opts.upTo);
  return { ...result, partitionsCreated: await createEventPartitionsAhead(pool) };
}

async function applyMigrations(pool: Pool, migrations: Migration[], upTo: number | undefined): Promise<Omit<MigrateResult, 'partitionsCreated'>> {
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS churn;
      CREATE TABLE IF NOT EXISTS churn.schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM churn.schema_migrations ORDER BY version');
    const done = new Map(rows.map((r) => [r.version, r]));
    for (const m of migrations) {
      const prior = done.get(m.version);
      if (prior && prior.checksum !== m.checksum) {
        throw new ChurnError('CHURN_ERR_MIGRATION', `migration ${m.version}_${m.name} was changed after it was applied; add a new migration instead`);
      }
    }
    const applied: Migration[] = [];
    for (const m of migrations) {
      if (done.has(m.version) || (upTo !== undefined && m.version > upTo)) continue;
      try {
        await client.query(m.sql);
      } catch (err) {
        throw new ChurnError('CHURN_ERR_MIGRATION', `migration ${m.version}_${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      await client.query('INSERT INTO churn.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
      applied.push(m);
    }
    const { rows: cur } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM churn.schema_migrations');
    return { applied, current: cur[0].v ?? 0 };
  });
}
