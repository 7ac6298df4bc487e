import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogFromConfig, loadCatalog } from '../features/catalog.ts';
import { configuredDefinitions, discoverFeaturesConfig, parseFeaturesConfig, productDefinitions } from '../features/config.ts';
import { ALL_DEFINITIONS } from '../features/definitions/index.ts';
import { describeFeature } from '../features/describe-value.ts';
import { selectFeatures } from '../features/materialize.ts';
import { screenColumns } from '../training/train.ts';
import type { PreparedTable } from '../training/table.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { runChurn } from './helpers/cli.ts';
import { DAY, loadDataset, randomDataset } from './features-seed.ts';

/*
 * The customer's own features (CHURN_FEATURES_CONFIG): per event type counts, days, rates and
 * changes, ratios between event types, and account attributes, checked against an independent
 * oracle computed in JavaScript from the rows loaded; plus discovery, the CLI, and the training
 * step that leaves out features that carry nothing.
 */
const start = new Date('2026-01-01T00:00:00Z');
const end = new Date('2026-07-01T00:00:00Z');
const TYPES = ['login', 'record_create', 'report_create'];

const config = parseFeaturesConfig({
  eventTypes: ['login', { name: 'record_create', risk: 'decreasing', label: 'Records created' }, 'report_create'],
  ratios: [{ name: 'reports_per_record', numerator: 'report_create', denominator: ['record_create', 'login'] }],
  attributes: [{ name: 'seats_bought', type: 'numeric' }, { name: 'channel', type: 'category', values: ['ads', 'referral'] }, { name: 'industry', type: 'category', values: ['retail'] }],
});

describe('features configuration: declarations', () => {
  it('expands each event type, ratio and attribute into named catalogue features', () => {
    const names = configuredDefinitions(config).map((d) => d.name);
    for (const t of TYPES) {
      for (const n of [`ev_${t}_28d`, `ev_${t}_prev_28d`, `ev_${t}_trend_28d`, `ev_${t}_days_28d`, `ev_${t}_per_day_28d`, `ev_${t}_per_user_28d`]) expect(names).toContain(n);
    }
    expect(names).toContain('reports_per_record');
    expect(names).toContain('reports_per_record_denominator'); // two types: a count of its own
    expect(names).not.toContain('reports_per_record_numerator'); // one configured type: its count is reused
    expect(names).toEqual(expect.arrayContaining(['attr_seats_bought', 'attr_channel_ads', 'attr_channel_referral', 'attr_industry_retail']));
    // the built-in active days and active users over 28 days are reused as denominators
    expect(names).not.toContain('ev_active_days_28d');
    const catalog = catalogFromConfig(config);
    expect(catalog.names.length).toBe(ALL_DEFINITIONS.length + names.length);
    expect(catalog.version).not.toBe(loadCatalog(ALL_DEFINITIONS).version);
    const perDay = catalog.byName.get('ev_record_create_per_day_28d')!;
    expect(perDay).toMatchObject({ kind: 'ratio', dependsOn: ['ev_record_create_28d', 'active_days_28d'], risk: 'decreasing' });
    // counts read in the singular for one event
    const count = catalog.byName.get('ev_record_create_28d')!;
    expect(describeFeature(count, 1)).toBe('1 "record_create" event in the last 28 days');
    expect(describeFeature(count, 3)).toBe('3 "record_create" events in the last 28 days');
    // a category of an attribute reads as yes or no
    const ads = catalog.byName.get('attr_channel_ads')!;
    expect(describeFeature(ads, 1, 0)).toBe('Channel is "ads"; typical retained account: channel is not "ads"');
  });

  it('without the built-in catalogue, declares its own denominators', () => {
    const own = catalogFromConfig(parseFeaturesConfig({ builtIn: false, eventTypes: ['login'], perType: ['count', 'per_active_day', 'per_user'], windowDays: 14 }));
    expect(own.names).toEqual(['ev_login_14d', 'ev_active_days_14d', 'ev_login_per_day_14d', 'ev_active_users_14d', 'ev_login_per_user_14d']);
  });

  it('rejects a bad configuration with a message that names the problem', () => {
    expect(() => parseFeaturesConfig({ attributes: [{ name: 'channel', type: 'category' }] }, 'f.json')).toThrow(/f\.json.*attributes\.0\.values.*lists its values/);
    expect(() => parseFeaturesConfig({ eventTypes: ['login'], perTipe: ['count'] }, 'f.json')).toThrow(/perTipe/);
    expect(() => parseFeaturesConfig({ attributes: [{ name: 'Country', type: 'numeric' }] })).toThrow(/lower-case column name/);
    expect(() => configuredDefinitions(parseFeaturesConfig({ eventTypes: ['Log in', 'log_in'] }))).toThrow(/two features would be named ev_log_in_28d/);
    expect(() => configuredDefinitions(parseFeaturesConfig({ builtIn: true, ratios: [{ name: 'events_28d', numerator: 'a', denominator: 'b' }] }))).toThrow(/two features would be named events_28d/);
  });

  it('CHURN_FEATURES_CONFIG extends the default catalogue; a broken file is a clear error', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-fc-'));
    try {
      const file = path.join(dir, 'features.json');
      await fs.writeFile(file, JSON.stringify({ eventTypes: ['login'] }));
      expect(productDefinitions({ CHURN_FEATURES_CONFIG: file }).map((d) => d.name)).toContain('ev_login_trend_28d');
      expect(productDefinitions({})).toBe(ALL_DEFINITIONS);
      await fs.writeFile(file, '{ "eventTypes": [');
      expect(() => productDefinitions({ CHURN_FEATURES_CONFIG: file })).toThrow(/features\.json: is not JSON/);
      expect(() => productDefinitions({ CHURN_FEATURES_CONFIG: path.join(dir, 'missing.json') })).toThrow(/cannot be read \(ENOENT\)/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('features configuration: values in PostgreSQL', () => {
  let db: TestDatabase;
  const ds = randomDataset(91, 18, start, end);
  const catalog = catalogFromConfig(config);
  const attrs = new Map<string, Record<string, string>>();
  const industry = new Map<string, string>();

  beforeAll(async () => {
    db = await createTestDatabase();
    await loadDataset(db.pool, ds);
    ds.accounts.forEach((a, i) => {
      const v: Record<string, string> = {};
      if (i % 4 !== 0) v.channel = ['ads', 'referral', 'partner'][i % 3];
      if (i % 5 !== 0) v.seats_bought = i % 7 === 0 ? 'many' : String(i * 1.5);
      attrs.set(a.account_id, v);
    });
    ds.accounts.forEach((a, i) => i % 3 !== 1 && industry.set(a.account_id, i % 2 ? 'retail' : 'media'));
    for (const [id, v] of attrs) await db.pool.query('UPDATE source.accounts SET attributes = $2, industry = $3 WHERE account_id = $1', [id, JSON.stringify(v), industry.get(id) ?? null]);
  });
  afterAll(async () => db?.drop());

  /** The oracle: one feature of one account as of `t`, from the rows in memory. */
  function oracle(name: string, accountId: string, t: number): number | null {
    const events = ds.events.filter((e) => e.account_id === accountId && e.occurred_at.getTime() < t);
    const inWin = (e: { occurred_at: Date }, offset: number) => e.occurred_at.getTime() >= t - (offset + 28) * DAY && e.occurred_at.getTime() < t - offset * DAY;
    const count = (types: string[], offset = 0) => events.filter((e) => types.includes(e.event_type) && inWin(e, offset)).reduce((s, e) => s + (e.quantity ?? 1), 0);
    // the 24-hour periods (t - (k + 1) days, t - k days] that tile the window
    const dayOf = (e: { occurred_at: Date }) => Math.ceil((t - e.occurred_at.getTime()) / DAY) - 1;
    const days = (types: string[]) => new Set(events.filter((e) => types.includes(e.event_type) && inWin(e, 0)).map(dayOf)).size;
    const activeDays = new Set(events.filter((e) => inWin(e, 0)).map((e) => Math.floor((t - e.occurred_at.getTime()) / DAY))).size;
    const users = new Set(events.filter((e) => inWin(e, 0) && e.user_id !== null).map((e) => e.user_id)).size;
    const div = (a: number, b: number) => (b === 0 ? null : a / b);
    const a = attrs.get(accountId)!;
    let m: RegExpExecArray | null;
    if (name === 'reports_per_record') return div(count(['report_create']), count(['record_create', 'login']));
    if (name === 'attr_seats_bought') return a.seats_bought !== undefined && /^[0-9.]+$/.test(a.seats_bought) ? Number(a.seats_bought) : null;
    if ((m = /^attr_channel_(\w+)$/.exec(name))) return a.channel === undefined ? null : a.channel === m[1] ? 1 : 0;
    if (name === 'attr_industry_retail') return industry.get(accountId) === undefined ? null : industry.get(accountId) === 'retail' ? 1 : 0;
    m = /^ev_(login|record_create|report_create)_(28d|prev_28d|trend_28d|days_28d|per_day_28d|per_user_28d)$/.exec(name)!;
    const type = [m[1]];
    switch (m[2]) {
      case '28d': return count(type);
      case 'prev_28d': return count(type, 28);
      case 'trend_28d': return div(count(type) - count(type, 28), count(type, 28));
      case 'days_28d': return days(type);
      case 'per_day_28d': return div(count(type), activeDays);
      default: return div(count(type), users);
    }
  }

  const own = () => configuredDefinitions(config).map((d) => d.name).filter((n) => !n.endsWith('_denominator'));

  for (const [label, when, events] of [
    ['raw events, mid-morning', '2026-05-14T09:16:00Z', 'raw'],
    ['event rollup, midnight', '2026-06-01T00:00:00Z', 'auto'],
  ] as const) {
    it(`every configured feature equals the oracle for every account (${label})`, async () => {
      const t = new Date(when);
      const rows = await selectFeatures(db.pool, catalog, [t], { events, requireActive: false });
      expect(rows.length).toBeGreaterThan(10);
      let nonZero = 0;
      for (const r of rows) {
        for (const name of own()) {
          const got = r.feature_values[catalog.names.indexOf(name)];
          const want = oracle(name, r.account_id, t.getTime());
          if (want === null) expect(got, `${name} ${r.account_id}`).toBeNull();
          else expect(got, `${name} ${r.account_id}`).toBeCloseTo(want, 9);
          if (want) nonZero++;
        }
      }
      expect(nonZero).toBeGreaterThan(rows.length * 5); // the oracle is not trivially zero
    });
  }

  it('events exactly on a window edge fall where the timestamps say, in both statement forms', async () => {
    const t = new Date('2026-05-20T00:00:00Z').getTime();
    const target = ds.accounts[2].account_id;
    const at = [0, 1, 27 * DAY, 28 * DAY, 28 * DAY + 1, 28 * DAY - 1, 56 * DAY, 56 * DAY - 1, 56 * DAY + 1, 29 * DAY + DAY / 2];
    const added = at.map((back, i) => ({ event_id: 995000 + i, account_id: target, user_id: null, event_type: 'report_create', occurred_at: new Date(t - back), quantity: i + 1 }));
    ds.events.push(...added);
    await db.pool.query(`INSERT INTO source.events (event_id, account_id, user_id, event_type, occurred_at, quantity)
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[])`,
    [added.map((e) => e.event_id), added.map((e) => e.account_id), added.map(() => null), added.map((e) => e.event_type), added.map((e) => e.occurred_at.toISOString()), added.map((e) => e.quantity)]);
    try {
      for (const form of [{}, { accountIds: [target] }]) {
        const rows = await selectFeatures(db.pool, catalog, [new Date(t)], { requireActive: false, ...form });
        const r = rows.find((x) => x.account_id === target)!;
        for (const name of ['ev_report_create_28d', 'ev_report_create_prev_28d', 'ev_report_create_days_28d', 'ev_report_create_trend_28d']) {
          expect(r.feature_values[catalog.names.indexOf(name)], `${name} ${JSON.stringify(form)}`).toBeCloseTo(oracle(name, target, t)!, 9);
        }
      }
    } finally {
      ds.events.splice(ds.events.length - added.length, added.length);
      await db.pool.query('DELETE FROM source.events WHERE event_id >= 995000 AND event_id < 996000');
    }
  });

  it('a few accounts (per-account statement) get the same values as the whole population', async () => {
    const t = new Date('2026-04-20T13:00:00Z');
    const all = await selectFeatures(db.pool, catalog, [t], { requireActive: false });
    const ids = all.slice(0, 3).map((r) => r.account_id);
    const few = await selectFeatures(db.pool, catalog, [t], { requireActive: false, accountIds: ids });
    for (const r of few) expect(r.feature_values).toEqual(all.find((x) => x.account_id === r.account_id)!.feature_values);
  });

  it('events at or after the date change nothing; an event before it does', async () => {
    const t = new Date('2026-05-02T00:00:00Z');
    const before = await selectFeatures(db.pool, catalog, [t], { requireActive: false });
    const target = before[0].account_id;
    await db.pool.query(`INSERT INTO source.events (event_id, account_id, user_id, event_type, occurred_at, quantity)
      SELECT 990000 + g, $1, NULL, $3, $2::timestamptz + g * interval '1 hour', 3 FROM generate_series(0, 5) g`, [target, t.toISOString(), 'report_create']);
    const after = await selectFeatures(db.pool, catalog, [t], { requireActive: false });
    expect(after).toEqual(before);
    await db.pool.query(`INSERT INTO source.events (event_id, account_id, user_id, event_type, occurred_at, quantity) VALUES (991000, $1, NULL, 'report_create', $2, 4)`, [target, new Date(t.getTime() - DAY / 2).toISOString()]);
    const changed = await selectFeatures(db.pool, catalog, [t], { requireActive: false, accountIds: [target] });
    const i = catalog.names.indexOf('ev_report_create_28d');
    expect(changed[0].feature_values[i]).toBe(before.find((r) => r.account_id === target)!.feature_values[i]! + 4);
    await db.pool.query('DELETE FROM source.events WHERE event_id >= 990000');
  });

  it('discovery proposes every event type with events and every attribute, typed', async () => {
    const found = await discoverFeaturesConfig(db.pool);
    const used = new Set(ds.events.map((e) => e.event_type));
    expect(new Set(found.eventTypes)).toEqual(used);
    expect(found.attributes).toEqual(expect.arrayContaining([
      { name: 'channel', type: 'category', values: expect.arrayContaining(['ads', 'referral', 'partner']) },
      { name: 'industry', type: 'category', values: expect.arrayContaining(['retail', 'media']) },
    ]));
    // 'many' among the seat counts: not every value is a number, so a category
    expect(found.attributes.find((a) => a.name === 'seats_bought')?.type).toBe('category');
    await db.pool.query(`UPDATE source.accounts SET attributes = attributes - 'seats_bought' WHERE attributes->>'seats_bought' = 'many'`);
    expect((await discoverFeaturesConfig(db.pool)).attributes.find((a) => a.name === 'seats_bought')?.type).toBe('numeric');
    expect(() => catalogFromConfig(found)).not.toThrow();
  });

  it('`churn features config --discover` writes a file that `--check` accepts and CHURN_FEATURES_CONFIG uses', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-fc-'));
    try {
      const file = path.join(dir, 'features.json');
      const env = { ...process.env, DATABASE_URL: db.url };
      const w = await runChurn(['features', 'config', '--discover', '--out', file], env);
      expect(w.stderr).toMatch(/wrote .*features\.json: \d+ event types, 3 account attributes/);
      expect(w.code).toBe(0);
      const c = await runChurn(['features', 'config', '--check', file], env);
      expect(c.code).toBe(0);
      expect(c.stdout).toMatch(/valid; feature set [0-9a-f]{16}/);
      expect(c.stdout).toContain('ev_login_trend_28d');
      const b = await runChurn(['features', 'build', '--as-of', '2026-06-01'], { ...env, CHURN_FEATURES_CONFIG: file });
      expect(b.code, b.stderr).toBe(0);
      const d = await runChurn(['features', 'describe', '--as-of', '2026-06-01'], { ...env, CHURN_FEATURES_CONFIG: file });
      expect(d.code, d.stderr).toBe(0);
      expect(d.stdout).toContain('attr_channel_ads');
      await fs.writeFile(file, JSON.stringify({ attributes: [{ name: 'channel', type: 'category' }] }));
      const bad = await runChurn(['features', 'build', '--as-of', '2026-06-01'], { ...env, CHURN_FEATURES_CONFIG: file });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/features configuration .*features\.json: attributes\.0\.values: a category attribute lists its values/);
      // zod's own wording made plain ("Invalid option: expected one of "count"|...", "Unrecognized key: ...")
      await fs.writeFile(file, JSON.stringify({ perType: ['cont'], windowdays: 28 }));
      const typo = await runChurn(['features', 'config', '--check', file], env);
      expect(typo.code).toBe(1);
      expect(typo.stderr.trim()).toMatch(/: perType\.0: expected one of count, prev_count, change, days, per_active_day, per_user; unknown key "windowdays"$/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('training leaves out features that carry nothing', () => {
  it('drops constant and almost always missing columns, keeps a one-value column with gaps, and says so', () => {
    const n = 400;
    const rows = Array.from({ length: n }, (_, i) => i);
    const table: PreparedTable = {
      ids: rows.map(String), label: rows.map((i) => (i % 5 === 0 ? 1 : 0)), split: rows.map(() => 'train' as const),
      source: { kind: 'csv', path: 'qa.csv', sha256: 'x' },
      columns: [
        { name: 'signal', kind: 'numeric', values: rows.map((i) => i % 7) },
        { name: 'always_zero', kind: 'numeric', values: rows.map(() => 0) },
        { name: 'rare', kind: 'numeric', values: rows.map((i) => (i === 3 ? 1 : null)) },
        { name: 'flag_with_gaps', kind: 'numeric', values: rows.map((i) => (i % 2 ? 1 : null)) },
        { name: 'one_plan', kind: 'text', values: rows.map(() => 'team') },
      ],
    };
    const logs: string[] = [];
    const r = screenColumns(table, rows, (m) => logs.push(m));
    expect(r.table.columns.map((c) => c.name)).toEqual(['signal', 'flag_with_gaps']);
    expect(r.excluded).toEqual({ constant: ['always_zero', 'one_plan'], mostly_missing: ['rare'] });
    expect(logs.join('\n')).toMatch(/left out 3 of 5 features .*constant: always_zero, one_plan.*under 1% of rows: rare/);
    // judged on the rows given: a column that varies only outside them is constant
    expect(screenColumns(table, rows.filter((i) => i % 7 === 0)).excluded.constant).toContain('signal');
    expect(() => screenColumns({ ...table, columns: [table.columns[1]] }, rows)).toThrow(/every feature is constant or missing/);
  });
});
