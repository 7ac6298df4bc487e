import { describe, expect, it } from 'vitest';
import { FAMILIES, loadCatalog, type FeatureInput } from '../features/catalog.ts';
import { PER_ACCOUNT_MAX, compileFeatures, featureStatement, formFor, groupByTimeOfDay } from '../features/compile.ts';
import { ALL_DEFINITIONS } from '../features/definitions/index.ts';
import { definitionsFromConfig, parseFeaturesConfig } from '../features/config.ts';
import { describeFeature, formatNumber, shownPair } from '../features/describe-value.ts';
import { mulberry32 } from '../core/random.ts';

const clone = () => ALL_DEFINITIONS.map((d) => structuredClone(d)) as FeatureInput[];

describe('feature catalogue', () => {
  it('has at least 40 features covering all six families, each named with snake_case', () => {
    const c = loadCatalog();
    expect(c.features.length).toBeGreaterThanOrEqual(40);
    expect(new Set(c.features.map((f) => f.family))).toEqual(new Set(FAMILIES));
    for (const f of c.features) expect(f.name).toMatch(/^[a-z][a-z0-9_]+$/);
    expect(c.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it('includes the features the product promises', () => {
    const names = new Set(loadCatalog().names);
    for (const n of ['active_users_7d', 'active_users_28d', 'stickiness_28d', 'active_users_per_seat_28d', 'events_per_active_user_28d', 'active_days_28d',
      'days_since_last_activity', 'events_per_day_28d', 'events_trend_28d', 'longest_inactive_streak_28d', 'feature_areas_28d', 'feature_areas_90d',
      'catalog_adoption_share_90d', 'key_features_90d', 'days_to_first_value', 'tickets_28d', 'tickets_90d', 'open_tickets', 'escalated_tickets_90d',
      'high_priority_share_90d', 'median_resolution_hours_90d', 'mean_csat_90d', 'mrr', 'mrr_change_90d', 'tenure_days', 'seats', 'plan_tier',
      'billing_annual', 'discount_pct', 'days_late_mean_180d', 'failed_payments_90d', 'nps_latest', 'nps_change', 'nps_detractor']) expect(names.has(n), n).toBe(true);
  });

  it('declares the same direction of risk for both periods a change compares (built-in and configured event types)', () => {
    // Without it the previous period's value is free to go either way in a model, and explanations read
    // "32 events in the 28 days before the last 28; typical retained account: 511" as lowering the risk.
    const configured = loadCatalog(definitionsFromConfig(parseFeaturesConfig({ eventTypes: [{ name: 'record_create', risk: 'decreasing' }, { name: 'error_shown', risk: 'increasing' }, 'login'], perType: ['count', 'change'] })));
    for (const c of [loadCatalog(), configured]) {
      const changes = c.features.filter((f) => f.kind === 'change');
      expect(changes.length).toBeGreaterThanOrEqual(5);
      for (const f of changes) {
        const [now, before] = (f as { dependsOn: string[] }).dependsOn.map((n) => c.byName.get(n)!);
        expect(before.risk, `${f.name}: ${before.name} against ${now.name}`).toBe(now.risk);
      }
    }
    expect(loadCatalog().byName.get('events_prev_28d')!.risk).toBe('decreasing');
    expect(configured.byName.get('ev_error_shown_prev_28d')!.risk).toBe('increasing');
    expect(configured.byName.get('ev_login_prev_28d')!.risk).toBeUndefined();
  });

  it('orders every derived feature after the features it depends on', () => {
    const c = loadCatalog();
    const pos = new Map(c.names.map((n, i) => [n, i]));
    for (const f of c.features) if ('dependsOn' in f) for (const d of f.dependsOn) expect(pos.get(d)!).toBeLessThan(pos.get(f.name)!);
    // areas_trend_28d is declared before feature_areas_prev_28d and must be moved after it
    expect(pos.get('areas_trend_28d')!).toBeGreaterThan(pos.get('feature_areas_prev_28d')!);
  });

  it('changes the version when any definition changes, and not when keys are reordered', () => {
    const base = loadCatalog().version;
    const defs = clone();
    const i = defs.findIndex((d) => d.name === 'tickets_90d');
    defs[i] = { ...defs[i], window: { days: 91 } } as FeatureInput;
    expect(loadCatalog(defs).version).not.toBe(base);
    const united = clone();
    united[0] = { ...united[0], unit: 'events' } as FeatureInput;
    expect(loadCatalog(united).version).not.toBe(base);
    const reordered = clone().map((d) => Object.fromEntries(Object.entries(d).reverse()) as FeatureInput);
    expect(loadCatalog(reordered).version).toBe(base);
    // the wording only words sentences and labels: adding, rewording or dropping it keeps trained models current
    const reworded = clone();
    const k = reworded.findIndex((d) => d.name === 'billing_annual');
    reworded[0] = { ...reworded[0], description: 'Now {value} people', label: 'People now', whenNull: 'Nobody' } as FeatureInput;
    reworded[k] = { ...reworded[k], yesNo: { yes: 'Pays once a year', no: 'Pays every month' } } as FeatureInput;
    expect(loadCatalog(reworded).version).toBe(base);
    const { yesNo: _yesNo, ...plain } = reworded[k];
    reworded[k] = plain as FeatureInput;
    expect(loadCatalog(reworded).version).toBe(base);
    const worded = clone();
    const j = worded.findIndex((d) => d.name === 'overdue_invoices_180d');
    expect(worded[j].singular).toBeDefined();
    worded[j] = { ...worded[j], singular: 'Just {value} invoice overdue' } as FeatureInput;
    expect(loadCatalog(worded).version).toBe(base);
    const { singular: _dropped, ...without } = worded[j];
    worded[j] = without as FeatureInput;
    expect(loadCatalog(worded).version).toBe(base);
    // nor does what training reads a missing value as: the values are the same
    const read = clone();
    const m = read.findIndex((d) => d.name === 'days_since_last_activity');
    expect(read[m].missing).toBe('highest');
    const { missing: _free, ...learnt } = read[m];
    read[m] = learnt as FeatureInput;
    expect(loadCatalog(read).version).toBe(base);
    read[0] = { ...read[0], missing: 'lowest' } as FeatureInput;
    expect(loadCatalog(read).version).toBe(base);
  });

  it('rejects a bad definition with a clear error naming the feature', () => {
    const bad = (change: (defs: FeatureInput[]) => void) => {
      const defs = clone();
      change(defs);
      return () => loadCatalog(defs);
    };
    expect(bad((d) => d.push({ name: 'Bad Name', family: 'usage', kind: 'active_days', window: { days: 7 }, unit: 'days', description: 'x {value}' }))).toThrow(/Bad Name: name: must be snake_case/);
    expect(bad((d) => d.push({ name: 'logins_7d', family: 'usage', kind: 'no_such_kind', unit: 'days', description: 'x {value}' } as unknown as FeatureInput))).toThrow(/logins_7d: kind/);
    expect(bad((d) => d.push({ name: 'logins_7d', family: 'usage', kind: 'active_days', window: { days: 0 }, unit: 'days', description: 'x {value}' }))).toThrow(/logins_7d: window.days/);
    expect(bad((d) => d.push({ name: 'logins_7d', family: 'usage', kind: 'active_days', window: { days: 7 }, unit: 'days', description: 'no placeholder' }))).toThrow(/\{value\}/);
    expect(bad((d) => d.push({ name: 'logins_7d', family: 'usage', kind: 'active_days', window: { days: 7 }, unit: 'days', description: 'x {value}', yesNo: { yes: 'Logged in', no: 'Never' } }))).toThrow(/logins_7d: yesNo words a flag \(unit flag\), not a value in days/);
    expect(bad((d) => d.push({ name: 'logins_7d', family: 'usage', kind: 'active_days', window: { days: 7 }, unit: 'days', description: 'x {value}', levels: ['none', 'some'] }))).toThrow(/logins_7d: levels name the values of an ordinal/);
    expect(bad((d) => d.push({ name: 'ratio_x', family: 'usage', kind: 'ratio', dependsOn: ['events_28d', 'nope'], unit: 'ratio', description: 'x {value}' }))).toThrow(/ratio_x depends on unknown feature nope/);
    expect(bad((d) => d.push({ ...d[0] }))).toThrow(/active_users_7d is defined twice/);
    expect(bad((d) => d.push({ name: 'share_x', family: 'engagement', kind: 'user_share', dependsOn: ['active_users_7d'], window: { days: 28 }, unit: 'share', description: 'x {value}' })))
      .toThrow(/share_x: a user share depends on the active_users feature of its own window \(28 days back from 0\), not on active_users_7d/);
    expect(bad((d) => d.push({ name: 'share_x', family: 'engagement', kind: 'user_share', dependsOn: ['events_28d'], window: { days: 28 }, unit: 'share', description: 'x {value}' }))).toThrow(/not on events_28d/);
    expect(bad((d) => d.push(
      { name: 'loop_a', family: 'usage', kind: 'change', mode: 'absolute', dependsOn: ['loop_b', 'events_28d'], unit: 'change', description: 'x {value}' },
      { name: 'loop_b', family: 'usage', kind: 'change', mode: 'absolute', dependsOn: ['loop_a', 'events_28d'], unit: 'change', description: 'x {value}' },
    ))).toThrow(/dependency cycle: loop_a -> loop_b -> loop_a/);
    try {
      loadCatalog([{ name: 'x_1', family: 'nope', kind: 'tenure', unit: 'days', description: '{value}' } as unknown as FeatureInput]);
      expect.unreachable();
    } catch (err) {
      expect((err as { code: string }).code).toBe('CHURN_ERR_VALIDATION');
    }
  });
});

describe('feature compiler', () => {
  const catalog = loadCatalog();

  it('compiles one statement whose text depends only on the catalogue and the account restriction', () => {
    const a = compileFeatures(catalog, [new Date('2026-03-01T00:00:00Z')]);
    const b = compileFeatures(catalog, [new Date('2026-04-01T00:00:00Z'), new Date('2026-05-01T00:00:00Z')]);
    expect(a.text).toBe(b.text);
    expect(a.values).not.toEqual(b.values);
    const one = compileFeatures(catalog, [new Date('2026-03-01T00:00:00Z')], { accountIds: ['x'] });
    expect(one.text).not.toBe(a.text);
    expect(one.text).toContain('= ANY($6::text[])');
    expect(a.text.match(/FROM source\.events y/g)).toHaveLength(1); // one pass over the events
    expect(a.text).not.toMatch(/now\(\)|current_timestamp|current_date/i);
  });

  it("the one-date statement of each form binds any date and accounts exactly as compileFeatures does", () => {
    for (const requireActive of [true, false]) {
      const rng = mulberry32(requireActive ? 3 : 4);
      for (let i = 0; i < 50; i++) {
        // any millisecond of 2020-2030, and lists of 0-3 accounts or of 12-40 (both forms of the statement)
        const asOf = new Date(Date.UTC(2020, 0, 1) + Math.floor(rng() * 10 * 365 * 86_400_000));
        const ids = Array.from({ length: i % 2 ? Math.floor(rng() * 4) : 12 + Math.floor(rng() * 29) }, (_, k) => `acc_${i}_${k}`);
        const form = formFor(ids.length, asOf, { requireActive, events: 'raw' });
        const stmt = featureStatement(catalog, form);
        expect(form.grouping).toBe(ids.length <= PER_ACCOUNT_MAX ? 'per_account' : 'grouped');
        const full = compileFeatures(catalog, [asOf], { accountIds: ids, requireActive, accountFacts: true });
        expect(stmt.text).toBe(full.text);
        expect(stmt.text.includes('LEFT JOIN LATERAL'), `${ids.length} accounts`).toBe(ids.length <= PER_ACCOUNT_MAX);
        expect(stmt.values(asOf, ids), asOf.toISOString()).toEqual(full.values);
      }
    }
    const forms = [true, false].flatMap((requireActive) => [1, PER_ACCOUNT_MAX + 1].flatMap((accounts) =>
      [new Date('2026-03-01T00:00:00Z'), new Date('2026-03-01T06:00:00Z')].map((asOf) => formFor(accounts, asOf, { requireActive }))));
    expect(new Set(forms.map((f) => featureStatement(catalog, f).name)).size).toBe(8);
    expect(() => featureStatement(catalog, forms[0]).values(new Date(NaN), ['x'])).toThrow(/invalid as-of date/);
  });

  it('rejects an activity window reaching further back than the bitmaps hold, naming the feature', () => {
    const defs = [...clone(), { name: 'active_days_200d', family: 'usage', kind: 'active_days', window: { days: 200 }, unit: 'days', description: 'Active on {value} of 200 days' } as FeatureInput];
    expect(() => compileFeatures(loadCatalog(defs), [new Date('2026-03-01T00:00:00Z')])).toThrow(/feature active_days_200d: activity windows may reach at most 128 days/);
  });

  it('limits the event scan to the largest window before the dates', () => {
    const q = compileFeatures(catalog, [new Date('2026-03-01T00:00:00Z')]);
    expect(q.params.scan_to).toBe('2026-03-01T00:00:00.000Z');
    expect(q.params.scan_from).toBe('2025-12-01T00:00:00.000Z'); // 90 days back
  });

  it('refuses dates that are not whole days apart, and groups them by time of day instead', () => {
    expect(() => compileFeatures(catalog, [new Date('2026-03-01T00:00:00Z'), new Date('2026-03-02T06:00:00Z')])).toThrow(/whole days apart/);
    expect(() => compileFeatures(catalog, [])).toThrow(/at least one/);
    const groups = groupByTimeOfDay([new Date('2026-03-02T06:00:00Z'), new Date('2026-03-01T00:00:00Z'), new Date('2026-04-01T00:00:00Z'), new Date('2026-03-01T00:00:00Z')]);
    expect(groups.map((g) => g.map((d) => d.toISOString()))).toEqual([['2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z'], ['2026-03-02T06:00:00.000Z']]);
  });
});

describe('plain-language feature values', () => {
  const c = loadCatalog();
  const def = (n: string) => c.byName.get(n)!;
  it('fills the description with a readable value and the reference', () => {
    expect(describeFeature(def('active_days_28d'), 3, 17)).toBe('Active on 3 of the last 28 days; typical retained account: 17');
    expect(describeFeature(def('catalog_adoption_share_90d'), 0.625)).toBe('Adopted 63% of the product areas in the last 90 days');
    expect(describeFeature(def('events_trend_28d'), -0.42)).toBe('Usage changed by -42% against the previous 28 days');
    expect(describeFeature(def('mrr'), 1234.5)).toBe('Monthly recurring revenue of 1,234.50');
    expect(describeFeature(def('stickiness_28d'), 0.158251)).toBe('Stickiness (daily over monthly active users) of 0.16 over the last 28 days');
  });
  it('formats numbers exactly as toLocaleString with the documented options would (reused formatters)', () => {
    const rand = mulberry32(7);
    const expected = (v: number, unit?: string): string => {
      if (unit === 'currency') return v.toLocaleString('en-US', { minimumFractionDigits: Number.isInteger(v) ? 0 : 2, maximumFractionDigits: 2 });
      if (Number.isInteger(v)) return v.toLocaleString('en-US');
      const abs = Math.abs(v);
      return v.toLocaleString('en-US', { maximumFractionDigits: abs >= 100 ? 0 : abs >= 10 ? 1 : 2 });
    };
    for (let i = 0; i < 3000; i++) {
      const v = [() => Math.round(rand() * 1e7 - 5e6), () => (rand() - 0.5) * 10 ** Math.floor(rand() * 9 - 3), () => Math.round(rand() * 1000) / 100][i % 3]();
      for (const unit of ['days', 'currency'] as const) expect(formatNumber(v, unit), `${v} ${unit}`).toBe(expected(v, unit));
    }
    // below 999.5 most values take toFixed; where it and Intl round differently (the shortest decimal
    // form ends in a 5 just past the digits kept) and at the edges, Intl's text all the same
    const edges = [1.005, 2.675, 1.045, 0.285, 8.345, -1.005, 0.125, 0.5, 2.5, 10.05, 99.95, 99.96, 9.995, 100.5, 998.5, 999.4999999999999, 999.5, -999.5, 999.6,
      0, -0, 1e-7, -1e-7, 5e-7, 0.000001, 0.0049, 0.005, -0.004, -0.005, 0.1 + 0.2, 1 / 3, -2 / 3, 12.25, 12.35, 99.5, 999, -999, 1000, 5e-324];
    const values = [...edges, ...Array.from({ length: 20000 }, (_, i) => [() => (rand() - 0.5) * 2000, () => Math.round((rand() - 0.5) * 2e5) / 1000, () => Math.round(rand() * 2e4) / 200, () => (rand() - 0.5) * 10 ** (rand() * 4 - 2)][i % 4]())];
    for (const v of values) expect(formatNumber(v), String(v)).toBe(expected(v));
    // grouped thousands, both units, up to and past the 1e12 where Intl takes over again
    const large = [999.995, 1000.005, 1234.005, 1234.5, -1234.5, 99999.995, 123456.785, 999999.5, 1e6, -1e6 - 0.5, 123456789012.345, 999999999999.995, 1e12 - 0.5, 1e12, 1e12 + 0.25, 155915691612603.4, 999999999999999, -1e15, 1e21, 1e22,
      ...Array.from({ length: 4000 }, (_, i) => (rand() - 0.5) * 10 ** (rand() * 17) * (i % 2 ? 1 : 1 / 3))];
    for (const v of large) for (const unit of [undefined, 'currency'] as const) expect(formatNumber(v, unit), `${v} ${unit}`).toBe(expected(v, unit));
    expect(formatNumber(1234567)).toBe('1,234,567');
    expect(formatNumber(-0.004)).toBe('-0');
    expect(formatNumber(1.005)).toBe('1.01');
  });
  it('words a value shown as 1 in the singular where the definition says how', () => {
    expect(describeFeature(def('overdue_invoices_180d'), 1, 0)).toBe('1 invoice due in the last 180 days past due and unpaid; typical retained account: 0');
    expect(describeFeature(def('overdue_invoices_180d'), 2, 1)).toBe('2 invoices due in the last 180 days past due and unpaid; typical retained account: 1');
    expect(describeFeature(def('overdue_invoices_180d'), 0)).toBe('0 invoices due in the last 180 days past due and unpaid');
    expect(describeFeature(def('tenure_days'), 1.004)).toBe('Customer for 1 day'); // shown as 1
    expect(describeFeature(def('open_tickets'), 1)).toBe('1 support ticket open');
    // a definition without a singular wording keeps its description for 1
    expect(describeFeature(def('active_days_28d'), 1)).toBe('Active on 1 of the last 28 days');
    // every built-in singular differs from its description, and only in the words next to the value
    for (const d of loadCatalog().features) {
      if (!d.singular) continue;
      expect(d.singular, d.name).not.toBe(d.description);
      expect(d.singular.split('{value}')[0], d.name).toBe(d.description.split('{value}')[0]);
    }
  });
  it('words a flag as yes or no and names the levels of an ordinal', () => {
    expect(describeFeature(def('billing_annual'), 1, 0)).toBe('Billed annually; typical retained account: billed monthly');
    expect(describeFeature(def('billing_annual'), 0, 1)).toBe('Billed monthly; typical retained account: billed annually');
    expect(describeFeature(def('segment_enterprise'), 1)).toBe('In the enterprise segment');
    expect(describeFeature(def('nps_detractor'), null, 0)).toBe('No NPS response yet; typical retained account: latest NPS response not from a detractor (0-6)');
    // a value that is neither 1 nor 0 (no flag the catalogue computes) keeps the description, with its number
    expect(describeFeature(def('billing_annual'), 0.5, 0)).toBe('Billed annually: 0.5 (1 yes, 0 monthly); typical retained account: billed monthly');
    expect(describeFeature(def('plan_tier'), 3, 2)).toBe('Plan tier 3 (business); typical retained account: 2 (team)');
    expect(describeFeature(def('plan_tier'), null, 2)).toBe('Plan not recognised; typical retained account: plan tier 2 (team)');
    expect(describeFeature(def('plan_tier'), 2.5, 2)).toBe('Plan tier 2.5; typical retained account: 2 (team)');
    expect(describeFeature(def('mrr_90d_ago'), 30, 125)).toBe('Monthly recurring revenue 90 days ago was 30; typical retained account: 125');
    // every built-in flag has its yes and no, and every level of the plan tiers a name
    for (const d of loadCatalog().features) if (d.unit === 'flag') expect(d.yesNo, d.name).toBeDefined();
    const plan = def('plan_tier');
    if (plan.kind !== 'subscription_attr') throw new Error('plan_tier is a subscription attribute');
    for (const tier of Object.values(plan.planTiers!)) expect(plan.levels?.[tier], String(tier)).toBeDefined();
  });
  it('words a missing value without its own text by the label, and the reference in full', () => {
    expect(describeFeature(def('active_users_7d'), null, 3)).toBe('Active users, last 7 days: no value; typical retained account: 3 users active in the last 7 days');
  });
  it('shows the decimals that tell a value from its reference when the usual rounding would show them equal', () => {
    expect(describeFeature(def('stickiness_28d'), 0.1423, 0.1381)).toBe('Stickiness (daily over monthly active users) of 0.142 over the last 28 days; typical retained account: 0.138');
    expect(describeFeature(def('active_user_share_28d'), 0.625, 0.628)).toBe('62.5% of provisioned users active in the last 28 days; typical retained account: 62.8%');
    expect(describeFeature(def('days_late_mean_180d'), 0, 0.000694)).toBe('Invoices due in the last 180 days were paid 0 days late on average; typical retained account: 0.001');
    // equal numbers, and numbers the usual rounding already tells apart, read as before
    expect(describeFeature(def('stickiness_28d'), 0.14, 0.14)).toBe('Stickiness (daily over monthly active users) of 0.14 over the last 28 days; typical retained account: 0.14');
    expect(describeFeature(def('active_days_28d'), 3, 17)).toBe('Active on 3 of the last 28 days; typical retained account: 17');
    // two numbers at least 1e-5 apart read differently, in every unit
    const units = [...new Set(loadCatalog().features.map((f) => f.unit))];
    const rng = mulberry32(5);
    for (let i = 0; i < 5000; i++) {
      const a = (rng() - 0.3) * 10 ** Math.floor(rng() * 5 - 2);
      const b = a + (rng() < 0.5 ? -1 : 1) * (1e-5 + rng() * 10 ** Math.floor(rng() * 4 - 5));
      const unit = units[i % units.length];
      if (a === b) continue;
      const [x, y] = shownPair(a, b, unit);
      expect(x, `${a} ${b} ${unit}`).not.toBe(y);
    }
  });
  it('says what a missing value means', () => {
    expect(describeFeature(def('nps_latest'), null)).toBe('No NPS response yet');
    // the missing value's text names no number: the reference is worded with the description
    expect(describeFeature(def('nps_latest'), null, 8)).toBe('No NPS response yet; typical retained account: latest NPS response: 8 of 10');
    expect(describeFeature(def('days_late_mean_180d'), null, 0)).toBe('No invoices due in the last 180 days; typical retained account: invoices due in the last 180 days were paid 0 days late on average');
    expect(describeFeature(def('mrr_change_90d'), null, 0)).toBe('Not a customer 90 days ago; typical retained account: MRR changed by 0 over the last 90 days');
    expect(describeFeature(def('events_prev_28d'), null, 1)).toBe('Account created within the last 28 days: no events before then; typical retained account: 1 event in the 28 days before the last 28');
  });
});
