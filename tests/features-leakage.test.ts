import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../core/db.ts';
import { loadCatalog } from '../features/catalog.ts';
import { selectFeatures } from '../features/materialize.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { DAY, clearSource, loadDataset, randomDataset, rng } from './features-seed.ts';

/*
 * Leakage property: for random T, inserting or changing any event, ticket, survey, invoice, payment
 * attempt, user or subscription at or after T leaves every feature of every account at T unchanged;
 * and a change before T does change some feature (so the check can fail).
 */
const start = new Date('2026-01-01T00:00:00Z');
const end = new Date('2026-07-01T00:00:00Z');

type Mutation = (pool: Pool, T: Date, r: () => number, n: number) => Promise<unknown>;

const iso = (d: Date) => d.toISOString();
const later = (T: Date, r: () => number) => new Date(T.getTime() + Math.floor(r() * 40 * DAY)); // at or after T (r() may be 0)

/** Mutations whose facts become known at or after T; each is randomised by r. */
const MUTATIONS: Record<string, Mutation> = {
  'events at or after T': (pool, T, r, n) => pool.query(
    `INSERT INTO source.events (event_id, account_id, user_id, event_type, occurred_at, quantity)
     SELECT 900000 + $3::int * 1000 + row_number() OVER (), a.account_id, NULL, (ARRAY['login','record_create','report_create','api_call'])[1 + g % 4], $1::timestamptz + (g * $2::float8) * interval '1 hour', 5
     FROM source.accounts a, generate_series(0, 3) g`, [iso(T), r() * 5, n]),
  'an event exactly at T': (pool, T) => pool.query(`UPDATE source.events SET occurred_at = $1 WHERE event_id = (SELECT min(event_id) FROM source.events WHERE occurred_at >= $1)`, [iso(T)]),
  'tickets opened at or after T': (pool, T, r, n) => pool.query(
    `INSERT INTO source.support_tickets (ticket_id, account_id, opened_at, closed_at, priority, status, escalated, escalated_at, csat)
     SELECT 'late_' || $3::int || '_' || account_id, account_id, $1::timestamptz, $2::timestamptz, 'urgent', 'closed', true, $1::timestamptz, 1 FROM source.accounts`, [iso(T), iso(later(T, r)), n]),
  'tickets closed, escalated and rated at or after T': (pool, T, r) => pool.query(
    `UPDATE source.support_tickets SET closed_at = $2, escalated = true, csat = 1, status = 'closed',
       escalated_at = CASE WHEN escalated_at < $1 THEN escalated_at ELSE greatest(opened_at, $2::timestamptz) END
     WHERE opened_at < $1 AND (closed_at IS NULL OR closed_at >= $1)`, [iso(T), iso(later(T, r))]),
  'surveys at or after T': (pool, T, r, n) => pool.query(
    `INSERT INTO source.survey_responses (response_id, account_id, survey_type, score, responded_at)
     SELECT 'late_' || $2::int || '_' || account_id || t, account_id, t, CASE t WHEN 'nps' THEN 0 ELSE 1 END, $1::timestamptz FROM source.accounts, unnest(ARRAY['nps','csat']) t`, [iso(later(T, r)), n]),
  'invoices issued at or after T': (pool, T, r, n) => pool.query(
    `INSERT INTO source.invoices (invoice_id, account_id, issued_at, due_at, amount, status) SELECT 'late_' || $2::int || '_' || account_id, account_id, $1::timestamptz, $1::timestamptz, 99, 'open' FROM source.accounts`, [iso(later(T, r)), n]),
  'invoices paid at or after T': (pool, T, r) => pool.query(`UPDATE source.invoices SET paid_at = greatest(issued_at, $2::timestamptz), status = 'paid', failed_attempts = 7 WHERE issued_at < $1 AND (paid_at IS NULL OR paid_at >= $1)`, [iso(T), iso(later(T, r))]),
  'failed payments at or after T': (pool, T, r, n) => pool.query(
    `INSERT INTO source.payment_attempts (attempt_id, invoice_id, account_id, attempted_at, succeeded) SELECT 'late_' || $2::int || '_' || invoice_id, invoice_id, account_id, $1::timestamptz, false FROM source.invoices`, [iso(later(T, r)), n]),
  'subscriptions ended, canceled and replaced at or after T': async (pool, T, r, n) => {
    const when = iso(later(T, r));
    await pool.query(`UPDATE source.subscriptions SET ended_at = greatest($2::timestamptz, started_at + interval '1 second'), canceled_at = $2, status = 'canceled' WHERE started_at < $1 AND (ended_at IS NULL OR ended_at >= $1)`, [iso(T), when]);
    await pool.query(`INSERT INTO source.subscriptions (subscription_id, account_id, plan, mrr, seats, billing_period, started_at, status, change_type)
      SELECT 'late_' || $2::int || '_' || account_id, account_id, 'enterprise', 9999, 99, 'annual', $1::timestamptz, 'active', 'upgrade' FROM source.accounts`, [when, n]);
  },
  'users created and deactivated at or after T': (pool, T, r, n) => Promise.all([
    pool.query(`UPDATE source.users SET deactivated_at = $2 WHERE created_at <= $2 AND (deactivated_at IS NULL OR deactivated_at >= $1)`, [iso(T), iso(later(T, r))]),
    pool.query(`INSERT INTO source.users (user_id, account_id, created_at) SELECT 'late_' || $2::int || '_' || account_id, account_id, $1::timestamptz FROM source.accounts`, [iso(later(T, r)), n]),
  ]),
  'accounts signed up at or after T': (pool, T, r, n) => pool.query(
    `INSERT INTO source.accounts (account_id, name, segment, plan, created_at) VALUES ('late_' || $2::int, 'late', 'smb', 'team', $1::timestamptz)`, [iso(later(T, r)), n]),
};

describe('point-in-time features do not leak the future', () => {
  let db: TestDatabase;
  const catalog = loadCatalog();
  const ds = randomDataset(77, 24, start, end);
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  const snapshot = async (T: Date, events: 'raw' | 'rollup' = 'raw') =>
    new Map((await selectFeatures(db.pool, catalog, [T], { events })).map((r) => [r.account_id, r.feature_values]));
  /** Every (account, feature) whose value differs, as readable lines. */
  const diff = (a: Map<string, (number | null)[]>, b: Map<string, (number | null)[]>) => {
    const out: string[] = [];
    for (const [account, values] of a) {
      const other = b.get(account);
      if (!other) out.push(`${account}: missing`);
      else values.forEach((v, i) => { if (!Object.is(v, other[i]) && v !== other[i]) out.push(`${account}.${catalog.names[i]}: ${v} -> ${other[i]}`); });
    }
    for (const account of b.keys()) if (!a.has(account)) out.push(`${account}: new row`);
    return out;
  };

  it('leaves every feature at T unchanged when facts at or after T are inserted or changed, for random T', async () => {
    const r = rng(4242);
    const names = Object.keys(MUTATIONS);
    for (let round = 0; round < 4; round++) {
      await clearSource(db.pool);
      await loadDataset(db.pool, ds);
      // a random T inside the data, at a random second of the day
      const T = new Date(start.getTime() + 30 * DAY + Math.floor(r() * 140 * DAY / 1000) * 1000);
      const before = await snapshot(T);
      expect(before.size).toBeGreaterThan(5);
      // a random subset of the mutation kinds (always at least three), in random order
      const chosen = names.filter(() => r() < 0.6);
      while (chosen.length < 3) chosen.push(names[Math.floor(r() * names.length)]);
      for (const [k, name] of chosen.entries()) await MUTATIONS[name](db.pool, T, r, round * 100 + k);
      const after = await snapshot(T);
      expect(diff(before, after), `at ${T.toISOString()} after ${chosen.join(', ')}`).toEqual([]);
    }
  });

  it('applies all mutation kinds together without changing anything at T', async () => {
    await clearSource(db.pool);
    await loadDataset(db.pool, ds);
    const T = new Date('2026-04-17T09:41:13Z');
    const before = await snapshot(T);
    const r = rng(7);
    let k = 0;
    for (const m of Object.values(MUTATIONS)) await m(db.pool, T, r, 5000 + k++);
    expect(diff(before, await snapshot(T))).toEqual([]);
  });

  it('does change features when the same kinds of facts fall just before T (the check can fail)', async () => {
    await clearSource(db.pool);
    await loadDataset(db.pool, ds);
    const T = new Date('2026-04-17T09:41:13Z');
    const justBefore = new Date(T.getTime() - 1000);
    for (const name of ['events at or after T', 'tickets opened at or after T', 'surveys at or after T', 'failed payments at or after T']) {
      const before = await snapshot(T);
      await MUTATIONS[name](db.pool, justBefore, () => 0, 9000 + name.length);
      const after = await snapshot(T);
      expect(diff(before, after).length, `${name} one second before T`).toBeGreaterThan(0);
    }
  });

  it('holds on the event rollup too (UTC midnights; its triggers see every mutation), and can fail there', async () => {
    const r = rng(99);
    for (let round = 0; round < 3; round++) {
      await clearSource(db.pool);
      await loadDataset(db.pool, ds);
      const T = new Date(start.getTime() + (30 + Math.floor(r() * 140)) * DAY);
      const before = await snapshot(T, 'rollup');
      expect(before.size).toBeGreaterThan(5);
      let k = 0;
      for (const m of Object.values(MUTATIONS)) await m(db.pool, T, r, 7000 + round * 100 + k++);
      expect(diff(before, await snapshot(T, 'rollup')), `at ${T.toISOString()}`).toEqual([]);
    }
    const T = new Date('2026-04-17T00:00:00Z');
    await clearSource(db.pool);
    await loadDataset(db.pool, ds);
    const before = await snapshot(T, 'rollup');
    await MUTATIONS['events at or after T'](db.pool, new Date(T.getTime() - 1000), () => 0, 9500);
    expect(diff(before, await snapshot(T, 'rollup')).length).toBeGreaterThan(0);
  });
});
