/**
 * Young accounts (tenure_days under 90) are explained against the typical retained account of their
 * age, not against established ones: real models trained on a table where new accounts lack what
 * established ones have (an invoice due), scored through the serving path.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { buildScore } from '../scoring/build-score.ts';
import { scoringModel, type ScoringModel } from '../scoring/model.ts';
import { describeSettings, parseArtifact, type ModelArtifact } from '../training/artifact.ts';
import { createRng } from '../training/models/network.ts';
import { syntheticTable } from '../training/synthetic.ts';
import { trainModel, YOUNG_BANDS_DAYS, type TrainOptions } from '../training/train.ts';
import type { PreparedTable } from '../training/table.ts';

const N = 900;
const base = syntheticTable({ rows: N, numeric: 4, text: 1, seed: 31 });
const rng = createRng(7);
// a third of the accounts are in their first 90 days; before day 60 they have no invoice due yet
const tenure = Array.from({ length: N }, (_, i) => (i % 3 === 0 ? Math.floor(rng() * 90) : 90 + Math.floor(rng() * 1500)));
const daysLate = tenure.map((t) => (t < 60 ? null : Math.floor(rng() * 4)));
const table: PreparedTable = {
  ...base,
  columns: [
    ...base.columns,
    { name: 'tenure_days', kind: 'numeric', values: tenure, family: 'commercial', unit: 'days' },
    { name: 'days_late_mean_180d', kind: 'numeric', values: daysLate, family: 'commercial', unit: 'days' },
  ],
};
const opts = (modelTypes: TrainOptions['modelTypes']): TrainOptions => ({ seed: 3, modelTypes, backend: 'cpu', epochs: 25, bootstrap: 20, calibrationFolds: 2, params: { logistic: { maxEpochs: 60 } } });
const rowOf = (i: number) => Object.fromEntries(table.columns.map((c) => [c.name, c.values[i]]));

describe('the young accounts\' references', () => {
  const models: Record<string, { artifact: ModelArtifact; model: ScoringModel }> = {};
  beforeAll(async () => {
    for (const type of ['logistic', 'gbdt'] as const) {
      const r = await trainModel(table, opts([type]));
      models[type] = { artifact: r.artifact, model: scoringModel(r.artifact, { version: 0 }) };
    }
  }, 120_000);

  it('are the typical retained training accounts in their first 30 and 90 days, missing where most of them miss a value', () => {
    for (const { artifact } of Object.values(models)) {
      const bands = artifact.young_references!;
      expect(bands.map((b) => b.max_tenure_days)).toEqual([...YOUNG_BANDS_DAYS]);
      expect(bands[0].rows).toBeGreaterThanOrEqual(30);
      expect(bands[1].rows).toBeGreaterThan(bands[0].rows);
      expect(bands[0].references.tenure_days as number).toBeLessThan(30);
      expect(bands[1].references.tenure_days as number).toBeLessThan(90);
      expect(bands[1].references.tenure_days as number).toBeGreaterThan(bands[0].references.tenure_days as number);
      // two thirds of the young accounts have no invoice due yet: typically missing for them
      for (const b of bands) expect(b.references.days_late_mean_180d).toBeNull();
      // while the common reference is the median of the values present
      expect(artifact.references.days_late_mean_180d).not.toBeNull();
    }
    for (const b of models.logistic.artifact.young_references!) expect(b.explanation_reference).toHaveLength(models.logistic.artifact.explanation_reference.length);
    // churn models show and the report say so
    for (const { artifact } of Object.values(models)) expect(describeSettings(artifact)).toMatch(/against the typical retained account \(accounts in their first 30 or 90 days against retained accounts of that age\)$/);
  });

  it('explain a young account against its band, additively, and an established one against the common reference', () => {
    const ids = [tenure.findIndex((t) => t < 20), tenure.findIndex((t) => t >= 35 && t < 55), tenure.findIndex((t) => t > 400)];
    for (const [type, { model }] of Object.entries(models)) {
      const score = (i: number) => buildScore({ model, config: DEFAULT_SERVING_CONFIG, accountId: String(i), asOf: '2026-10-01T00:00:00.000Z', row: rowOf(i), segment: { accountSegment: null, tenureDays: tenure[i] }, top: 'all' });
      const [first, second, old] = ids.map(score);
      const logit = (p: number) => Math.log(p / (1 - p));
      for (const s of [first, second, old]) expect(Math.abs(s.base_value + s.drivers.reduce((a, d) => a + d.contribution, 0) - logit(s.churn_probability)), type).toBeLessThan(1e-6);
      expect(new Set([first, second, old].map((s) => s.base_value.toFixed(6))).size, type).toBe(3);
      const driver = (s: typeof old, f: string) => s.drivers.find((d) => d.feature === f)!;
      // no invoice due yet is what a young account typically has: it neither raises nor lowers the risk
      expect(driver(first, 'days_late_mean_180d'), type).toMatchObject({ value: null, reference: null, contribution: 0 });
      const t = model.featureNames.indexOf('tenure_days');
      expect(driver(first, 'tenure_days').reference, type).toBe(model.youngBands[0].references[t]);
      expect(driver(first, 'tenure_days').description, type).toMatch(/; typical retained account in its first 30 days: \d+$/);
      expect(driver(second, 'tenure_days').reference, type).toBe(model.youngBands[1].references[t]);
      expect(driver(second, 'tenure_days').description, type).toMatch(/; typical retained account in its first 90 days: \d+$/);
      const late = driver(old, 'days_late_mean_180d');
      expect(late.reference, type).toBe(model.references[model.featureNames.indexOf('days_late_mean_180d')]);
      expect(late.description, type).toMatch(/; typical retained account: /);
    }
  });

  it('are left out without a tenure_days feature, and must be in order and match a network\'s inputs', async () => {
    const r = await trainModel(base, opts(['logistic']));
    expect(r.artifact.young_references).toBeUndefined();
    expect(describeSettings(r.artifact)).toMatch(/explained against the typical retained account$/);
    expect(scoringModel(r.artifact, { version: 0 }).youngBands).toEqual([]);
    const a = models.logistic.artifact;
    expect(() => parseArtifact({ ...a, young_references: [{ ...a.young_references![0], explanation_reference: [0, 1] }] })).toThrow(/young accounts' reference \(first 30 days\) has 2 encoded inputs/);
    expect(() => parseArtifact({ ...a, young_references: [...a.young_references!].reverse() })).toThrow(/out of order/);
  });
});
