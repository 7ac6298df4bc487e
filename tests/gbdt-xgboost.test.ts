import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compileGbdt, createTreeExplainer, encodeRow, gbdtFromXgboost, parseGbdtModel, parseXgboostJson, predictMargin,
} from '../training/models/gbdt/index.ts';

// made by tests/fixtures/xgboost/make-fixture.py (Debian python3-xgboost); committed so no Python is needed here
const dir = path.join(import.meta.dirname, 'fixtures', 'xgboost');
const modelText = fs.readFileSync(path.join(dir, 'model.json'), 'utf8');
const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as {
  xgboost_version: string; feature_names: string[]; categories: Record<string, string[]>;
  rows: (number | string | null)[][]; margin: number[]; contribs: number[][];
  unseen_rows: (number | string | null)[][]; unseen_margin: number[]; unseen_contribs: number[][];
};

describe('XGBoost JSON models', () => {
  const model = gbdtFromXgboost(parseXgboostJson(modelText), { categories: expected.categories });
  const compiled = compileGbdt(model);

  it('reads the fixture: features, kinds, 50 trees, base score as a margin', () => {
    expect(model.features.map((f) => f.name)).toEqual(expected.feature_names);
    expect(model.features.map((f) => f.kind)).toEqual([...new Array(7).fill('numeric'), 'categorical']);
    expect(model.trees.length).toBe(50);
    expect(model.source).toBe('xgboost');
    expect(model.trees.some((t) => t.categories.some((set) => set.length > 0))).toBe(true);
    expect(expected.rows.length).toBe(200);
    expect(expected.rows.some((r) => r.includes(null))).toBe(true);
  });

  it("reproduces XGBoost's predict(output_margin=True) within 1e-5 on 200 rows with blanks and categories", () => {
    expected.rows.forEach((row, i) => expect(Math.abs(predictMargin(compiled, row) - expected.margin[i])).toBeLessThan(1e-5));
  });

  it("reproduces XGBoost's pred_contribs (contributions and bias) within 1e-5 with our TreeSHAP", () => {
    const explainer = createTreeExplainer(compiled);
    const d = expected.feature_names.length;
    const x = new Float64Array(d);
    const out = new Float64Array(d);
    expected.rows.forEach((row, i) => {
      const margin = explainer.explain(encodeRow(compiled, row, x), out);
      const want = expected.contribs[i];
      for (let j = 0; j < d; j++) expect(Math.abs(out[j] - want[j])).toBeLessThan(1e-5);
      expect(Math.abs(explainer.baseValue - want[d])).toBeLessThan(1e-5);
      expect(Math.abs(out.reduce((a, b) => a + b, explainer.baseValue) - margin)).toBeLessThan(1e-9);
    });
  });

  it('round-trips the imported model through JSON and scores rows given as objects the same', () => {
    const again = compileGbdt(JSON.parse(JSON.stringify(model)));
    expected.rows.slice(0, 20).forEach((row) => {
      const byName = Object.fromEntries(expected.feature_names.map((f, j) => [f, row[j]]));
      expect(predictMargin(again, byName)).toBe(predictMargin(compiled, row));
    });
  });

  it('sends a category the model never saw where XGBoost sends it (outside every set), margin and contributions', () => {
    const explainer = createTreeExplainer(compiled);
    const d = expected.feature_names.length;
    const x = new Float64Array(d);
    const out = new Float64Array(d);
    expect(expected.unseen_rows.every((r) => r[d - 1] === 'unseen')).toBe(true);
    expected.unseen_rows.forEach((row, i) => {
      expect(Math.abs(explainer.explain(encodeRow(compiled, row, x), out) - expected.unseen_margin[i])).toBeLessThan(1e-5);
      for (let j = 0; j < d; j++) expect(Math.abs(out[j] - expected.unseen_contribs[i][j])).toBeLessThan(1e-5);
    });
  });

  it('reads NaN and Infinity tokens, and refuses unsupported objectives and boosters', () => {
    expect(parseXgboostJson('{"a": [NaN, 1, -Infinity], "b": "NaN, Infinity"}')).toEqual({ a: [null, 1, null], b: 'NaN, Infinity' });
    const doc = parseXgboostJson(modelText) as { learner: { objective: { name: string }; gradient_booster: { name: string } } };
    const err = expect.objectContaining({ code: 'CHURN_ERR_VALIDATION' });
    expect(() => gbdtFromXgboost({ ...doc, learner: { ...doc.learner, objective: { name: 'reg:squarederror' } } })).toThrow(err);
    expect(() => gbdtFromXgboost({ ...doc, learner: { ...doc.learner, gradient_booster: { ...doc.learner.gradient_booster, name: 'dart' } } })).toThrow(err);
    expect(() => gbdtFromXgboost({ nothing: true })).toThrow(err);
    expect(() => gbdtFromXgboost(doc, { featureNames: ['only', 'two'] })).toThrow(err);
  });

  it('refuses a corrupted model with CHURN_ERR_ARTIFACT_CORRUPT', () => {
    const copy = JSON.parse(JSON.stringify(model));
    copy.trees[3].left[0] = 10_000;
    expect(() => parseGbdtModel(copy)).toThrow(expect.objectContaining({ code: 'CHURN_ERR_ARTIFACT_CORRUPT' }));
    const cyclic = JSON.parse(JSON.stringify(model));
    cyclic.trees[0].left[cyclic.trees[0].left[0]] = 0;
    expect(() => compileGbdt(cyclic)).toThrow(expect.objectContaining({ code: 'CHURN_ERR_ARTIFACT_CORRUPT' }));
    expect(() => compileGbdt({ ...model, format: 'other' })).toThrow(expect.objectContaining({ code: 'CHURN_ERR_ARTIFACT_CORRUPT' }));
  });
});
