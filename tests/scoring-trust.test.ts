import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../core/db.ts';
import { readFeatures } from '../features/online.ts';
import { scoreAllActive } from '../jobs/score-all.ts';
import type { Score } from '../scoring/schema.ts';
import { aliasHistory, getModel, registerModel, setAlias } from '../training/registry/index.ts';
import { expectMissingOnDeclaredSide } from './helpers/declared-missing.ts';
import { bearer, startHarness, AS_OF, type ServingHarness } from './serving-fixture.ts';

const BIN = path.resolve('bin/churn.js');

function churn(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, CHURN_LOG_LEVEL: 'error', ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('scores people can trust', () => {
  let h: ServingHarness;
  const asOf = AS_OF.toISOString();
  const get = (url: string) => h.app.inject({ url, headers: bearer(h.readKey) });
  beforeAll(async () => {
    h = await startHarness({ accounts: 120 });
  }, 300_000);
  afterAll(async () => h?.close());

  it('never lets a feature with a declared risk direction explain against it, on any account (?top=all)', async () => {
    let checked = 0;
    let raising = 0;
    for (const id of h.accountIds) {
      const res = await get(`/v1/accounts/${id}/score?as_of=${asOf}&top=all`);
      expect(res.statusCode).toBe(200);
      const s = res.json() as Score;
      for (const d of s.drivers) {
        const risk = h.catalog.byName.get(d.feature)?.risk;
        if (!risk || typeof d.value !== 'number' || typeof d.reference !== 'number') continue;
        // contributions start from the typical retained account: above its value, an `increasing`
        // feature can only raise the risk, below it only lower it (and the reverse for `decreasing`)
        const side = Math.sign(d.value - d.reference) * (risk === 'increasing' ? 1 : -1);
        if (side > 0) expect(d.contribution, `${id} ${d.feature} ${d.value} vs ${d.reference}`).toBeGreaterThanOrEqual(-1e-9);
        else if (side < 0) expect(d.contribution, `${id} ${d.feature} ${d.value} vs ${d.reference}`).toBeLessThanOrEqual(1e-9);
        else expect(Math.abs(d.contribution), `${id} ${d.feature}`).toBeLessThan(1e-9);
        if (side !== 0 && d.direction === 'raises_risk') raising++;
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(h.accountIds.length * 20);
    expect(raising).toBeGreaterThan(0);
  });

  it('reads a missing value as what the catalogue declares it stands for: no activity, no invoice due or no ticket never explains the wrong way', async () => {
    let checked = 0;
    for (const id of h.accountIds) {
      const res = await get(`/v1/accounts/${id}/score?as_of=${asOf}&top=all`);
      expect(res.statusCode).toBe(200);
      checked += expectMissingOnDeclaredSide(res.json() as Score, h.catalog);
    }
    expect(checked).toBeGreaterThan(h.accountIds.length / 4);
  });

  it('lists the input contract of a model: types, ranges, risk directions and the feature-set version', async () => {
    const res = await get(`/v1/models/${h.champion}`);
    expect(res.statusCode).toBe(200);
    const m = res.json();
    expect(m.input_contract.feature_set_version).toBe(h.catalog.version);
    expect(m.input_contract.features.map((f: { name: string }) => f.name)).toEqual(h.catalog.names);
    const late = m.input_contract.features.find((f: { name: string }) => f.name === 'days_late_max_180d');
    expect(late).toMatchObject({ type: 'numeric', family: 'commercial', risk: 'increasing', missing_seen: true, missing_as: 'lowest' });
    // a missing value is read as the catalogue says only where it says so
    const missingAs = (name: string) => m.input_contract.features.find((f: { name: string }) => f.name === name).missing_as;
    expect([missingAs('days_since_last_activity'), missingAs('active_user_share_28d'), missingAs('nps_latest')]).toEqual(['highest', 'lowest', undefined]);
    const shown = await churn(['models', 'show', String(h.champion)], { DATABASE_URL: h.db.url });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/days_since_last_activity [0-9.]+\.\.[0-9.]+ risk\+ null=max;/);
    expect(shown.stdout).toMatch(/nps_latest [0-9.]+\.\.[0-9.]+ risk-;/);
    expect(late.range.min).toBeLessThanOrEqual(late.range.max);
    // the domain from each feature's definition: never negative counts, amounts or days late, shares
    // 0-1, percents 0-100, active days within the window, NPS 0-10, ticket CSAT 1-5; a change has none
    const domain = (name: string) => m.input_contract.features.find((f: { name: string }) => f.name === name).domain;
    expect([domain('mrr'), domain('tickets_90d'), domain('catalog_adoption_share_90d'), domain('discount_pct'), domain('days_late_max_180d')])
      .toEqual([{ min: 0 }, { min: 0 }, { min: 0, max: 1 }, { min: 0, max: 100 }, { min: 0 }]);
    expect([domain('active_days_7d'), domain('nps_latest'), domain('mean_csat_90d'), domain('active_days_trend_28d')]).toEqual([{ min: 0, max: 7 }, { min: 0, max: 10 }, { min: 1, max: 5 }, undefined]);
    expect(m.input_contract.account_segments).toEqual(['enterprise', 'mid_market', 'smb']);
    // the snake_case twins of the registry fields
    expect([m.model_type, m.feature_set_version, m.created_at]).toEqual([m.modelType, m.featureSetVersion, m.createdAt]);
    // the same entry by its alias
    const byAlias = await get('/v1/models/champion');
    expect(byAlias.statusCode).toBe(200);
    expect(byAlias.json()).toEqual(m);
  });

  it('refuses predict instances that break the contract, listing every problem, and imputes absent features only when asked', async () => {
    // (an smb account: its segment flags 0)
    const row = Object.fromEntries(h.catalog.names.map((n) => [n, n.startsWith('segment_') ? 0 : 1]));
    const post = (payload: Record<string, unknown>) => h.app.inject({ method: 'POST', url: '/v1/predict', headers: bearer(h.readKey), payload });
    // {} and a wrong type, an unknown feature, an unknown segment: each named with its row
    const bad = await post({ instances: [{}, { ...row, active_days_28d: 'lots' }, { ...row, not_a_feature: 2, segment: 'galactic' }, { ...row, mrr: -50, catalog_adoption_share_90d: 1.5, discount_pct: 100 },
      { ...row, nps_latest: -50, active_days_7d: 8, mean_csat_90d: 0 }] });
    expect(bad.statusCode).toBe(400);
    const problems = bad.json().problems as { row: number; feature: string; reason: string }[];
    expect(problems.filter((p) => p.row === 0)).toHaveLength(h.catalog.names.length);
    expect(problems.filter((p) => p.row === 0).every((p) => /^missing/.test(p.reason))).toBe(true);
    expect(problems.filter((p) => p.row > 0)).toEqual([
      { row: 1, feature: 'active_days_28d', reason: 'expected a number, got "lots"' },
      { row: 2, feature: 'not_a_feature', reason: 'unknown feature: the model does not use it' },
      { row: 2, feature: 'segment', reason: expect.stringMatching(/^unknown segment "galactic"; the model knows "enterprise", "mid_market", "smb"$/) },
      // values no account can have: refused, not scored (a negative MRR scored "healthy")
      ...[{ row: 3, feature: 'catalog_adoption_share_90d', reason: 'expected a number from 0 to 1, got 1.5' }, { row: 3, feature: 'mrr', reason: 'expected a number 0 or more, got -50' }]
        .sort((a, b) => h.catalog.names.indexOf(a.feature) - h.catalog.names.indexOf(b.feature)),
      // an NPS of -50 scored "critical", 700 active days in a week or a CSAT of 0 were scored as given
      ...[{ row: 4, feature: 'nps_latest', reason: 'expected a number from 0 to 10, got -50' }, { row: 4, feature: 'active_days_7d', reason: 'expected a number from 0 to 7, got 8' },
        { row: 4, feature: 'mean_csat_90d', reason: 'expected a number from 1 to 5, got 0' }]
        .sort((a, b) => h.catalog.names.indexOf(a.feature) - h.catalog.names.indexOf(b.feature)),
    ]);
    expect(bad.json().message).toMatch(/^\d+ problems with the rows to score .*instances\.0\.active_users_7d: missing/);
    // a complete row scores; null is a value ("no NPS answer"), not a missing feature
    const ok = await post({ instances: [{ ...row, nps_latest: null, segment: 'smb' }] });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().scores[0].imputed).toBeUndefined();
    const partial = await post({ instances: [{ active_days_28d: 3, mrr: 120 }], allow_missing: true });
    expect(partial.statusCode).toBe(200);
    expect(partial.json().scores[0].imputed).toEqual(h.catalog.names.filter((n) => n !== 'active_days_28d' && n !== 'mrr'));
    // an instance of nothing but imputed values would read as an account with no data: "healthy"
    const nothing = await post({ instances: [{ active_days_28d: 3 }, {}], allow_missing: true });
    expect(nothing.statusCode).toBe(400);
    expect(nothing.json().problems).toEqual([{ row: 1, feature: '', reason: `none of the model's ${h.catalog.names.length} features is given: allow_missing imputes the absent features of a row, not a whole row` }]);
    expect(nothing.json().message).toMatch(/instances\.1: none of the model's/);
  });

  it('says which accounts are not customers, and does not tier them as live ones', async () => {
    const [churned] = await query<{ account_id: string }>(h.db.pool, `SELECT a.account_id FROM source.accounts a
      WHERE a.created_at < $1 AND NOT EXISTS (SELECT 1 FROM source.subscriptions s WHERE s.account_id = a.account_id AND s.started_at < $1 AND (s.ended_at IS NULL OR s.ended_at >= $1))
        AND EXISTS (SELECT 1 FROM source.subscriptions s WHERE s.account_id = a.account_id AND s.started_at < $1) LIMIT 1`, [AS_OF]);
    expect(churned).toBeDefined();
    await query(h.db.pool, `INSERT INTO source.accounts (account_id, name, segment, plan, created_at) VALUES ('acc_prospect', 'Prospect Ltd', 'smb', 'starter', '2026-06-01T00:00:00Z'),
      ('acc_trialist', 'Trialist GmbH', 'enterprise', 'enterprise', '2026-08-20T00:00:00Z')`);
    // on a trial at the as-of time (the model learnt from paying customers only)
    await query(h.db.pool, `INSERT INTO source.subscriptions (subscription_id, account_id, plan, mrr, seats, billing_period, started_at, status, is_trial)
      VALUES ('sub_trialist', 'acc_trialist', 'enterprise', 0, 20, 'monthly', '2026-08-25T00:00:00Z', 'trialing', true)`);
    const res = await h.app.inject({ method: 'POST', url: '/v1/scores?top=1', headers: bearer(h.readKey), payload: { account_ids: [churned.account_id, 'acc_prospect', 'acc_trialist', h.accountIds[0]], as_of: asOf } });
    expect(res.statusCode).toBe(200);
    const byId = new Map((res.json().scores as Score[]).map((s) => [s.account_id, s]));
    expect(byId.get(churned.account_id)).toMatchObject({ status: 'churned', tier: 'churned', recommended_action: 'win_back' });
    expect(byId.get('acc_prospect')).toMatchObject({ status: 'never_subscribed', tier: 'never_subscribed', recommended_action: 'none' });
    expect(byId.get('acc_trialist')).toMatchObject({ status: 'trial', tier: 'trial', recommended_action: 'convert' });
    // the same account alone, and by the CLI's batch that stores every account's score
    const one = await get(`/v1/accounts/acc_trialist/score?as_of=${asOf}`);
    expect(one.json()).toMatchObject({ status: 'trial', tier: 'trial', recommended_action: 'convert' });
    await scoreAllActive(h.db.pool, { model: h.holder.current!, catalog: h.catalog, config: h.config, asOf: AS_OF, scoredAt: new Date(AS_OF.getTime() + 3_600_000) });
    const stored = await query<{ account_id: string; tier: string; recommended_action: string }>(h.db.pool,
      `SELECT account_id, tier, recommended_action FROM churn.score_history WHERE account_id = ANY($1::text[]) ORDER BY account_id`, [['acc_trialist', h.accountIds[0]]]);
    expect(stored).toHaveLength(2);
    expect(stored.find((r) => r.account_id === 'acc_trialist')).toEqual({ account_id: 'acc_trialist', tier: 'trial', recommended_action: 'convert' });
    expect(['healthy', 'at_risk', 'critical']).toContain(stored.find((r) => r.account_id === h.accountIds[0])!.tier);
    // and the stored score reads back as a trial's
    const history = await get('/v1/accounts/acc_trialist/history');
    expect(history.statusCode, history.body).toBe(200);
    expect(history.json().scores[0]).toMatchObject({ status: 'trial', tier: 'trial' });
    expect(byId.get(h.accountIds[0])).toMatchObject({ status: 'active' });
    expect(['healthy', 'at_risk', 'critical']).toContain(byId.get(h.accountIds[0])!.tier);
  });

  it('refuses times without a zone, impossible dates and the future, everywhere times are taken', async () => {
    const id = h.accountIds[0];
    const cases: [string, number, RegExp?][] = [
      ['2026-09-15', 200], ['2026-09-15T10:00:00Z', 200], ['2026-09-15T10:00:00%2B02:00', 200],
      ['2026-09-15T10:00:00', 400, /has no time zone/], ['2026-02-30', 400, /is not a real date/], ['2026-13-01', 400, /is not a real date/],
      ['2099-01-01', 400, /lies in the future/], ['yesterday', 400, /is not a date/],
    ];
    for (const [t, status, reason] of cases) {
      const res = await get(`/v1/accounts/${id}/score?as_of=${t}`);
      expect(res.statusCode, `${t}: ${res.body}`).toBe(status);
      if (reason) expect(res.json()).toMatchObject({ error: 'CHURN_ERR_VALIDATION', message: expect.stringMatching(reason) });
    }
    const batch = await h.app.inject({ method: 'POST', url: '/v1/scores', headers: bearer(h.readKey), payload: { account_ids: [id], as_of: '2026-09-15T10:00:00' } });
    expect(batch.statusCode).toBe(400);
    expect((await get(`/v1/accounts/${id}/score-change?from=2026-02-30`)).statusCode).toBe(400);
    // a range the wrong way round is the caller's mistake (it was a 404 "fewer than two stored scores in that range")
    for (const [from, to] of [['2026-09-01', '2026-08-01'], ['2026-09-01', '2026-09-01']]) {
      const reversed = await get(`/v1/accounts/${id}/score-change?from=${from}&to=${to}`);
      expect(reversed.statusCode).toBe(400);
      expect(reversed.json().message).toBe('invalid querystring: from: `from` must be before `to`');
    }
    expect((await h.app.inject({ method: 'POST', url: '/v1/predict', headers: bearer(h.readKey), payload: { instances: [{ active_days_28d: 3 }], allow_missing: true, as_of: '2099-01-01' } })).statusCode).toBe(400);
  });

  it('scores a CSV row exactly as the API scores the account: probability, health, tier and drivers', async () => {
    // (on a trial: tier trial by either path; enterprise accounts: tiered by the enterprise segment's thresholds by either path)
    const enterprise = (await query<{ account_id: string }>(h.db.pool, `SELECT account_id FROM source.accounts WHERE segment = 'enterprise' AND account_id = ANY($1) ORDER BY account_id LIMIT 3`, [h.accountIds.slice(12)])).map((r) => r.account_id);
    const ids = [...h.accountIds.slice(0, 12), ...enterprise, 'acc_trialist'];
    const api = (await h.app.inject({ method: 'POST', url: '/v1/scores?top=3', headers: bearer(h.readKey), payload: { account_ids: ids, as_of: asOf } })).json().scores as Score[];
    const features = await readFeatures(h.db.pool, h.catalog, ids, AS_OF, { requireActive: false });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-trust-'));
    try {
      const header = ['id', ...h.catalog.names, 'segment']; // (tenure_days is a feature of the catalogue: the segment rules read it there)
      const lines = ids.map((id) => {
        const f = features.get(id)!;
        return [id, ...f.values.map((v) => (v === null ? '' : String(v))), f.segment].join(',');
      });
      await fs.writeFile(path.join(dir, 'in.csv'), [header.join(','), ...lines].join('\n'));
      // POST /v1/predict with the same feature values alone: the same segments and tiers (the segment
      // from the row's segment flags, as the account's own data gives it), the trial's included
      const instances = ids.map((id) => ({ id, ...features.get(id)!.row }));
      const predicted = (await h.app.inject({ method: 'POST', url: '/v1/predict?top=3', headers: bearer(h.readKey), payload: { instances, as_of: asOf } })).json().scores as Score[];
      expect(api.filter((s) => s.segment === 'enterprise').length).toBeGreaterThan(0);
      expect(predicted.map((s) => [s.account_id, s.status, s.segment, s.tier, s.recommended_action])).toEqual(api.map((s) => [s.account_id, s.status, s.segment, s.tier, s.recommended_action]));
      // a segment that contradicts the row's flags is refused
      const contradiction = (await h.app.inject({ method: 'POST', url: '/v1/predict', headers: bearer(h.readKey), payload: { instances: [{ ...features.get(enterprise[0])!.row, segment: 'smb' }] } })).json();
      expect(contradiction.problems).toEqual([{ row: 0, feature: 'segment', reason: '"smb", but the row\'s segment flags say "enterprise"' }]);
      const r = await churn(['predict', '--from-csv', path.join(dir, 'in.csv'), '--out', path.join(dir, 'out.csv'), '--model', 'champion', '--top', '3'], { DATABASE_URL: h.db.url });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = (await fs.readFile(path.join(dir, 'out.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(','));
      expect(out.map((c) => c[0])).toEqual(ids);
      for (const [k, [, prob, health, tier, drivers]] of out.entries()) {
        const s = api[k];
        expect(Number(prob)).toBeCloseTo(s.churn_probability, 6);
        expect([Number(health), tier]).toEqual([s.health_score, s.tier]);
        if (s.account_id === 'acc_trialist') expect(tier).toBe('trial');
        expect(drivers).toBe(s.drivers.map((d) => `${d.feature}:${d.contribution >= 0 ? '+' : ''}${d.contribution.toFixed(2)}`).join(';'));
      }
      // a cell that is not a number fails the whole file, naming the line and the feature, and writes nothing
      await fs.writeFile(path.join(dir, 'bad.csv'), [header.join(','), lines[0].replace(/^([^,]+),[^,]*,/, '$1,lots,')].join('\n'));
      const bad = await churn(['predict', '--from-csv', path.join(dir, 'bad.csv'), '--out', path.join(dir, 'bad-out.csv'), '--model', 'champion'], { DATABASE_URL: h.db.url });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(new RegExp(`^CHURN_ERR_VALIDATION: 1 problem with the rows to score .*bad\\.csv: line 2, ${h.catalog.names[0]}: expected a number, got "lots"$`, 'm'));
      await expect(fs.stat(path.join(dir, 'bad-out.csv'))).rejects.toThrow();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses, through the API, a champion trained on other data or worse on the same rows; force with a reason is recorded; the server never serves an incompatible one', async () => {
    const put = (version: number, payload: Record<string, unknown>) => h.app.inject({ method: 'PUT', url: `/v1/models/${version}/aliases/champion`, headers: bearer(h.adminKey), payload });
    const register = async (featureSetVersion: string | null, test: number, fingerprint: string) => (await registerModel(h.db.pool, {
      // (a prepared table's model has no feature set, in the registry and in its artifact alike)
      modelType: 'logistic', artifact: { ...(h.artifact as object), feature_set_version: featureSetVersion }, params: {}, metrics: { validation: { auc: test }, test: { auc: test } }, trainingWindow: null,
      featureSetVersion, dataFingerprint: fingerprint, gitRevision: 'test', dataSource: featureSetVersion ? 'database' : 'csv:telco.csv',
    })).version;
    const same = 'f'.repeat(64);
    const good = await register(h.catalog.version, 0.75, same);
    const worse = await register(h.catalog.version, 0.68, same);
    const telco = await register(null, 0.84, 'e'.repeat(64));
    await setAlias(h.db.pool, { alias: 'champion', version: good, actor: 'test' });
    await h.holder.refresh();
    expect(await put(telco, {})).toMatchObject({ statusCode: 409 });
    expect((await put(telco, {})).json()).toMatchObject({ error: 'CHURN_ERR_FEATURE_MISMATCH', message: expect.stringContaining('trained on a prepared table (csv:telco.csv)') });
    const refused = await put(worse, { reason: 'looks fine' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: 'CHURN_ERR_NOT_BETTER', message: expect.stringContaining('test AUC 0.6800 vs 0.7500') });
    expect((await getModel(h.db.pool, 'champion')).version).toBe(good);
    expect((await put(worse, { force: true })).statusCode).toBe(400); // force needs a reason
    const forced = await put(telco, { force: true, reason: 'demo of a bad idea' });
    expect(forced.statusCode).toBe(200);
    expect(forced.json()).toMatchObject({ decision: 'forced', to_version: telco });
    expect((await aliasHistory(h.db.pool, 'champion'))[0]).toMatchObject({ toVersion: telco, movedBy: 'api:admin', reason: 'forced by api:admin: demo of a bad idea' });
    // the server keeps serving the compatible model and says why
    expect(h.holder.current?.version).toBe(good);
    const ready = (await h.app.inject({ url: '/readyz' })).json();
    expect(ready).toMatchObject({ ready: true, model_version: good, model_problem: expect.stringMatching(`^version ${telco} holds 'champion' but cannot serve: it was trained on a prepared table.*; \`churn train\` trains one on the catalogue and makes it champion`) });
    expect((await get(`/v1/accounts/${h.accountIds[0]}/score?as_of=${asOf}`)).json().model_version).toBe(good);
    await setAlias(h.db.pool, { alias: 'champion', version: h.champion, actor: 'test' });
    await h.holder.refresh();
    expect((await h.app.inject({ url: '/readyz' })).json().model_problem).toBeNull();
  });
});
