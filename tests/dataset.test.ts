import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { buildLabels } from '../features/labels.ts';
import { buildTrainingSet, buildTrainingTable, trainingFingerprint } from '../training/dataset.ts';
import { exportTrainingSet, writePreparedCsv } from '../training/export.ts';
import type { PreparedTable } from '../training/table.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const DAY = 86_400_000;
const d = (s: string) => new Date(`${s}T00:00:00Z`);
const AS_OFS = ['2026-01-01', '2026-02-01', '2026-03-01', '2026-04-01', '2026-05-01'].map(d);
const DATA_END = d('2026-05-20'); // 2026-05-01 + 30d + 14d is past it: that date's outcome is unknown
const NAMES = ['tenure_days', 'seats_count', 'nps_last'];
const N = 30;

let db: TestDatabase;
let dir: string;
const accountIds: string[] = [];
const base = { featureSetVersion: 'ds_v1', horizonDays: 30, dataEnd: DATA_END, seed: 7, asOfs: 'stored' } as const;
/** the split this file was written for: accounts partitioned, the two latest labelled dates validation */
const byAccount = { ...base, groupByAccount: true, validDates: 2, testDates: 0 } as const;

async function snapshot(version: string, asOf: Date, accountId: string, values: (number | null)[]): Promise<void> {
  await query(db.pool, 'INSERT INTO churn.feature_snapshots (feature_set_version, as_of, account_id, feature_values) VALUES ($1, $2, $3, $4)', [version, asOf, accountId, values]);
}

describe('database training set and export', () => {
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-dataset-'));
    await query(db.pool, `INSERT INTO churn.feature_sets (feature_set_version, feature_names, definitions) VALUES ('ds_v1', $1, $2)`, [
      NAMES,
      JSON.stringify(NAMES.map((name, i) => ({ name, family: ['commercial', 'adoption', 'sentiment'][i], ...(i === 2 ? { risk: 'decreasing', missing: 'lowest' } : {}) }))),
    ]);
    for (let i = 0; i < N; i++) {
      // one id needs CSV quoting
      const id = i === 4 ? 'acc,"04"' : `acc_${String(i).padStart(2, '0')}`;
      accountIds.push(id);
      const created = d('2025-06-01');
      // every third account cancels at some point between January and June; the others stay
      const end = i % 3 === 0 ? new Date(d('2026-01-10').getTime() + i * 5 * DAY) : null;
      await query(db.pool, `INSERT INTO source.accounts (account_id, name, segment, plan, created_at) VALUES ($1, $1, $2, 'pro', $3)`, [id, i % 2 ? 'smb' : 'enterprise', created]);
      await query(db.pool, `INSERT INTO source.subscriptions (subscription_id, account_id, plan, mrr, seats, billing_period, started_at, ended_at, status)
        VALUES ($1, $1, 'pro', 100, 3, 'monthly', $2, $3, $4)`, [id, created, end, end ? 'ended' : 'active']);
      for (const t of AS_OFS) {
        if (end && end <= t) continue; // no snapshot for accounts that are gone
        await snapshot('ds_v1', t, id, [Math.round((t.getTime() - created.getTime()) / DAY), (i % 5) + 0.25, i % 4 === 1 ? null : i % 11]);
      }
    }
  });
  afterAll(async () => {
    await db?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('splits by time by default: trains on the earlier dates, validates on the next, tests on the last, every account on every side', async () => {
    // 28-day horizon: no churn window runs into the next side's date
    const { table, stats } = await buildTrainingSet(db.pool, { ...base, horizonDays: 28 });
    expect(stats.split).toBe('time');
    expect(stats.trainAsOfs).toEqual([AS_OFS[0], AS_OFS[1]].map((t) => t.toISOString()));
    expect(stats.validAsOfs).toEqual([AS_OFS[2].toISOString()]);
    expect(stats.testAsOfs).toEqual([AS_OFS[3].toISOString()]);
    // nothing labelled is dropped: every labelled row of the four known dates is in the table
    const labels = await buildLabels(db.pool, { asOfs: AS_OFS.slice(0, 4), horizonDays: 28, dataEnd: DATA_END });
    expect(stats.droppedCrossing).toBe(0);
    expect(stats.purgedAsOfs).toEqual([]);
    expect(table.ids.length).toBe(labels.length);
    expect(stats.labelledRows).toBe(labels.length);
    table.split.forEach((s, i) => {
      const t = Date.parse(table.context!.asOf![i]);
      expect(t).toBe(AS_OFS[s === 'train' ? (t === AS_OFS[0].getTime() ? 0 : 1) : s === 'valid' ? 2 : 3].getTime());
    });
    const accountsOf = (s: string) => new Set(table.context!.accountId!.filter((_, i) => table.split[i] === s));
    const [train, test] = ['train', 'test'].map(accountsOf);
    expect([...test].filter((a) => train.has(a)).length).toBe(test.size);
  });

  it("leaves out a date whose churn window runs into the next side's first date, and says so", async () => {
    // 2026-02-01 + 30 days = 2026-03-03, after the validation date 2026-03-01: a February churn label would see March
    const { table, stats } = await buildTrainingSet(db.pool, base);
    expect(stats.purgedAsOfs).toEqual([AS_OFS[1].toISOString()]);
    expect(stats.purgedRows).toBeGreaterThan(0);
    expect(stats.trainAsOfs).toEqual([AS_OFS[0].toISOString()]);
    expect(table.context!.asOf!.includes(AS_OFS[1].toISOString())).toBe(false);
    expect(stats.labelledRows).toBe(table.ids.length + stats.purgedRows);
    // accounts grouped on one side need no such gap
    const grouped = await buildTrainingSet(db.pool, { ...base, groupByAccount: true });
    expect(grouped.stats.purgedAsOfs).toEqual([]);
  });

  it('counts the observation dates whose horizon and grace pass the data end, and refuses when no date is left', async () => {
    const { stats } = await buildTrainingSet(db.pool, { ...base, horizonDays: 28 });
    expect(stats.skippedAsOfs).toEqual([AS_OFS[4].toISOString()]);
    expect(stats.dataEndFrom).toBe('option');
    const late = buildTrainingSet(db.pool, { ...base, asOfs: [AS_OFS[4]], buildSnapshots: async () => undefined });
    await expect(late).rejects.toMatchObject({ code: 'CHURN_ERR_NOT_ENOUGH_DATA', message: expect.stringMatching(/all 1 observation dates \(2026-05-01\) are too late: the data ends 2026-05-20T00:00:00.000Z and a label needs lead \+ horizon \+ grace = 44 days after its date; the latest observation date with a known outcome is 2026-04-06/) });
  });

  it('never puts one account on both sides of the split when grouped by account', async () => {
    const first = await buildTrainingSet(db.pool, byAccount);
    expect(first.stats.validAsOfs).toEqual([AS_OFS[2], AS_OFS[3]].map((t) => t.toISOString()));
    for (const seed of [1, 2, 3]) {
      const { table, stats } = await buildTrainingSet(db.pool, { ...byAccount, seed });
      const train = new Set(table.context!.accountId!.filter((_, i) => table.split[i] === 'train'));
      const valid = new Set(table.context!.accountId!.filter((_, i) => table.split[i] === 'valid'));
      expect([...train].filter((a) => valid.has(a))).toEqual([]);
      expect(stats.droppedCrossing).toBeGreaterThan(0);
    }
  });

  it('holds out the very latest dates as a test side with its own accounts when grouped by account', async () => {
    const { table, stats } = await buildTrainingSet(db.pool, { ...base, groupByAccount: true, validDates: 1, testDates: 1, validShare: 0.3, testShare: 0.3 });
    expect(stats.validAsOfs).toEqual([AS_OFS[2].toISOString()]);
    expect(stats.testAsOfs).toEqual([AS_OFS[3].toISOString()]);
    const accountsOf = (s: string) => new Set(table.context!.accountId!.filter((_, i) => table.split[i] === s));
    const [train, valid, test] = ['train', 'valid', 'test'].map(accountsOf);
    expect(train.size * valid.size * test.size).toBeGreaterThan(0);
    for (const [a, b] of [[train, valid], [train, test], [valid, test]]) expect([...a].filter((x) => b.has(x))).toEqual([]);
    table.split.forEach((s, i) => {
      const t = Date.parse(table.context!.asOf![i]);
      if (s === 'train') expect(t).toBeLessThan(AS_OFS[2].getTime());
      else expect(t).toBe(AS_OFS[s === 'valid' ? 2 : 3].getTime());
    });
    await expect(buildTrainingSet(db.pool, { ...base, groupByAccount: true, validDates: 1, testDates: 1, validShare: 0.6, testShare: 0.5 })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
  });

  it('keeps exactly the labelled snapshot rows, with the labels the label query gives', async () => {
    const { table, stats } = await buildTrainingSet(db.pool, { ...base, validDates: 0, testDates: 0 });
    const labels = await buildLabels(db.pool, { asOfs: AS_OFS, dataEnd: DATA_END });
    const expected = new Map(labels.map((l) => [`${l.account_id}@${l.as_of.toISOString().slice(0, 10)}`, l.churned ? 1 : 0]));
    expect(stats.droppedCrossing).toBe(0);
    expect(new Set(table.split)).toEqual(new Set(['train']));
    expect(table.ids.length).toBe(expected.size);
    table.ids.forEach((id, i) => expect(table.label[i]).toBe(expected.get(id)));
    expect(table.label.some((l) => l === 1)).toBe(true);
  });

  it('leaves out rows whose outcome is unknown at the end of the data', async () => {
    const table = await buildTrainingTable(db.pool, { ...base, validDates: 0, testDates: 0 });
    expect(table.context!.asOf!.some((s) => s === AS_OFS[4].toISOString())).toBe(false);
    expect(table.source).toMatchObject({ kind: 'database', featureSetVersion: 'ds_v1', horizonDays: 30, asOfs: AS_OFS.slice(0, 4).map((t) => t.toISOString()) });
    // with a later end of data the same date is labelled
    const later = await buildTrainingTable(db.pool, { ...base, validDates: 0, testDates: 0, dataEnd: d('2026-07-01') });
    expect(later.context!.asOf!.some((s) => s === AS_OFS[4].toISOString())).toBe(true);
  });

  it('builds numeric columns in feature-set order with families, declared risks and missing meanings, segments and readable ids', async () => {
    const table = await buildTrainingTable(db.pool, base);
    expect(table.columns.map((c) => [c.name, c.kind, c.family])).toEqual([['tenure_days', 'numeric', 'commercial'], ['seats_count', 'numeric', 'adoption'], ['nps_last', 'numeric', 'sentiment']]);
    expect(table.columns.map((c) => (c.kind === 'numeric' ? [c.risk, c.missing] : null))).toEqual([[undefined, undefined], [undefined, undefined], ['decreasing', 'lowest']]);
    expect(table.ids[0]).toMatch(/^.+@2026-01-01$/);
    expect(table.columns[2].values.some((v) => v === null)).toBe(true);
    expect(new Set(table.context!.segment)).toEqual(new Set(['smb', 'enterprise']));
  });

  it('writes a CSV that parses back to the same rows', async () => {
    const table = await buildTrainingTable(db.pool, base);
    const file = path.join(dir, 'train.csv');
    expect(await writePreparedCsv(table, file, { chunkRows: 7 })).toBe(table.ids.length);
    const records = parse(await fs.readFile(file, 'utf8'), { columns: false, skip_empty_lines: true }) as string[][];
    expect(records[0]).toEqual(['id', 'churned', ...NAMES, 'split']);
    expect(records.length - 1).toBe(table.ids.length);
    expect(records.some((r) => r[0].startsWith('acc,"04"@'))).toBe(true);
    records.slice(1).forEach((r, i) => {
      expect(r[0]).toBe(table.ids[i]);
      expect(Number(r[1])).toBe(table.label[i]);
      table.columns.forEach((c, k) => expect(r[2 + k] === '' ? null : Number(r[2 + k])).toBe(c.values[i]));
      expect(r[r.length - 1]).toBe(table.split[i]);
    });
  });

  it('streams the export from a cursor: the same file, fingerprint and counts as the table built in memory', async () => {
    for (const options of [base, byAccount]) {
      const { table, stats } = await buildTrainingSet(db.pool, options);
      const inMemory = path.join(dir, 'memory.csv');
      const streamed = path.join(dir, 'streamed.csv');
      await writePreparedCsv(table, inMemory);
      const r = await exportTrainingSet(db.pool, options, streamed);
      expect(await fs.readFile(streamed, 'utf8')).toBe(await fs.readFile(inMemory, 'utf8'));
      expect(r.fingerprint).toBe(trainingFingerprint(table));
      expect(r.rows).toBe(table.ids.length);
      expect(r.stats).toEqual(stats);
      expect(r.splits.train!.rows + (r.splits.valid?.rows ?? 0) + (r.splits.test?.rows ?? 0)).toBe(table.ids.length);
    }
    // a split that leaves a side empty writes nothing
    const empty = path.join(dir, 'empty-side.csv');
    await expect(exportTrainingSet(db.pool, { ...base, groupByAccount: true, validShare: 0.01, testShare: 0.01 }, empty)).rejects.toMatchObject({ code: 'CHURN_ERR_NOT_ENOUGH_DATA' });
    expect((await fs.readdir(dir)).filter((f) => f.startsWith('empty-side'))).toEqual([]);
  });

  it('fails cleanly when the CSV cannot be written and leaves no partial file', async () => {
    const table = await buildTrainingTable(db.pool, base);
    const file = path.join(dir, 'missing-dir', 'set.csv');
    await expect(writePreparedCsv(table, file)).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    expect(await fs.readdir(dir)).not.toContain('missing-dir');
    const reserved: PreparedTable = { ...table, columns: [{ name: 'split', kind: 'numeric', values: table.ids.map(() => 1) }] };
    await expect(writePreparedCsv(reserved, path.join(dir, 'r.csv'))).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    expect((await fs.readdir(dir)).filter((f) => f.startsWith('r.csv'))).toEqual([]);
    await expect(exportTrainingSet(db.pool, base, file)).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION', message: expect.stringContaining('cannot write') });
    expect(await fs.readdir(dir)).not.toContain('missing-dir');
  });

  it('changes the fingerprint when one value changes and keeps it for an identical rebuild', async () => {
    const a = await buildTrainingTable(db.pool, base);
    const b = await buildTrainingTable(db.pool, base);
    expect(trainingFingerprint(b)).toBe(trainingFingerprint(a));
    const changed: PreparedTable = { ...b, columns: b.columns.map((c, k) => (k === 1 && c.kind === 'numeric' ? { ...c, values: c.values.map((v, i) => (i === 5 ? (v ?? 0) + 1 : v)) } : c)) };
    expect(trainingFingerprint(changed)).not.toBe(trainingFingerprint(a));
    const relabelled: PreparedTable = { ...b, label: b.label.map((l, i) => (i === 0 ? 1 - l : l)) };
    expect(trainingFingerprint(relabelled)).not.toBe(trainingFingerprint(a));
    const other = await buildTrainingTable(db.pool, { ...byAccount, seed: 8 });
    expect(trainingFingerprint(other)).not.toBe(trainingFingerprint(a));
  });

  it('refuses dates without snapshots unless a builder is given, and builds only the missing ones', async () => {
    const extra = d('2026-03-15');
    await expect(buildTrainingSet(db.pool, { ...base, asOfs: [...AS_OFS.slice(0, 4), extra] })).rejects.toMatchObject({ code: 'CHURN_ERR_NOT_ENOUGH_DATA' });
    const asked: Date[][] = [];
    const { stats, table } = await buildTrainingSet(db.pool, {
      ...base,
      validDates: 0,
      testDates: 0,
      asOfs: [...AS_OFS.slice(0, 4), extra],
      buildSnapshots: async (dates) => {
        asked.push(dates);
        for (const t of dates) for (const id of accountIds.slice(0, 12)) await snapshot('ds_v1', t, id, [1, 2, 3]);
      },
    });
    expect(asked).toEqual([[extra]]);
    expect(stats.built).toEqual([extra.toISOString()]);
    expect(table.context!.asOf!.some((s) => s === extra.toISOString())).toBe(true);
  });

  it('rejects bad options with a validation error', async () => {
    await expect(buildTrainingSet(db.pool, { ...base, validShare: 1.5 })).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(buildTrainingSet(db.pool, { ...base, featureSetVersion: 'missing' })).rejects.toMatchObject({ code: 'CHURN_ERR_NOT_ENOUGH_DATA' });
    await expect(buildTrainingSet(db.pool, { ...base, validDates: 4 })).rejects.toMatchObject({ code: 'CHURN_ERR_NOT_ENOUGH_DATA', message: expect.stringContaining('needs more than 5 observation dates') });
  });

  it('refuses snapshots whose arity differs from their feature set', async () => {
    await query(db.pool, `INSERT INTO churn.feature_sets (feature_set_version, feature_names, definitions) VALUES ('ds_bad', $1, '[]')`, [NAMES]);
    for (const t of AS_OFS.slice(0, 3)) await snapshot('ds_bad', t, accountIds[1], [1, 2]);
    await expect(buildTrainingSet(db.pool, { ...base, featureSetVersion: 'ds_bad', validDates: 0, testDates: 0 })).rejects.toMatchObject({ code: 'CHURN_ERR_FEATURE_MISMATCH' });
  });
});
