/**
 * Labels at the end of the data with running monthly periods, as a customer's billing export has them:
 * every month is a row, the current one `active` with its scheduled end in the future.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { buildLabels, labelStatuses, resolveDataEnd } from '../features/labels.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const d = (s: string) => new Date(`${s}T00:00:00Z`);
const monthAfter = (t: Date) => new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate()));
const LAST_EVENT = d('2026-05-20');

let db: TestDatabase;
let seq = 0;

/** Monthly rows from `start` while they start before `until`; the last one ends `lastEnd` (default: a month after its start) with `lastStatus`. */
async function monthly(id: string, start: Date, until: Date, last: { status: 'active' | 'ended' | 'canceled'; end?: Date | null }): Promise<void> {
  await query(db.pool, `INSERT INTO source.accounts (account_id, name, segment, plan, created_at) VALUES ($1, $1, 'smb', 'pro', $2)`, [id, start]);
  const starts: Date[] = [];
  for (let t = start; t < until; t = monthAfter(t)) starts.push(t);
  for (const [k, t] of starts.entries()) {
    const isLast = k === starts.length - 1;
    const end = isLast && last.end !== undefined ? last.end : monthAfter(t);
    await query(db.pool, `INSERT INTO source.subscriptions (subscription_id, account_id, plan, mrr, seats, billing_period, change_type, started_at, ended_at, status)
      VALUES ($1, $2, 'pro', 10, 1, 'monthly', $3, $4, $5, $6)`, [`m_${++seq}`, id, k ? 'renewal' : 'new', t, end, isLast ? last.status : 'ended']);
  }
  await query(db.pool, `INSERT INTO source.events (event_id, account_id, event_type, occurred_at) VALUES ($1, $2, 'login', $3)`, [++seq, id, starts[starts.length - 1]]);
}

describe('labels at the end of the data, with running monthly periods', () => {
  beforeAll(async () => {
    db = await createTestDatabase();
    // running customers: the current month's row is active and ends after the last event
    for (let i = 0; i < 5; i++) await monthly(`run_${i}`, d(`2025-10-${String(8 + i).padStart(2, '0')}`), LAST_EVENT, { status: 'active' });
    // a churner: the last month ended on 2026-04-08 and nothing followed
    await monthly('gone', d('2025-10-08'), d('2026-03-20'), { status: 'ended' });
    // the source still calls the last month active although its end has passed: not a churner
    await monthly('stale', d('2025-10-08'), d('2026-03-20'), { status: 'active' });
    // a cancellation requested, running until its period end after the data end
    await monthly('leaving', d('2025-10-08'), LAST_EVENT, { status: 'canceled' });
    await query(db.pool, `UPDATE source.subscriptions SET canceled_at = $1 WHERE account_id = 'leaving' AND status = 'canceled'`, [d('2026-05-10')]);
    await query(db.pool, `INSERT INTO source.events (event_id, account_id, event_type, occurred_at) VALUES (9999, 'run_0', 'login', $1)`, [LAST_EVENT]);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('ends the data at the last event, not at the scheduled end of a running period', async () => {
    const [{ latest }] = await query<{ latest: Date }>(db.pool, 'SELECT max(ended_at) AS latest FROM source.subscriptions');
    expect(latest.getTime()).toBeGreaterThan(LAST_EVENT.getTime());
    expect((await resolveDataEnd(db.pool))?.toISOString()).toBe(LAST_EVENT.toISOString());
  });

  it('labels running accounts retained and the one that left churned, where the outcome is known', async () => {
    const rows = await buildLabels(db.pool, { asOfs: [d('2026-04-01')] });
    const by = new Map(rows.map((r) => [r.account_id, r.churned]));
    for (let i = 0; i < 5; i++) expect(by.get(`run_${i}`)).toBe(false);
    expect(by.get('gone')).toBe(true);
    expect(by.get('stale')).toBe(false);
    expect(by.get('leaving')).toBe(false);
  });

  it('labels nothing at a date whose horizon and grace pass the end of the data', async () => {
    // 2026-04-10 + 30d + 14d = 2026-05-24 > 2026-05-20: nobody's outcome is known, even though every row has an end
    expect(await buildLabels(db.pool, { asOfs: [d('2026-04-10')] })).toEqual([]);
    const statuses = await labelStatuses(db.pool, { asOfs: [d('2026-04-10')] });
    expect(new Set(statuses.filter((s) => s.account_id.startsWith('run_')).map((s) => s.status))).toEqual(new Set(['unknown']));
  });

  it('never calls a running period churn, even with a data end given past its scheduled end', async () => {
    // a data end a month too late: the running periods' scheduled ends (June) fall inside the horizon
    const rows = await buildLabels(db.pool, { asOfs: [d('2026-05-15')], dataEnd: d('2026-07-15') });
    const by = new Map(rows.map((r) => [r.account_id, r.churned]));
    for (let i = 0; i < 5; i++) expect(by.get(`run_${i}`)).toBe(false);
    // the canceled period's end is a real end once the data reaches past it
    expect(by.get('leaving')).toBe(true);
    // without the status rule, 'active' periods ending before the data end would read as churn: prove the rule is what saves them
    await query(db.pool, `UPDATE source.subscriptions SET status = 'ended' WHERE account_id LIKE 'run_%' AND status = 'active'`);
    try {
      const blind = await buildLabels(db.pool, { asOfs: [d('2026-05-15')], dataEnd: d('2026-07-15') });
      expect(blind.filter((r) => r.account_id.startsWith('run_') && r.churned).length).toBe(5);
    } finally {
      await query(db.pool, `UPDATE source.subscriptions s SET status = 'active' WHERE account_id LIKE 'run_%' AND started_at = (SELECT max(started_at) FROM source.subscriptions x WHERE x.account_id = s.account_id)`);
    }
  });

  it('caps the end of the data at the time it was loaded', async () => {
    await query(db.pool, `INSERT INTO churn.ingestion_runs (table_name, file_name, file_sha256, rows_in_file, rows_inserted, rows_updated, created_at) VALUES ('events', 'e.csv', 'x', 1, 1, 0, $1)`, [d('2026-05-01')]);
    try {
      expect((await resolveDataEnd(db.pool))?.toISOString()).toBe(d('2026-05-01').toISOString());
    } finally {
      await query(db.pool, 'DELETE FROM churn.ingestion_runs');
    }
  });
});
