import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerFeatures } from '../cli/commands/features.ts';
import type { Pool } from '../core/db.ts';
import { loadCatalog } from '../features/catalog.ts';
import { compileFeatures, featureStatement, formFor } from '../features/compile.ts';
import { buildSnapshots, rollupValid, selectFeatures } from '../features/materialize.ts';
import { readFeatures } from '../features/online.ts';
import { refreshEventRollup } from '../features/rollup.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { DAY, clearSource, loadDataset, randomDataset } from './features-seed.ts';

/*
 * The event rollup (migration 010) against the raw events: every feature read from the rollup equals
 * the raw path's value (which tests/features-oracle.test.ts checks against an independent oracle),
 * and the triggers keep the rollup equal to a full recomputation whatever plain SQL does to the events.
 */
const start = new Date('2026-01-01T00:00:00Z');
const end = new Date('2026-07-01T00:00:00Z');
const midnights = ['2025-12-20', '2026-01-09', '2026-02-01', '2026-03-15', '2026-04-30', '2026-06-30', '2026-07-05', '2026-09-01'].map((d) => new Date(`${d}T00:00:00Z`));

type Row = { as_of: Date; account_id: string; feature_values: (number | null)[] };
const keyed = (rows: Row[]) => new Map(rows.map((r) => [`${r.as_of.toISOString()} ${r.account_id}`, r.feature_values]));

/** Every (date, account, feature) where the two paths differ, as readable lines. */
function differences(names: readonly string[], raw: Row[], rollup: Row[]): string[] {
  const a = keyed(raw);
  const b = keyed(rollup);
  const out: string[] = [];
  for (const [k, va] of a) {
    const vb = b.get(k);
    if (!vb) { out.push(`${k}: missing from the rollup path`); continue; }
    va.forEach((x, j) => {
      const y = vb[j];
      const same = x === null || y === null ? x === y : Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x));
      if (!same) out.push(`${k} ${names[j]}: raw ${x}, rollup ${y}`);
    });
  }
  for (const k of b.keys()) if (!a.has(k)) out.push(`${k}: only in the rollup path`);
  return out;
}

/** The rollup's rows in a canonical order, as text (for comparing with a full recomputation). */
const rollupRows = async (pool: Pool) => (await pool.query(
  `SELECT account_id, kind, key, base_day, last_day, bits::text, key_bits::text, days::text, cum::text, first_key_at
   FROM churn.event_rollup ORDER BY account_id, kind, key NULLS FIRST`)).rows;

/** Runs `churn features ...` in this process against the test database; returns what it printed and the exit code set. */
async function featuresCli(db: TestDatabase, args: string[]): Promise<{ out: string; code: number }> {
  const program = new Command().exitOverride();
  registerFeatures(program);
  const printed: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void printed.push(a.join(' ')));
  const saved = { url: process.env.DATABASE_URL, code: process.exitCode };
  process.env.DATABASE_URL = db.url;
  process.exitCode = 0;
  try {
    await program.parseAsync(['node', 'churn', 'features', ...args]);
    return { out: printed.join('\n'), code: Number(process.exitCode ?? 0) };
  } finally {
    spy.mockRestore();
    process.env.DATABASE_URL = saved.url;
    process.exitCode = saved.code;
  }
}

describe('event rollup', () => {
  let db: TestDatabase;
  const catalog = loadCatalog();
  const ds = randomDataset(20261124, 30, start, end);

  const compare = async (dates: Date[] = midnights) => {
    const opts = { requireActive: false };
    const raw = await selectFeatures(db.pool, catalog, dates, { ...opts, events: 'raw' });
    const rollup = await selectFeatures(db.pool, catalog, dates, { ...opts, events: 'rollup' });
    expect(raw.length).toBeGreaterThan(dates.length * 5);
    return differences(catalog.names, raw, rollup);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    await loadDataset(db.pool, ds);
  });
  afterAll(async () => db?.drop());

  it('gives every feature the value the raw events give, at UTC midnights before, inside and after the data', async () => {
    expect(await rollupValid(db.pool)).toBe(true);
    expect(await compare()).toEqual([]);
    // the comparison covers features with values, not only empty accounts
    const rows = await selectFeatures(db.pool, catalog, [new Date('2026-04-30T00:00:00Z')], { events: 'rollup' });
    for (const name of ['events_28d', 'active_users_28d', 'feature_areas_90d', 'longest_inactive_streak_90d', 'days_since_last_activity', 'stickiness_28d']) {
      expect(rows.some((r) => (r.feature_values[catalog.names.indexOf(name)] ?? 0) > 0), name).toBe(true);
    }
  });

  it('stays equal to a full recomputation after plain-SQL inserts, updates and deletes of events', async () => {
    await db.pool.query(`INSERT INTO source.events (event_id, account_id, user_id, event_type, occurred_at, quantity)
      SELECT 800000 + row_number() OVER (), a.account_id, CASE WHEN g % 2 = 0 THEN NULL ELSE 'new_user_' || g END, (ARRAY['login','record_create','report_create','api_call'])[1 + g % 4],
             timestamptz '2026-03-01' + g * interval '37 hours', 2
      FROM (SELECT account_id FROM source.accounts ORDER BY account_id LIMIT 7) a, generate_series(0, 20) g`);
    await db.pool.query(`UPDATE source.events SET occurred_at = occurred_at - interval '40 days', event_type = 'report_create' WHERE event_id % 11 = 0`);
    await db.pool.query(`UPDATE source.events SET user_id = NULL WHERE event_id % 13 = 0`);
    await db.pool.query('DELETE FROM source.events WHERE event_id % 7 = 0');
    const maintained = await rollupRows(db.pool);
    await db.pool.query('SELECT churn.refresh_event_rollup(NULL)');
    expect(maintained).toEqual(await rollupRows(db.pool));
    expect(maintained.length).toBeGreaterThan(50);
    // recomputed in shards on several connections: the same rows, and valid again
    await db.pool.query('SELECT churn.suspend_event_rollup()');
    const sharded = await refreshEventRollup(db.pool, { shards: 3 });
    expect(sharded.rows).toBe(maintained.length);
    expect(await rollupValid(db.pool)).toBe(true);
    expect(await rollupRows(db.pool)).toEqual(maintained);
    expect(await compare()).toEqual([]);
  });

  it('stays equal to a full recomputation after writes straight into partitions, in ones created on demand, and a truncation of one month', async () => {
    const triggersOf = async () => (await db.pool.query<{ part: string; n: number; on: number }>(
      `SELECT i.inhrelid::regclass::text AS part, count(g.tgname)::int AS n, count(g.tgname) FILTER (WHERE g.tgenabled <> 'D')::int AS on
       FROM pg_inherits i LEFT JOIN pg_trigger g ON g.tgrelid = i.inhrelid AND g.tgname LIKE 'events_part_rollup_%'
       WHERE i.inhparent = 'source.events'::regclass GROUP BY 1 ORDER BY 1`)).rows;
    // the seeded events sit in the default partition; the others are this month's and the next
    // three's, created at migrate (empty, after the seeded months)
    const ahead = (await triggersOf()).filter((p) => p.part !== 'source.events_default');
    expect(await triggersOf()).toEqual([...ahead, { part: 'source.events_default', n: 4, on: 4 }]);
    expect(ahead).toEqual(ahead.map((p) => ({ ...p, n: 4, on: 4 })));
    expect(ahead).toHaveLength(4);
    const created = async () => (await triggersOf()).filter((p) => !ahead.some((a) => a.part === p.part));
    const recomputed = async () => {
      const maintained = await rollupRows(db.pool);
      await db.pool.query('SELECT churn.refresh_event_rollup(NULL)');
      return { maintained, recomputed: await rollupRows(db.pool) };
    };
    const before = await rollupRows(db.pool);
    // INSERT (or COPY), UPDATE and DELETE on a partition fire its own triggers, not the parent's
    await db.pool.query(`INSERT INTO source.events_default (event_id, account_id, user_id, event_type, occurred_at, quantity)
      SELECT 810000 + row_number() OVER (), a.account_id, 'part_user_' || (g % 3), (ARRAY['login','report_create','api_call'])[1 + g % 3],
             timestamptz '2026-03-02' + g * interval '29 hours', 3
      FROM (SELECT account_id FROM source.accounts ORDER BY account_id LIMIT 5) a, generate_series(0, 9) g`);
    let state = await recomputed();
    expect(state.maintained).toEqual(state.recomputed);
    expect(state.maintained).not.toEqual(before);
    await db.pool.query(`UPDATE source.events_default SET user_id = NULL, quantity = quantity + 1, event_type = 'report_create' WHERE event_id % 5 = 0`);
    await db.pool.query('DELETE FROM source.events_default WHERE event_id % 4 = 1');
    state = await recomputed();
    expect(state.maintained).toEqual(state.recomputed);
    // monthly partitions created on demand carry them at once
    expect((await db.pool.query(`SELECT source.ensure_event_partitions('2026-08-01', '2026-10-01') AS n`)).rows[0].n).toBe(2);
    expect(await created()).toEqual(['2026_08', '2026_09', 'default'].map((m) => ({ part: `source.events_${m}`, n: 4, on: 4 })));
    for (const [month, id] of [['08', 820000], ['09', 830000]] as const) {
      await db.pool.query(`INSERT INTO source.events_2026_${month} (event_id, account_id, user_id, event_type, occurred_at)
        SELECT ${id} + row_number() OVER (), account_id, 'late_user', 'report_create', timestamptz '2026-${month}-03 09:00Z' FROM source.accounts ORDER BY account_id LIMIT 4`);
    }
    state = await recomputed();
    expect(state.maintained).toEqual(state.recomputed);
    const later = [...midnights, new Date('2026-08-10T00:00:00Z'), new Date('2026-09-20T00:00:00Z')];
    expect(await compare(later)).toEqual([]);
    // truncating one month recomputes the whole rollup (which accounts lost events is not known)
    const withSeptember = await rollupRows(db.pool);
    await db.pool.query('TRUNCATE source.events_2026_09');
    state = await recomputed();
    expect(state.maintained).toEqual(state.recomputed);
    expect(state.maintained).not.toEqual(withSeptember);
    expect(await compare(later)).toEqual([]);
    // suspended for a bulk load, the partitions' triggers are off too; resumed, on again
    await db.pool.query('SELECT churn.suspend_event_rollup()');
    for (const p of await triggersOf()) expect(p, p.part).toMatchObject({ n: 4, on: 0 });
    await db.pool.query('SELECT churn.resume_event_rollup()');
    for (const p of await triggersOf()) expect(p, p.part).toMatchObject({ n: 4, on: 4 });
    expect(await rollupValid(db.pool)).toBe(true);
  });

  it('follows changes to the event types (areas and key features) and a truncation of the events', async () => {
    await db.pool.query(`UPDATE source.event_types SET feature_area = 'reporting', is_key_feature = NOT is_key_feature WHERE event_type = 'record_create'`);
    const maintained = await rollupRows(db.pool);
    await db.pool.query('SELECT churn.refresh_event_rollup(NULL)');
    expect(maintained).toEqual(await rollupRows(db.pool));
    expect(await compare()).toEqual([]);
    await db.pool.query('TRUNCATE source.events');
    expect((await db.pool.query('SELECT count(*)::int AS n FROM churn.event_rollup')).rows[0].n).toBe(0);
    expect(await compare([new Date('2026-04-30T00:00:00Z')])).toEqual([]);
  });

  it('is read by builds at midnights only while valid: suspended, builds read the raw events; resumed, the rollup again', async () => {
    await clearSource(db.pool);
    await loadDataset(db.pool, ds);
    const dates = [new Date('2026-03-01T00:00:00Z'), new Date('2026-05-01T00:00:00Z')];
    const viaRollup = await buildSnapshots(db.pool, catalog, dates, { shards: 2 });
    expect(viaRollup.events).toBe('rollup');
    const stored = async () => (await db.pool.query('SELECT as_of, account_id, feature_values FROM churn.feature_snapshots WHERE feature_set_version = $1 ORDER BY as_of, account_id', [catalog.version])).rows;
    const fromRollup = await stored();

    await db.pool.query('SELECT churn.suspend_event_rollup()');
    expect(await rollupValid(db.pool)).toBe(false);
    // while suspended, the triggers do not run: the rollup misses this event, and builds must not read it
    await db.pool.query(`INSERT INTO source.events (event_id, account_id, user_id, event_type, occurred_at) SELECT 990001, account_id, NULL, 'login', timestamptz '2026-02-27 10:00Z' FROM source.accounts ORDER BY account_id LIMIT 1`);
    const viaRaw = await buildSnapshots(db.pool, catalog, dates, { shards: 2 });
    expect(viaRaw.events).toBe('raw');
    const fromRaw = await stored();
    expect(differences(catalog.names, fromRollup, fromRaw).length).toBeGreaterThan(0); // the new event counts

    expect(Number((await db.pool.query('SELECT churn.resume_event_rollup() AS n')).rows[0].n)).toBeGreaterThan(0);
    expect(await rollupValid(db.pool)).toBe(true);
    const again = await buildSnapshots(db.pool, catalog, dates, { shards: 1 });
    expect(again.events).toBe('rollup');
    expect(differences(catalog.names, fromRaw, await stored())).toEqual([]);
    // a date that is not a UTC midnight reads the raw events
    expect((await buildSnapshots(db.pool, catalog, [new Date('2026-03-01T06:00:00Z')])).events).toBe('raw');
  });

  it('serves the scoring fast path at midnights with the raw path\'s values, and the raw events while suspended', async () => {
    const ids = (await db.pool.query<{ account_id: string }>('SELECT account_id FROM source.accounts ORDER BY account_id LIMIT 20')).rows.map((r) => r.account_id);
    const read = async (accounts: string[], asOf: Date, events: 'auto' | 'raw') =>
      [...(await readFeatures(db.pool, catalog, accounts, asOf, { requireActive: false, events }))].map(([id, f]) => ({ as_of: asOf, account_id: id, feature_values: f.values }));
    const same = async (accounts: string[], asOf: Date) => {
      const raw = await read(accounts, asOf, 'raw');
      expect(raw.length).toBeGreaterThan(0);
      return differences(catalog.names, raw, await read(accounts, asOf, 'auto'));
    };
    // one account, a few (per-account form) and more than 16 (grouped form), at two midnights
    for (const asOf of [new Date('2026-03-15T00:00:00Z'), new Date('2026-05-01T00:00:00Z')]) {
      for (const n of [1, 3, 20]) expect(await same(ids.slice(0, n), asOf), `${n} accounts at ${asOf.toISOString()}`).toEqual([]);
    }
    // an event written with the partition's maintenance switched off (as a disabled trigger or a
    // replica session would): the rollup, still marked valid, misses it, and the midnight read shows
    // that it is what was read
    const asOf = new Date('2026-03-15T00:00:00Z');
    const [{ part }] = (await db.pool.query<{ part: string }>("SELECT tableoid::regclass::text AS part FROM source.events WHERE occurred_at >= '2026-03-01' AND occurred_at < '2026-03-15' LIMIT 1")).rows;
    expect(part).not.toBe('source.events');
    await db.pool.query(`ALTER TABLE ${part} DISABLE TRIGGER events_part_rollup_insert`);
    await db.pool.query(`INSERT INTO ${part} (event_id, account_id, user_id, event_type, occurred_at) VALUES (990101, $1, 'u_direct', 'report_create', '2026-03-14 10:00Z')`, [ids[0]]);
    await db.pool.query(`ALTER TABLE ${part} ENABLE TRIGGER events_part_rollup_insert`);
    expect(await rollupValid(db.pool)).toBe(true);
    expect((await same([ids[0]], asOf)).length).toBeGreaterThan(0);
    // suspended (a bulk load under way): the statement sees it in its own snapshot and the raw events are read
    await db.pool.query('SELECT churn.suspend_event_rollup()');
    expect(await same([ids[0]], asOf)).toEqual([]);
    expect(await same(ids, asOf)).toEqual([]);
    await db.pool.query('SELECT churn.resume_event_rollup()');
    expect(await same([ids[0]], asOf)).toEqual([]);
    // other times of day read the raw events; the rollup form refuses them
    expect(await same([ids[0]], new Date('2026-03-15T06:30:00Z'))).toEqual([]);
    expect(() => featureStatement(catalog, formFor(1, new Date(0))).values(new Date('2026-03-15T06:30:00Z'), [ids[0]])).toThrow(/00:00 UTC/);
  });

  it('serves only dates at 00:00 UTC', () => {
    expect(() => compileFeatures(catalog, [new Date('2026-03-01T06:30:00Z')], { events: 'rollup' })).toThrow(/00:00 UTC/);
    expect(() => compileFeatures(catalog, [new Date(Date.parse('2026-03-01T00:00:00Z') + DAY)], { events: 'rollup' })).not.toThrow();
  });

  it('`churn features rollup --check` reports the state and `churn features rollup` repairs it', async () => {
    expect(await featuresCli(db, ['rollup', '--check'])).toMatchObject({ code: 0, out: expect.stringMatching(/valid/) });
    await db.pool.query('SELECT churn.suspend_event_rollup()');
    await db.pool.query(`INSERT INTO source.events (event_id, account_id, user_id, event_type, occurred_at) SELECT 990002, account_id, NULL, 'login', timestamptz '2026-03-02 10:00Z' FROM source.accounts ORDER BY account_id LIMIT 1`);
    expect(await featuresCli(db, ['rollup', '--check'])).toMatchObject({ code: 1, out: expect.stringMatching(/out of date/) });
    const { out } = await featuresCli(db, ['rollup']);
    expect(out).toMatch(/event rollup: \d+ rows/);
    expect(await rollupValid(db.pool)).toBe(true);
    expect(await compare([new Date('2026-03-15T00:00:00Z')])).toEqual([]);
    // a partition created by hand has no triggers: --check names it, and the refresh adds them
    await db.pool.query(`CREATE TABLE source.events_2001_01 PARTITION OF source.events FOR VALUES FROM ('2001-01-01') TO ('2001-02-01')`);
    expect(await featuresCli(db, ['rollup', '--check'])).toMatchObject({ code: 1, out: expect.stringMatching(/without the rollup's triggers .*source\.events_2001_01/) });
    await featuresCli(db, ['rollup']);
    expect(await featuresCli(db, ['rollup', '--check'])).toEqual({ code: 0, out: expect.not.stringMatching(/without/) });
    // triggers are on again: a later insert is maintained without any command
    await db.pool.query(`INSERT INTO source.events (event_id, account_id, user_id, event_type, occurred_at) SELECT 990003, account_id, 'u_new', 'report_create', timestamptz '2026-03-03 10:00Z' FROM source.accounts ORDER BY account_id LIMIT 1`);
    expect(await compare([new Date('2026-03-15T00:00:00Z')])).toEqual([]);
    const built = await featuresCli(db, ['build', '--as-of', '2026-03-15']);
    expect(built.out).toMatch(/events read from the event rollup/);
  });

  it('`churn features rollup --check` recomputes a sample of accounts and names those whose stored rollup differs', async () => {
    expect(await featuresCli(db, ['rollup', '--check'])).toEqual({ code: 0, out: expect.stringMatching(/\n\d+ sampled accounts recomputed from their events: equal to the stored rollup$/) });
    const ids = (await db.pool.query<{ account_id: string }>('SELECT account_id FROM churn.event_rollup WHERE kind = 0 ORDER BY account_id LIMIT 3')).rows.map((r) => r.account_id);
    expect(ids).toHaveLength(3);
    // by hand: one more event in the last active day's running sum; a feature area's row gone; a user's row too many
    await db.pool.query('UPDATE churn.event_rollup SET cum[cardinality(cum)] = cum[cardinality(cum)] + 1 WHERE account_id = $1 AND kind = 0', [ids[0]]);
    expect((await db.pool.query('DELETE FROM churn.event_rollup WHERE ctid = (SELECT ctid FROM churn.event_rollup WHERE account_id = $1 AND kind = 2 LIMIT 1)', [ids[1]])).rowCount).toBe(1);
    await db.pool.query(`INSERT INTO churn.event_rollup (account_id, kind, key, base_day, last_day, bits) SELECT account_id, 1, 'u_ghost', base_day, last_day, B'1' FROM churn.event_rollup WHERE account_id = $1 AND kind = 0`, [ids[2]]);
    const all = await featuresCli(db, ['rollup', '--check', '--sample', '100000']);
    expect(all.code).toBe(1);
    expect(all.out).toMatch(/^the event rollup is valid/);
    const [, n, named] = /differs from a recomputation from the events for 3 of (\d+) sampled accounts: ([^;]+); run `churn features rollup`$/.exec(all.out) ?? [];
    expect(named).toBe([...ids].sort().join(', '));
    expect(Number(n)).toBe(Number((await db.pool.query('SELECT count(*) AS n FROM source.accounts')).rows[0].n));
    // a smaller sample recomputes that many accounts; 0 skips the comparison
    expect((await featuresCli(db, ['rollup', '--check', '--sample', '5'])).out).toMatch(/ of 5 sampled accounts|^5 sampled accounts/m);
    expect(await featuresCli(db, ['rollup', '--check', '--sample', '0'])).toEqual({ code: 0, out: 'the event rollup is valid: builds at 00:00 UTC read it' });
    await expect(featuresCli(db, ['rollup', '--sample', '5'])).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION', message: 'sample: --sample needs --check' });
    await expect(featuresCli(db, ['rollup', '--check', '--sample', 'many'])).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    // the refresh repairs it
    await featuresCli(db, ['rollup']);
    expect((await featuresCli(db, ['rollup', '--check', '--sample', '100000'])).code).toBe(0);
  });
});
