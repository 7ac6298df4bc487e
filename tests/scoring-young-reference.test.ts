/**
 * Young accounts (tenure_days under 90) are explained against the typical retained account of their
 * age, not against established ones: real models trained on a table where new accounts lack what
 * established ones have (an invoice due), scored through the serving path.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { buildScore } from '../scoring/build-score.ts';
import { scoringModel, type ScoringModel } from '../scoring/model.ts';
import { parseArtifact, type ModelArtifact } from '../training/artifact.ts';
import { createRng } from '../training/models/network.ts';
import { syntheticTable } from '../training/synthetic.ts';
import { trainModel, YOUNG_MAX_TENURE_DAYS, type TrainOptions } from '../training/train.ts';
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

describe('the young accounts\' reference', () => {
  const models: Record<string, { artifact: ModelArtifact; model: ScoringModel }> = {};
  beforeAll(async () => {
    for (const type of ['logistic', 'gbdt'] as const) {
      const r = await trainModel(table, opts([type]));
      models[type] = { artifact: r.artifact, model: scoringModel(r.artifact, { version: 0 }) };
    }
  }, 120_000);

  it('is the typical retained training account in its first 90 days, missing where most of them miss a value', () => {
    for (const { artifact } of Object.values(models)) {
      const young = artifact.young_reference!;
      expect(young.max_tenure_days).toBe(YOUNG_MAX_TENURE_DAYS);
      expect(young.rows).toBeGreaterThanOrEqual(30);
      expect(young.references.tenure_days as number).toBeLessThan(90);
      // two thirds of the young accounts have no invoice due yet: typically missing for them
      expect(young.references.days_late_mean_180d).toBeNull();
      // while the common reference is the median of the values present
      expect(artifact.references.days_late_mean_180d).not.toBeNull();
    }
    expect(models.logistic.artifact.young_reference!.explanation_reference).toHaveLength(models.logistic.artifact.explanation_reference.length);
  });

  it('explains a young account against it, additively, and an established one against the common reference', () => {
    const young = tenure.findIndex((t) => t < 60);
    const old = tenure.findIndex((t) => t > 400);
    for (const [type, { model }] of Object.entries(models)) {
      const score = (i: number) => buildScore({ model, config: DEFAULT_SERVING_CONFIG, accountId: String(i), asOf: '2026-10-01T00:00:00.000Z', row: rowOf(i), segment: { accountSegment: null, tenureDays: tenure[i] }, top: 'all' });
      const y = score(young);
      const o = score(old);
      const logit = (p: number) => Math.log(p / (1 - p));
      for (const s of [y, o]) expect(Math.abs(s.base_value + s.drivers.reduce((a, d) => a + d.contribution, 0) - logit(s.churn_probability)), type).toBeLessThan(1e-6);
      expect(y.base_value, type).not.toBeCloseTo(o.base_value, 6);
      const late = (s: typeof y) => s.drivers.find((d) => d.feature === 'days_late_mean_180d')!;
      // no invoice due yet is what a young account typically has: it neither raises nor lowers the risk
      expect(late(y), type).toMatchObject({ value: null, reference: null, contribution: 0 });
      const tenureDriver = y.drivers.find((d) => d.feature === 'tenure_days')!;
      expect(tenureDriver.reference, type).toBe(model.young!.references[model.featureNames.indexOf('tenure_days')]);
      expect(tenureDriver.description, type).toMatch(/; typical retained account in its first 90 days: \d+$/);
      expect(late(o).reference, type).toBe(model.references[model.featureNames.indexOf('days_late_mean_180d')]);
      expect(late(o).description, type).toMatch(/; typical retained account: /);
      expect(late(o).description, type).not.toContain('first 90 days');
    }
  });

  it('is left out without a tenure_days feature, and a network\'s must match its inputs', async () => {
    const r = await trainModel(base, opts(['logistic']));
    expect(r.artifact.young_reference).toBeUndefined();
    expect(scoringModel(r.artifact, { version: 0 }).young).toBeNull();
    const broken = { ...models.logistic.artifact, young_reference: { ...models.logistic.artifact.young_reference!, explanation_reference: [0, 1] } };
    expect(() => parseArtifact(broken)).toThrow(/young accounts' reference has 2 encoded inputs/);
  });
});
