import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { loadMigrations, migrate } from '../features/migrate.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

/** A textual fingerprint of every schema object the migrations own (tables, columns, indexes, constraints, functions). */
async function schemaFingerprint(db: TestDatabase): Promise<string> {
  const parts = await Promise.all([
    query(db.pool, `SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default
      FROM information_schema.columns WHERE table_schema IN ('source', 'churn') ORDER BY 1, 2, column_name`),
    query(db.pool, `SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
      WHERE schemaname IN ('source', 'churn') ORDER BY 1, 2, 3`),
    query(db.pool, `SELECT n.nspname, c.conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
      JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname IN ('source', 'churn') ORDER BY 1, 2, 3`),
    query(db.pool, `SELECT n.nspname, p.proname, md5(p.prosrc) AS src FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('source', 'churn') ORDER BY 1, 2`),
    query(db.pool, `SELECT version, name, checksum FROM churn.schema_migrations ORDER BY version`),
  ]);
  return JSON.stringify(parts);
}

describe('migrations', () => {
  let fresh: TestDatabase;
  let upgraded: TestDatabase;
  beforeAll(async () => {
    fresh = await createTestDatabase({ migrated: false });
    upgraded = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => {
    await fresh?.drop();
    await upgraded?.drop();
  });

  it('applies every migration on an empty database and nothing on a second run', async () => {
    const all = await loadMigrations();
    const first = await migrate(fresh.pool);
    expect(first.applied.map((m) => m.version)).toEqual(all.map((m) => m.version));
    expect(first.partitionsCreated).toBe(4); // this month's event partition and the next three
    const before = await schemaFingerprint(fresh);
    const second = await migrate(fresh.pool);
    expect(second.applied).toEqual([]);
    expect(second.partitionsCreated).toBe(0);
    expect(second.current).toBe(all[all.length - 1].version);
    expect(await schemaFingerprint(fresh)).toBe(before);
  });

  it('ends identical whether built fresh or upgraded step by step', async () => {
    const all = await loadMigrations();
    for (const m of all) {
      const r = await migrate(upgraded.pool, { upTo: m.version });
      expect(r.current).toBe(m.version);
    }
    expect(await schemaFingerprint(upgraded)).toBe(await schemaFingerprint(fresh));
  });

  it('keeps every migration file byte for byte as it was when first applied (a new change is a new migration)', async () => {
    // tests/fixtures/migration-checksums.txt: "sha256  file" per migration; add a line for a new migration, never change one
    const manifest = new Map(readFileSync(new URL('./fixtures/migration-checksums.txt', import.meta.url), 'utf8').trim().split('\n').map((l) => {
      const [sum, file] = l.split(/\s+/);
      return [file, sum];
    }));
    const all = await loadMigrations();
    expect(all.map((m) => `${String(m.version).padStart(3, '0')}_${m.name}.sql`)).toEqual([...manifest.keys()]);
    for (const m of all) expect(m.checksum, `migration ${m.version} (${m.name}) was edited`).toBe(manifest.get(`${String(m.version).padStart(3, '0')}_${m.name}.sql`));
  });

  it('adds the payment attempts\' account key over stored data: validated when every attempt is its invoice\'s account\'s, else left NOT VALID with the rows kept', async () => {
    const state = async (db: TestDatabase) => (await query<{ valid: boolean }>(db.pool, `SELECT convalidated AS valid FROM pg_constraint WHERE conname = 'payment_attempts_invoice_account_fkey'`))[0].valid;
    for (const mismatched of [false, true]) {
      const db = await createTestDatabase({ migrated: false });
      try {
        await migrate(db.pool, { upTo: 17 });
        await query(db.pool, `INSERT INTO source.accounts (account_id, name, segment, plan, created_at) VALUES ('a1', 'A', 'smb', 'pro', '2026-01-01Z'), ('a2', 'B', 'smb', 'pro', '2026-01-01Z');
          INSERT INTO source.invoices (invoice_id, account_id, issued_at, due_at, amount, status) VALUES ('i1', 'a1', '2026-01-01Z', '2026-01-15Z', 10, 'open')`);
        await query(db.pool, `INSERT INTO source.payment_attempts (attempt_id, invoice_id, account_id, attempted_at, succeeded) VALUES ('p1', 'i1', $1, '2026-01-02Z', false)`, [mismatched ? 'a2' : 'a1']);
        const r = await migrate(db.pool);
        expect(r.applied.map((m) => m.version)).toContain(18);
        expect(await state(db)).toBe(!mismatched);
        expect(await query(db.pool, 'SELECT attempt_id, account_id FROM source.payment_attempts')).toEqual([{ attempt_id: 'p1', account_id: mismatched ? 'a2' : 'a1' }]);
      } finally {
        await db.drop();
      }
    }
  });

  it('collapses duplicate stored scores to the latest of each account, model and as-of; the alerts that pointed at the others point at it', async () => {
    const db = await createTestDatabase({ migrated: false });
    try {
      await migrate(db.pool, { upTo: 18 });
      const s = (await query<{ score_id: string }>(db.pool, `INSERT INTO churn.score_history (account_id, as_of, model_version, segment, churn_probability,
          health_score, tier, tier_rank, recommended_action, scorecard_score, components, base_value, drivers)
        SELECT 'acc_a', v.at::timestamptz, v.m, 'established', 0.5, v.h, 'at_risk', 1, 'engage', 50, '{}', 0, '[]'
        FROM (VALUES ('2026-11-19Z', 1, 90), ('2026-11-20Z', 1, 50), ('2026-11-20Z', 1, 50), ('2026-11-20Z', 2, 60), ('2026-11-21Z', 1, 20)) v(at, m, h)
        ORDER BY v.at, v.m RETURNING score_id`)).map((r) => Number(r.score_id)).sort((a, b) => a - b);
      // two interleaved runs each alerted on their own duplicate; the next day's alert came from one of them
      await query(db.pool, `INSERT INTO churn.alerts (account_id, kind, from_score_id, to_score_id, from_health, to_health, from_tier, to_tier, payload)
        VALUES ('acc_a', 'score_drop', $1, $2, 90, 50, 'healthy', 'at_risk', '{}'), ('acc_a', 'score_drop', $1, $3, 90, 50, 'healthy', 'at_risk', '{}'),
          ('acc_a', 'score_drop', $2, $4, 50, 20, 'at_risk', 'critical', '{}')`, [s[0], s[1], s[2], s[4]]);
      await migrate(db.pool);
      expect((await query(db.pool, 'SELECT score_id FROM churn.score_history ORDER BY score_id')).map((r) => Number(r.score_id))).toEqual([s[0], s[2], s[3], s[4]]);
      expect((await query(db.pool, 'SELECT from_score_id, to_score_id FROM churn.alerts ORDER BY alert_id')).map((r) => [Number(r.from_score_id), Number(r.to_score_id)]))
        .toEqual([[s[0], s[2]], [s[0], s[2]], [s[2], s[4]]]);
    } finally {
      await db.drop();
    }
  });

  it('refuses to run when an applied migration was edited', async () => {
    const all = await loadMigrations();
    const edited = all.map((m, i) => (i === 0 ? { ...m, checksum: 'changed' } : m));
    await expect(migrate(fresh.pool, { migrations: edited })).rejects.toMatchObject({ code: 'CHURN_ERR_MIGRATION' });
  });

  it('runs safely when two processes migrate at once', async () => {
    const db = await createTestDatabase({ migrated: false });
    try {
      const [a, b] = await Promise.all([migrate(db.pool), migrate(db.pool)]);
      expect(a.applied.length + b.applied.length).toBe((await loadMigrations()).length);
    } finally {
      await db.drop();
    }
  });

  const partitions = async (db: TestDatabase) => (await query<{ relname: string; triggers: number }>(db.pool, `SELECT c.relname, count(g.tgname)::int AS triggers
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid LEFT JOIN pg_trigger g ON g.tgrelid = c.oid AND g.tgname LIKE 'events_part_rollup_%'
      WHERE i.inhparent = 'source.events'::regclass GROUP BY 1 ORDER BY 1`));

  it("creates this month's event partition and the next three's at migrate, with the rollup's triggers", async () => {
    const months = await query<{ relname: string }>(fresh.pool, `SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + k * interval '1 month', '"events_"YYYY_MM') AS relname
      FROM generate_series(0, 3) k ORDER BY 1`);
    expect(await partitions(fresh)).toEqual([...months.map((m) => ({ relname: m.relname, triggers: 4 })), { relname: 'events_default', triggers: 4 }]);
  });

  it('creates monthly event partitions on demand and routes rows into them', async () => {
    const ahead = (await partitions(fresh)).map((p) => p.relname);
    await query(fresh.pool, `SELECT source.ensure_event_partitions('2026-01-15T00:00:00Z', '2026-03-01T00:00:00Z')`);
    const parts = (await partitions(fresh)).filter((p) => !ahead.includes(p.relname));
    expect(parts.map((p) => p.relname)).toEqual(['events_2026_01', 'events_2026_02']);
    const again = await query<{ n: number }>(fresh.pool, `SELECT source.ensure_event_partitions('2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z') AS n`);
    expect(again[0].n).toBe(0);
  });
});
