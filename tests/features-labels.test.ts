import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { buildLabels, labelStatuses, parseDuration, resolveDataEnd, summarizeLabels } from '../features/labels.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const day = 86_400_000;
const d = (s: string) => new Date(`${s}T00:00:00Z`);
const T = d('2026-03-01');
const plus = (t: Date, days: number) => new Date(t.getTime() + days * day);
const DATA_END = d('2026-12-31');

let db: TestDatabase;
let seq = 0;

async function account(id: string, createdAt: Date): Promise<void> {
  await query(db.pool, `INSERT INTO source.accounts (account_id, name, segment, plan, created_at) VALUES ($1, $1, 'smb', 'pro', $2)`, [id, createdAt]);
}

async function sub(accountId: string, startedAt: Date, endedAt: Date | null, o: { trial?: boolean; change?: string; mrr?: number; plan?: string } = {}): Promise<void> {
  seq += 1;
  await query(
    db.pool,
    `INSERT INTO source.subscriptions (subscription_id, account_id, plan, mrr, seats, billing_period, is_trial, change_type, started_at, ended_at, status)
     VALUES ($1, $2, $3, $4, 5, 'monthly', $5, $6, $7, $8, $9)`,
    [`sub_${seq}`, accountId, o.plan ?? 'pro', o.mrr ?? 100, o.trial ?? false, o.change ?? 'new', startedAt, endedAt, o.trial ? 'trialing' : endedAt ? 'ended' : 'active'],
  );
}

/** The status of one account at T (undefined: the account did not exist at T). */
async function statusOf(id: string, opts: { asOf?: Date; leadDays?: number; dataEnd?: Date } = {}) {
  const rows = await labelStatuses(db.pool, { asOfs: [opts.asOf ?? T], leadDays: opts.leadDays ?? 0, dataEnd: opts.dataEnd ?? DATA_END, accountIds: [id] });
  return rows[0];
}

async function labelOf(id: string, opts: { asOf?: Date; leadDays?: number; dataEnd?: Date } = {}) {
  const rows = await buildLabels(db.pool, { asOfs: [opts.asOf ?? T], leadDays: opts.leadDays ?? 0, dataEnd: opts.dataEnd ?? DATA_END, accountIds: [id] });
  return rows[0];
}

describe('churn labels', () => {
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('labels a plain cancellation inside the horizon as churn at the end of the subscription', async () => {
    await account('a_cancel_in', d('2025-06-01'));
    await sub('a_cancel_in', d('2025-06-01'), d('2026-03-20'));
    const l = await labelOf('a_cancel_in');
    expect(l.churned).toBe(true);
    expect(l.churned_at?.toISOString()).toBe(d('2026-03-20').toISOString());
  });

  it('labels a cancellation after the horizon as retained', async () => {
    await account('a_cancel_late', d('2025-06-01'));
    await sub('a_cancel_late', d('2025-06-01'), d('2026-04-15'));
    const l = await labelOf('a_cancel_late');
    expect(l.churned).toBe(false);
    expect(l.churned_at).toBeNull();
  });

  it('counts coverage that ends at the instant the horizon closes as churn (closed window), and a second later as retained', async () => {
    // paid through the day before T + 30 days (a date-only export's end): gone by then and paying at no
    // later observation time, so an open window lost the churn altogether
    await account('a_edge', d('2025-06-01'));
    await sub('a_edge', d('2025-06-01'), plus(T, 30));
    expect(await labelOf('a_edge')).toMatchObject({ churned: true, churned_at: plus(T, 30) });
    await account('a_edge_out', d('2025-06-01'));
    await sub('a_edge_out', d('2025-06-01'), new Date(plus(T, 30).getTime() + 1000));
    expect((await labelOf('a_edge_out')).churned).toBe(false);
    await account('a_edge_in', d('2025-06-01'));
    await sub('a_edge_in', d('2025-06-01'), new Date(plus(T, 30).getTime() - 1000));
    expect((await labelOf('a_edge_in')).churned).toBe(true);
  });

  it('does not count a renewal row that follows the ended period as churn', async () => {
    await account('a_renew', d('2025-06-01'));
    await sub('a_renew', d('2025-06-01'), d('2026-03-15'));
    await sub('a_renew', d('2026-03-15'), d('2027-03-15'), { change: 'renewal' });
    expect(await labelOf('a_renew')).toMatchObject({ churned: false, churned_at: null });
  });

  it('does not count a downgrade to a cheaper plan as churn', async () => {
    await account('a_down', d('2025-06-01'));
    await sub('a_down', d('2025-06-01'), d('2026-03-10'), { plan: 'business', mrr: 500 });
    await sub('a_down', d('2026-03-10'), null, { change: 'downgrade', plan: 'starter', mrr: 50 });
    expect(await labelOf('a_down')).toMatchObject({ churned: false, churned_at: null });
  });

  it('does not count a re-signup inside the grace gap as churn', async () => {
    await account('a_resign_in', d('2025-06-01'));
    await sub('a_resign_in', d('2025-06-01'), d('2026-03-10'));
    await sub('a_resign_in', d('2026-03-20'), null, { change: 'reactivation' });
    expect((await labelOf('a_resign_in')).churned).toBe(false);
  });

  it('does not count a re-signup exactly at the end of the grace gap as churn (the gap is closed)', async () => {
    await account('a_resign_edge', d('2025-06-01'));
    await sub('a_resign_edge', d('2025-06-01'), d('2026-03-10'));
    await sub('a_resign_edge', plus(d('2026-03-10'), 14), null, { change: 'reactivation' });
    expect((await labelOf('a_resign_edge')).churned).toBe(false);
  });

  it('counts a re-signup after the grace gap as churn at the first end', async () => {
    await account('a_resign_out', d('2025-06-01'));
    await sub('a_resign_out', d('2025-06-01'), d('2026-03-10'));
    await sub('a_resign_out', d('2026-04-01'), null, { change: 'reactivation' });
    const l = await labelOf('a_resign_out');
    expect(l.churned).toBe(true);
    expect(l.churned_at?.toISOString()).toBe(d('2026-03-10').toISOString());
  });

  it('excludes an account whose only coverage at T is a trial, also when the trial lapses', async () => {
    await account('a_trial_only', d('2026-01-01'));
    await sub('a_trial_only', d('2026-02-20'), d('2026-03-06'), { trial: true });
    expect(await labelOf('a_trial_only')).toBeUndefined();
    expect((await statusOf('a_trial_only')).status).toBe('not_paying');
  });

  it('observes a trial that converted once the paid period covers T, not during the trial', async () => {
    await account('a_trial_conv', d('2025-12-01'));
    await sub('a_trial_conv', d('2025-12-01'), d('2025-12-15'), { trial: true });
    await sub('a_trial_conv', d('2025-12-15'), null);
    expect(await labelOf('a_trial_conv')).toMatchObject({ churned: false });
    expect((await statusOf('a_trial_conv', { asOf: d('2025-12-10') })).status).toBe('not_paying');
  });

  it('excludes accounts younger than the minimum tenure at T', async () => {
    await account('a_young', d('2026-02-20'));
    await sub('a_young', d('2026-02-20'), d('2026-03-10'));
    expect(await labelOf('a_young')).toBeUndefined();
    expect((await statusOf('a_young')).status).toBe('too_young');
    // the same account is observed once old enough
    expect((await statusOf('a_young', { asOf: d('2026-03-07') })).status).toBe('churned');
  });

  it('excludes observations whose window runs past the end of the data instead of calling them retained', async () => {
    await account('a_end', d('2025-06-01'));
    await sub('a_end', d('2025-06-01'), null);
    // T + 30d horizon + 14d grace = 2026-04-14 > data end
    expect(await labelOf('a_end', { dataEnd: d('2026-04-10') })).toBeUndefined();
    expect((await statusOf('a_end', { dataEnd: d('2026-04-10') })).status).toBe('unknown');
    expect(await labelOf('a_end', { dataEnd: d('2026-04-14') })).toMatchObject({ churned: false });
  });

  it('shifts the prediction window by the lead time', async () => {
    await account('a_lead', d('2025-06-01'));
    await sub('a_lead', d('2025-06-01'), d('2026-04-15'));
    expect((await labelOf('a_lead', { leadDays: 0 })).churned).toBe(false);
    expect((await labelOf('a_lead', { leadDays: 30 })).churned).toBe(true);
    await account('a_lead_early', d('2025-06-01'));
    await sub('a_lead_early', d('2025-06-01'), d('2026-03-10'));
    expect(await labelOf('a_lead_early', { leadDays: 30 })).toBeUndefined();
    expect((await statusOf('a_lead_early', { leadDays: 30 })).status).toBe('churned_in_lead');
  });

  it('does not observe an account whose subscriptions all ended before T', async () => {
    await account('a_gone', d('2025-06-01'));
    await sub('a_gone', d('2025-06-01'), d('2026-02-15'));
    expect(await labelOf('a_gone')).toBeUndefined();
    expect((await statusOf('a_gone')).status).toBe('not_paying');
  });

  it('leaves out accounts created after T entirely', async () => {
    await account('a_future', d('2026-05-01'));
    await sub('a_future', d('2026-05-01'), null);
    expect(await statusOf('a_future')).toBeUndefined();
  });

  it('takes the end of the data from the latest event, else the latest start or cancellation, never from a period end', async () => {
    // no events yet: the latest subscription start (a_future's); the renewal row's end, 2027-03-15, is a scheduled end, no evidence
    expect((await resolveDataEnd(db.pool))?.toISOString()).toBe(d('2026-05-01').toISOString());
    await query(db.pool, `INSERT INTO source.events (event_id, account_id, event_type, occurred_at) VALUES (1, 'a_renew', 'login', $1)`, [d('2026-06-10')]);
    expect((await resolveDataEnd(db.pool))?.toISOString()).toBe(d('2026-06-10').toISOString());
    // the data cannot know anything after it was loaded
    await query(db.pool, `INSERT INTO churn.ingestion_runs (table_name, file_name, file_sha256, rows_in_file, rows_inserted, rows_updated, created_at) VALUES ('events', 'e.csv', 'x', 1, 1, 0, $1)`, [d('2026-06-01')]);
    expect((await resolveDataEnd(db.pool))?.toISOString()).toBe(d('2026-06-01').toISOString());
    // without an explicit end, labels use it: T + 44d is inside
    const rows = await buildLabels(db.pool, { asOfs: [T], accountIds: ['a_cancel_in'] });
    expect(rows[0]?.churned).toBe(true);
    await query(db.pool, 'DELETE FROM churn.ingestion_runs');
  });

  it('summarises statuses across every account and date', async () => {
    const s = await summarizeLabels(db.pool, { asOfs: [T, d('2026-01-01')], dataEnd: DATA_END });
    const all = await labelStatuses(db.pool, { asOfs: [T, d('2026-01-01')], dataEnd: DATA_END });
    expect(Object.values(s).reduce((a, b) => a + b, 0)).toBe(all.length);
    expect(s.churned).toBe(all.filter((r) => r.status === 'churned').length);
    expect(s.churned).toBeGreaterThan(0);
    expect(s.not_paying).toBeGreaterThan(0);
  });

  it('parses durations in days and weeks and rejects anything else with a validation error', () => {
    expect(parseDuration('30d')).toBe(30);
    expect(parseDuration('4w')).toBe(28);
    expect(parseDuration('0d')).toBe(0);
    expect(parseDuration('14')).toBe(14);
    for (const bad of ['30x', '-3d', '1.5d', '', 'd']) {
      expect(() => parseDuration(bad, '--horizon')).toThrow(expect.objectContaining({ code: 'CHURN_ERR_VALIDATION' }));
    }
  });

  it('rejects label options that make no sense and queries nothing', async () => {
    await expect(buildLabels(db.pool, { asOfs: [] })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(buildLabels(db.pool, { asOfs: [T], horizonDays: 0 })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(buildLabels(db.pool, { asOfs: [new Date('nope')] })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
  });
});
