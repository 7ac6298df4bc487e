import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { DEFAULT_SERVING_CONFIG, loadServingConfig, parseServingConfig } from '../scoring/config.ts';
import { healthScore, resolveSegment, tierOf } from '../scoring/health.ts';
import { scorecardScore } from '../scoring/scorecard.ts';
import { buildScore, topIndices } from '../scoring/build-score.ts';
import type { ScoringModel } from '../scoring/model.ts';
import { checkRows } from '../scoring/validate.ts';
import { predictCsv } from '../cli/commands/predict.ts';
import { FAMILIES } from '../features/definitions/schema.ts';
import { signPayload, verifySignature } from '../jobs/alerts/sign.ts';
import { parseBootstrapKeys, prefixOf } from '../serving/keys.ts';
import { backoffSeconds } from '../jobs/alerts/deliver.ts';

/** A linear model written by hand: logit = -1 + sum(w_i * x_i), contributions w_i * x_i (reference 0). */
function linearModel(weights: Record<string, number>, families: Record<string, string>): ScoringModel {
  const names = Object.keys(weights);
  return {
    version: 1, modelType: 'logistic', featureSetVersion: null, baseRate: 0.1, featureNames: names, featureIndex: new Map(names.map((n, i) => [n, i])), families: names.map((n) => families[n]), references: names.map(() => 0), youngBands: [],
    familySlots: Int8Array.from(names, (n) => (FAMILIES as readonly string[]).indexOf(families[n])),
    contract: { feature_set_version: null, features: [], byName: new Map(), leftOut: new Set() }, segmentFlags: [],
    score: (row) => {
      const contributions = names.map((n) => weights[n] * Number(row[n] ?? 0));
      const logit = -1 + contributions.reduce((a, b) => a + b, 0);
      return { probability: 1 / (1 + Math.exp(-logit)), logit, baseValue: -1, contributions: Float64Array.from(contributions), band: -1 };
    },
    describe: (i, v) => `${names[i]} is ${v}`,
  };
}

describe('serving configuration and pure scoring parts', () => {
  it('reads a caller\'s is_trial as its account\'s status also when the model leaves it out of its inputs (training drops it: no trials there), and refuses a value that is not a flag', async () => {
    const base = linearModel({ seats: 0.1 }, { seats: 'engagement' });
    const feature = { name: 'seats', type: 'numeric' as const, family: 'engagement', missing_seen: true, range: null };
    const contract = { feature_set_version: 'fs1', features: [feature], left_out: ['is_trial'], byName: new Map([['seats', feature]]), leftOut: new Set(['is_trial']) };
    const model: ScoringModel = { ...base, featureSetVersion: 'fs1', contract };
    const statuses = (rows: Record<string, unknown>[], text = false) => checkRows(model, rows, { text }).map((c) => c.status);
    expect(statuses([{ seats: 3, is_trial: 1 }, { seats: 3, is_trial: 0 }, { seats: 3 }, { seats: 3, is_trial: null }, { seats: 3, is_trial: true }])).toEqual(['trial', 'active', 'active', 'active', 'trial']);
    expect(statuses([{ seats: '3', is_trial: '1' }, { seats: '3', is_trial: '0' }, { seats: '3', is_trial: '' }], true)).toEqual(['trial', 'active', 'active']);
    expect(() => checkRows(model, [{ seats: 3, is_trial: 'yes' }])).toThrow(/instances\.0\.is_trial: expected 1 \(on a trial\) or 0, got "yes"/);
    expect(() => checkRows(model, [{ seats: 3, is_trial: 2 }])).toThrow(/instances\.0\.is_trial: expected 1 \(on a trial\) or 0, got 2/);
    // churn predict keeps the column, so a CSV row of a trial gets the tier trial as well
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-trial-'));
    try {
      await fs.writeFile(path.join(dir, 'in.csv'), 'id,seats,is_trial\nt1,3,1\nc1,3,0\n');
      await predictCsv(model, { fromCsv: path.join(dir, 'in.csv'), out: path.join(dir, 'out.csv'), idCol: 'id', top: 1 }, DEFAULT_SERVING_CONFIG);
      const tiers = (await fs.readFile(path.join(dir, 'out.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(',')[3]);
      expect(tiers[0]).toBe('trial');
      expect(['healthy', 'at_risk', 'critical']).toContain(tiers[1]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    // a prepared table's model has no catalogue: its rows are customers whatever they carry
    const table: ScoringModel = { ...model, featureSetVersion: null, contract: { ...contract, feature_set_version: null } };
    expect(checkRows(table, [{ seats: 3, is_trial: 1 }]).map((c) => c.status)).toEqual(['active']);
  });


  it('maps probability to health monotonically under every documented mapping', () => {
    const logistic = parseServingConfig({ health: { kind: 'logistic', midpoint: 0.2, steepness: 1.5 } }).health;
    const linear = parseServingConfig({ health: { kind: 'linear' } }).health;
    const mappings = [DEFAULT_SERVING_CONFIG.health, logistic, linear];
    const prev = mappings.map(() => 101);
    for (let p = 0; p <= 1; p += 0.01) {
      mappings.forEach((m, i) => {
        const h = healthScore(p, m, 0.02);
        expect(h).toBeLessThanOrEqual(prev[i]);
        prev[i] = h;
      });
    }
    expect(DEFAULT_SERVING_CONFIG.health.kind).toBe('relative');
    // relative: 50 at four times the model's base rate, whatever that base rate is
    expect(healthScore(0.08, DEFAULT_SERVING_CONFIG.health, 0.02)).toBe(50);
    expect(healthScore(0.4, DEFAULT_SERVING_CONFIG.health, 0.1)).toBe(50);
    expect(healthScore(0.02, DEFAULT_SERVING_CONFIG.health, 0.02)).toBeGreaterThan(75);
    expect(healthScore(0.31, linear, 0.02)).toBe(69);
    expect(healthScore(0.2, logistic, 0.02)).toBe(50);
  });

  it('assigns default tiers and actions, and per-segment thresholds for young and enterprise accounts', () => {
    const c = DEFAULT_SERVING_CONFIG;
    const established = resolveSegment(c, { accountSegment: 'smb', tenureDays: 400 });
    expect(established.name).toBe('established');
    expect(tierOf(72, established.tiers).tier).toMatchObject({ name: 'healthy', recommended_action: 'expand' });
    expect(tierOf(45, established.tiers).tier).toMatchObject({ name: 'at_risk', recommended_action: 'engage' });
    expect(tierOf(10, established.tiers).tier).toMatchObject({ name: 'critical', recommended_action: 'rescue' });
    const young = resolveSegment(c, { accountSegment: 'smb', tenureDays: 30 });
    expect(young.name).toBe('onboarding');
    expect(tierOf(72, young.tiers).tier.name).toBe('at_risk'); // stricter for accounts under 90 days
    expect(resolveSegment(c, { accountSegment: 'enterprise', tenureDays: 400 }).name).toBe('enterprise');
  });

  it('refuses invalid configuration with one clear error, and reads a JSON file', async () => {
    expect(() => parseServingConfig({ tiers: [{ name: 'a', min_health: 10, recommended_action: 'x' }] })).toThrow(/last tier must have min_health 0/);
    expect(() => parseServingConfig({ tiers: [{ name: 'At Risk', min_health: 0, recommended_action: 'x' }] })).toThrow(/tiers\.0\.name: a name is lower-case letters, digits and _, starting with a letter \(at_risk\)/);
    expect(() => parseServingConfig({ tiers: [{ name: 'a', min_health: 10, recommended_action: 'x' }, { name: 'b', min_health: 20, recommended_action: 'y' }] })).toThrow(/ordered best first/);
    expect(() => parseServingConfig({ alerts: { drop_points: 0 } })).toThrow(expect.objectContaining({ code: 'CHURN_ERR_CONFIG' }));
    // the tiers of accounts that are not customers keep their names (a stored `trial` score reads as a trial's)
    for (const name of ['trial', 'churned', 'never_subscribed']) {
      expect(() => parseServingConfig({ tiers: [{ name: 'good', min_health: 50, recommended_action: 'grow' }, { name, min_health: 0, recommended_action: 'call' }] }))
        .toThrow(/tiers\.1\.name: trial, churned, never_subscribed are the tiers of accounts that are not customers/);
    }
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-cfg-'));
    try {
      const file = path.join(dir, 'serving.json');
      await fs.writeFile(file, JSON.stringify({ alerts: { drop_points: 7 }, tiers: [{ name: 'good', min_health: 50, recommended_action: 'grow' }, { name: 'bad', min_health: 0, recommended_action: 'call' }] }));
      const cfg = await loadServingConfig(file);
      expect(cfg.alerts.drop_points).toBe(7);
      expect(cfg.tiers.map((t) => t.name)).toEqual(['good', 'bad']);
      expect(cfg.scorecard.metrics.length).toBeGreaterThan(0);
      await fs.writeFile(file, '{ not json');
      await expect(loadServingConfig(file)).rejects.toMatchObject({ code: 'CHURN_ERR_CONFIG' });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('reads CHURN_FEATURE_CONCURRENCY as a whole number from 1 to 64 and refuses anything else', () => {
    expect(loadConfig({}).CHURN_FEATURE_CONCURRENCY).toBeUndefined();
    expect(loadConfig({ CHURN_FEATURE_CONCURRENCY: '3' }).CHURN_FEATURE_CONCURRENCY).toBe(3);
    for (const bad of ['0', '65', '1.5', 'many']) {
      expect(() => loadConfig({ CHURN_FEATURE_CONCURRENCY: bad }), bad).toThrow(expect.objectContaining({ code: 'CHURN_ERR_CONFIG', message: expect.stringContaining('CHURN_FEATURE_CONCURRENCY') }));
    }
  });

  it('refuses a DATABASE_URL that is not a PostgreSQL URL, without echoing it, and shows other refused values', () => {
    for (const good of ['postgres://u:p@db.internal:5432/analytics', 'postgresql://127.0.0.1/test', 'postgres:///churn?host=/var/run/postgresql']) {
      expect(loadConfig({ DATABASE_URL: good }).DATABASE_URL).toBe(good);
    }
    for (const bad of ['notaurl', 'mysql://u:secret@h/db', 'db.internal:5432/analytics']) {
      let message = '';
      try {
        loadConfig({ DATABASE_URL: bad });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, bad).toBe('invalid environment: DATABASE_URL: expected a PostgreSQL connection URL: postgres://user:password@host:5432/database');
    }
    // text where a number belongs says so (zod's own words were "expected number, received NaN")
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(expect.objectContaining({ code: 'CHURN_ERR_CONFIG', message: 'invalid environment: PORT: expected a number (given: "abc")' }));
    expect(() => loadConfig({ CHURN_SCHEDULE_HOURS: 'daily' })).toThrow(expect.objectContaining({ message: 'invalid environment: CHURN_SCHEDULE_HOURS: expected a number (given: "daily")' }));
    expect(() => loadConfig({ PORT: '70000' })).toThrow(expect.objectContaining({ message: 'invalid environment: PORT: expected at most 65535 (given: "70000")' }));
    expect(() => loadConfig({ CHURN_LOG_LEVEL: 'loud' })).toThrow(expect.objectContaining({ message: 'invalid environment: CHURN_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent (given: "loud")' }));
    expect(() => loadConfig({ CHURN_API_KEYS: 'x', CHURN_WORKERS: '0' })).toThrow(expect.objectContaining({ message: expect.stringContaining('(given: "0")') }));
  });

  it('computes the weighted scorecard from threshold points per metric and weights per family', () => {
    const metrics = [
      { feature: 'a', family: 'usage' as const, bands: [{ min: 10, points: 100 }, { min: 5, points: 50 }], else_points: 0 },
      { feature: 'b', family: 'usage' as const, bands: [{ min: 1, points: 80 }], else_points: 20 },
      { feature: 'c', family: 'support' as const, bands: [{ min: 3, points: 0 }], else_points: 100 },
      { feature: 'missing', family: 'adoption' as const, bands: [{ min: 0, points: 100 }], else_points: 0 },
    ];
    const weights = { engagement: 0, usage: 3, adoption: 5, support: 1, commercial: 0, sentiment: 0 };
    // usage = mean(50, 20) = 35; support = 100; adoption has no feature the model knows: ignored
    const values = new Map<string, number | null>([['a', 7], ['b', null], ['c', 0]]);
    expect(scorecardScore(values, metrics, weights)).toBe(Math.round((3 * 35 + 1 * 100) / 4));
    expect(scorecardScore((f) => (f === 'a' ? 12 : f === 'b' ? 1 : f === 'c' ? 5 : undefined), metrics, weights)).toBe(Math.round((3 * 90 + 0) / 4));
  });

  it('builds drivers in order of size whose contributions add up to the log-odds, with family sub-scores', () => {
    const model = linearModel({ x: 0.5, y: -2, z: 0.1, w: 1 }, { x: 'usage', y: 'support', z: 'usage', w: 'adoption' });
    const s = buildScore({ model, config: DEFAULT_SERVING_CONFIG, accountId: 'a', asOf: '2026-01-01T00:00:00.000Z', row: { x: 2, y: 1, z: -3, w: 0.5 }, segment: { accountSegment: null, tenureDays: null }, top: 'all' });
    expect(s.drivers.map((d) => d.feature)).toEqual(['y', 'x', 'w', 'z']);
    const sum = s.drivers.reduce((a, d) => a + d.contribution, 0);
    expect(s.base_value + sum).toBeCloseTo(Math.log(s.churn_probability / (1 - s.churn_probability)), 9);
    expect(s.components.usage).toBe(Math.round(100 / (1 + Math.exp(1 - 0.3))));
    expect(s.components.support).toBe(Math.round(100 / (1 + Math.exp(-2))));
    expect(s.components.engagement).toBe(50);
    expect(topIndices([0.1, -5, 3, 0.2, -0.05, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 3)).toEqual([1, 2, 6]);
  });

  it('signs webhook bodies so that receivers can verify them and reject tampering or old timestamps', () => {
    const sig = signPayload('s3cret-s3cret-s3cret', '{"a":1}', 1_700_000_000);
    expect(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', sig, 1_700_000_010)).toBe(true);
    expect(verifySignature('s3cret-s3cret-s3cret', '{"a":2}', sig, 1_700_000_010)).toBe(false);
    expect(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', sig, 1_700_001_000)).toBe(false);
  });

  it('backs off exponentially up to the cap', () => {
    const a = parseServingConfig({ alerts: { backoff_base_seconds: 2, backoff_max_seconds: 60 } }).alerts;
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffSeconds(n, a))).toEqual([2, 4, 8, 16, 32, 60, 60]);
  });

  it('parses bootstrap keys and refuses malformed ones', () => {
    const [k] = parseBootstrapKeys('ops:long-enough-secret:score:read+models:admin');
    expect(k).toMatchObject({ name: 'ops', scopes: ['score:read', 'models:admin'] });
    expect(() => parseBootstrapKeys('ops:short:score:read')).toThrow(expect.objectContaining({ code: 'CHURN_ERR_CONFIG' }));
    expect(() => parseBootstrapKeys('ops:long-enough-secret:everything')).toThrow(expect.objectContaining({ code: 'CHURN_ERR_CONFIG' }));
    expect(prefixOf('chl_0123abcd_' + 'A'.repeat(43))).toBe('0123abcd');
    expect(prefixOf('something-else')).toBeNull();
  });
});
