import { describe, expect, it } from 'vitest';
import { ChurnError } from '../core/errors.ts';
import { evaluate, type EvaluationReport } from '../training/evaluate.ts';
import { riskDeciles } from '../jobs/report/ranking.ts';
import { buildReportData, parseReportData, ReportDataSchema } from '../jobs/report/data.ts';
import { psi, psiStatus, PSI_EPSILON } from '../jobs/report/psi.ts';
import { renderReportHtml, renderReportJson } from '../jobs/report/render.ts';
import { MIN_CHURNERS_FOR_AUC } from '../jobs/report/data.ts';
import { FIXTURE_FEATURES, reportInputs } from './report-fixture.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ChurnError ? err.code : `not a ChurnError: ${String(err)}`;
  }
  return undefined;
}

describe('psi', () => {
  it('is zero for identical samples', () => {
    const xs = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, null];
    expect(psi(xs, [...xs])).toBe(0);
    expect(psi(['a', 'b', 'a', null], ['a', 'b', 'a', null])).toBe(0);
  });
  it('uses quantile bins of the expected sample, a bin for nulls and epsilon for empty bins', () => {
    // expected 1..10, 2 bins: cut at the median 5.5 -> shares .5 / .5, nulls 0 (-> epsilon)
    const expected = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const actual = [1, 1, 1, 1, 1, 1, 1, 1, 9, null];
    const want = (0.8 - 0.5) * Math.log(0.8 / 0.5) + (0.1 - 0.5) * Math.log(0.1 / 0.5) + (0.1 - PSI_EPSILON) * Math.log(0.1 / PSI_EPSILON);
    expect(psi(expected, actual, 2)).toBeCloseTo(want, 12);
  });
  it('puts unseen categories of a text feature in their own bin', () => {
    expect(psi(['a', 'a', 'b', 'b'], ['a', 'a', 'b', 'c'])).toBeGreaterThan(0.5);
  });
  it('maps values to ok, warn and alert at 0.1 and 0.25', () => {
    expect([0, 0.099, 0.1, 0.249, 0.25, 3].map(psiStatus)).toEqual(['ok', 'ok', 'warn', 'warn', 'alert', 'alert']);
  });
});

describe('buildReportData', () => {
  const inputs = reportInputs({ n: 1200, seed: 4 });
  const data = buildReportData(inputs);
  const opts = { ...inputs.evaluateOptions, segments: inputs.segments };

  it('takes every accuracy number from the evaluation module for the same rows, deciles from the report ranking', () => {
    const decileFree = (m: EvaluationReport) => ({ ...m, deciles: [] });
    expect(decileFree(data.metrics)).toEqual(decileFree(evaluate(inputs.y, inputs.p, opts)));
    expect(decileFree(data.previous!.metrics)).toEqual(decileFree(evaluate(inputs.y, inputs.previous!.p, opts)));
    expect(decileFree(data.scorecard!)).toEqual(decileFree(evaluate(inputs.y, inputs.scorecardP!, opts)));
    expect(data.metrics.deciles).toEqual(riskDeciles(inputs.y, inputs.p));
    expect(data.segments.map((s) => s.segment)).toEqual(Object.keys(data.metrics.perSegment));
  });

  it('shows no drift against the training snapshot itself and large drift on a shifted one', () => {
    expect(data.drift.map((d) => d.psi)).toEqual([0, 0, 0, 0]);
    expect(data.drift.every((d) => d.status === 'ok')).toBe(true);
    const shifted = buildReportData(reportInputs({ n: 1200, seed: 4, shift: 0.6 }));
    const byName = Object.fromEntries(shifted.drift.map((d) => [d.feature, d]));
    expect(byName.active_days_28d.status).toBe('alert');
    expect(byName.tickets_90d.status).toBe('alert');
    expect(byName.plan.psi).toBeLessThan(0.1);
    // one warning names the strongly moved features by their labels, not one warning per feature
    expect(shifted.warnings.filter((w) => w.includes('shifted strongly since training'))).toHaveLength(1);
    expect(shifted.warnings.some((w) => /2 of 4 input features shifted strongly since training \(PSI 0\.25 or more\): Tickets, last 90 days \(\d+\.\d\d\) and Active days, last 28/.test(w))).toBe(true);
    expect(shifted.labels).toEqual({ active_days_28d: 'Active days, last 28', tickets_90d: 'Tickets, last 90 days', seats_used_ratio: 'Seats used ratio', plan: 'Plan' });
  });

  it('warns that the figures are a first look when the evaluated rows hold fewer than 10 churners', () => {
    expect(data.metrics.positives).toBeGreaterThanOrEqual(MIN_CHURNERS_FOR_AUC);
    expect(data.warnings.filter((w) => w.startsWith('Only '))).toEqual([]);
    const few = buildReportData({ ...reportInputs({ n: 24, seed: 4 }), evaluateOptions: { bootstrap: 50, seed: 1 } });
    expect(few.metrics.positives).toBeGreaterThan(0);
    expect(few.metrics.positives).toBeLessThan(MIN_CHURNERS_FOR_AUC);
    expect(few.warnings).toContain(`Only ${few.metrics.positives} of the 24 evaluated accounts churned: with so few, one account moves every figure here a long way `
      + `(the AUC's 95% interval runs from ${few.metrics.ci!.auc.lower.toFixed(2)} to ${few.metrics.ci!.auc.upper.toFixed(2)}); read them as a first look, not a verdict.`);
    expect(renderReportHtml(few)).toContain(`Only ${few.metrics.positives} of the 24 evaluated accounts churned`);
  });

  it('orders tiers as configured and reports their predicted and actual rates', () => {
    expect(data.tiers.map((t) => t.tier)).toEqual(['healthy', 'at_risk', 'critical']);
    expect(data.tiers.reduce((s, t) => s + t.n, 0)).toBe(1200);
    const critical = inputs.tiers.map((t, i) => (t === 'critical' ? i : -1)).filter((i) => i >= 0);
    const tier = data.tiers[2];
    expect(tier.actualRate).toBeCloseTo(critical.reduce((s, i) => s + inputs.y[i], 0) / critical.length, 12);
    expect(tier.predictedMean).toBeCloseTo(critical.reduce((s, i) => s + inputs.p[i], 0) / critical.length, 12);
  });

  it('keeps the last months of the backtest in order', () => {
    expect(data.backtest.map((b) => b.month)).toEqual(['2026-04', '2026-05', '2026-06', '2026-07', '2026-08', '2026-09']);
    const short = buildReportData({ ...inputs, backtestMonths: 3 });
    expect(short.backtest.map((b) => b.month)).toEqual(['2026-07', '2026-08', '2026-09']);
  });

  it('ranks features by mean absolute contribution', () => {
    const means = FIXTURE_FEATURES.map((f, j) => ({ f: f.name, v: inputs.contributions.reduce((s, r) => s + Math.abs(r[j]), 0) / 1200 }));
    means.sort((a, b) => b.v - a.v);
    expect(data.importance.map((i) => i.feature)).toEqual(means.map((m) => m.f));
    expect(data.importance[0].meanAbsContribution).toBeCloseTo(means[0].v, 12);
  });

  it('rejects arrays of different lengths with CHURN_ERR_VALIDATION', () => {
    expect(codeOf(() => buildReportData({ ...inputs, months: inputs.months.slice(1) }))).toBe('CHURN_ERR_VALIDATION');
    expect(codeOf(() => buildReportData({ ...inputs, latestFeatures: inputs.latestFeatures.map((r) => r.slice(1)) }))).toBe('CHURN_ERR_VALIDATION');
  });

  it('round-trips through its JSON twin and schema', () => {
    const json = renderReportJson(data);
    expect(parseReportData(JSON.parse(json))).toEqual(data);
    expect(ReportDataSchema.safeParse({ ...data, schemaVersion: 1 }).success).toBe(false);
    expect(codeOf(() => parseReportData({ ...data, metrics: { ...data.metrics, auc: 2 } }))).toBe('CHURN_ERR_VALIDATION');
  });
});

describe('renderReportHtml', () => {
  const data = buildReportData(reportInputs({ n: 900, seed: 2 }));
  const html = renderReportHtml(data);

  it('states the headline numbers from the evaluation reports in plain words', () => {
    const pct = (v: number) => `${Math.round(v * 100)}%`;
    const d1 = data.metrics.deciles[0];
    expect(html).toContain(`riskiest 10% of accounts (${d1.n} of 900) contain ${pct(data.metrics.capture10)} of the customers who churned (${d1.churners} of ${data.metrics.positives}), against ${pct(data.scorecard!.capture10)} for the weighted scorecard and ${pct(data.previous!.metrics.capture10)} for the previous model (v6)`);
    expect(html).toContain(`Its riskiest 20% contain ${pct(data.metrics.capture20)}`);
    expect(html).toContain(data.metrics.auc.toFixed(3));
  });

  it('is self-contained: no scripts, no external resources, print styles included', () => {
    expect(html).not.toMatch(/<script|<link|<img|<iframe|src=|href=|url\(|@import|https?:\/\//i);
    expect(html).toContain('@media print');
    const charts = [...html.matchAll(/<svg [^>]*data-chart="([a-z-]+)"[^>]*><title[^>]*>[^<]+<\/title>/g)].map((m) => m[1]);
    expect(charts.sort()).toEqual(['backtest', 'confusion', 'drift', 'gains', 'importance', 'lift', 'reliability', 'roc', 'tiers']);
    expect(html).toContain('@page{size:A4');
  });

  it('escapes text that comes from data', () => {
    const hostile = buildReportData({ ...reportInputs({ n: 300, seed: 3 }), model: { ...data.model, modelType: '<script>alert(1)</script>', evaluatedOn: 'a & b' } });
    const out = renderReportHtml(hostile);
    expect(out).not.toContain('<script>');
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out).toContain('a &amp; b');
  });

  it('shows a segment\'s or a month\'s AUC only where enough accounts churned to judge it', () => {
    const few = { segment: 'enterprise', n: 158, churnRate: 1 / 158, predictedMean: 0.007, auc: 1 };
    const many = { segment: 'smb', n: 940, churnRate: 20 / 940, predictedMean: 0.021, auc: 0.8284 };
    const out = renderReportHtml({ ...data, segments: [few, many], backtest: [{ month: '2026-09', n: 400, predictedMean: 0.02, actualRate: 3 / 400, auc: 0.9 }] });
    expect(out).toContain('<td>enterprise</td><td>158</td><td>1</td>');
    expect(out).toContain('too few churners (1)');
    expect(out).not.toContain('>1.000<');
    expect(out).toContain('>0.828<');
    expect(out).toContain('too few churners (3)');
    expect(out).toContain(`AUC is shown where at least ${MIN_CHURNERS_FOR_AUC} accounts churned`);
    // with enough churners everywhere, no note
    expect(renderReportHtml({ ...data, segments: [many], backtest: [] })).not.toContain('AUC is shown where');
  });

  it('renders without a previous model or scorecard', () => {
    const inputs = reportInputs({ n: 400, seed: 5 });
    const out = renderReportHtml(buildReportData({ ...inputs, previous: null, scorecardP: null }));
    expect(out).toMatch(/contain \d+% of the customers who churned \(\d+ of \d+\)\./);
    expect(out).toContain('is the first champion: there is no earlier model to compare with');
    expect(out).not.toContain('weighted scorecard');
  });
});
