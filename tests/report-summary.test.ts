/**
 * The report agrees with itself: headline and decile table count the same rows, the previous model is
 * the one promoted before, the summary's money and actions come from the data, and the charts are
 * readable (labels, scaled axes, contrast).
 */
import { describe, expect, it } from 'vitest';
import { ChurnError } from '../core/errors.ts';
import { loadCatalog } from '../features/catalog.ts';
import { binLabel } from '../jobs/report/charts.ts';
import { buildReportData } from '../jobs/report/data.ts';
import { previousOf } from '../jobs/report/job.ts';
import { calibrationBinCount, quantileCalibration, riskDeciles } from '../jobs/report/ranking.ts';
import { renderReportHtml } from '../jobs/report/render.ts';
import { blend, COLORS, contrastRatio, textOn } from '../jobs/report/svg.ts';
import type { AliasMove } from '../training/registry/types.ts';
import { evaluate, mulberry32 } from '../training/evaluate.ts';
import { FIXTURE_REVENUE, reportInputs } from './report-fixture.ts';

const move = (fromVersion: number | null, toVersion: number): AliasMove => ({ alias: 'champion', fromVersion, toVersion, movedAt: '2026-11-01T00:00:00.000Z', movedBy: 'test', reason: null });

/** Cell texts of the first table after `marker` in the HTML, per row. */
function tableAfter(html: string, marker: string): string[][] {
  const at = html.indexOf(marker);
  const body = html.slice(at, html.indexOf('</table>', at));
  return [...body.matchAll(/<tr>(.*?)<\/tr>/g)].map((r) => [...r[1].matchAll(/<td>(.*?)<\/td>/g)].map((c) => c[1].replace(/<[^>]+>/g, '')));
}

describe('the previous model', () => {
  // newest first: v2 -> v3 -> rolled back to v2; v1 was the first champion
  const moves = [move(3, 2), move(2, 3), move(1, 2), move(null, 1)];

  it('is the champion promoted before this one first was, never a newer version', () => {
    expect(previousOf(moves, 2)).toBe(1); // not v3, which the rollback moved away from
    expect(previousOf(moves, 3)).toBe(2);
    expect(previousOf(moves, 1)).toBeNull();
  });

  it('is the latest older champion for a version never promoted', () => {
    expect(previousOf(moves, 4)).toBe(2);
    expect(previousOf([move(null, 5)], 4)).toBeNull(); // v5 is newer than v4: no previous model
  });
});

describe('headline and decile table', () => {
  // 687 rows (10% is 68.7: 69 rows) with heavily tied scores (two decimals), as the demo data has
  const random = mulberry32(9);
  const base = reportInputs({ n: 687, seed: 9 });
  const p = base.p.map((v) => Math.round(v * 20) / 20);
  const data = buildReportData({ ...base, p, previous: { version: 6, p: base.previous!.p.map((v) => Math.round(v * 10) / 10) }, months: base.months.map(() => (random() < 0.5 ? '2026-05' : '2026-06')) });
  const html = renderReportHtml(data);

  it('count the same rows: the riskiest 10% is decile 1, the riskiest 20% deciles 1 and 2', () => {
    const d = data.metrics.deciles;
    expect(d.map((r) => r.n).reduce((a, b) => a + b, 0)).toBe(687);
    expect(d[0].n).toBe(69);
    const headline = /riskiest 10% of accounts \((\d+) of 687\) contain (\d+)% of the customers who churned \((\d+) of (\d+)\)/.exec(html)!;
    const rows = tableAfter(html, '<th>Risk decile</th>');
    expect(rows).toHaveLength(10);
    expect(Number(headline[1])).toBe(Number(rows[0][1])); // accounts
    expect(Number(headline[3])).toBe(Number(rows[0][2])); // churners
    expect(rows[0][6]).toBe(`${headline[2]}% (${headline[3]})`); // churners caught so far
    expect(Number(headline[4])).toBe(data.metrics.positives);
    const twenty = /Its riskiest 20% contain (\d+)%/.exec(html)!;
    expect(rows[1][6].startsWith(`${twenty[1]}%`)).toBe(true);
    // the same numbers as the evaluation module computes for the registry
    const reference = evaluate(base.y, p, { bootstrap: 0 });
    expect(data.metrics.capture10).toBe(reference.capture10);
    expect(data.metrics.capture20).toBe(reference.capture20);
    expect(data.metrics.lift10).toBeCloseTo(reference.lift10, 12);
    expect(d[0].cumulativeCapture).toBe(reference.capture10);
    expect(d[1].cumulativeCapture).toBe(reference.capture20);
    // ties are split in row order, so the deciles never depend on the sort's mood
    expect(riskDeciles(base.y, p)).toEqual(d);
  });

  it('the summary table and the comparison table read the same deciles for every ranking', () => {
    const caught = tableAfter(html, '<th>Ranking</th>');
    const pct = (v: number) => `${Math.round(v * 100)}%`;
    expect(caught[0][1]).toBe(`${pct(data.metrics.deciles[0].cumulativeCapture)} ${data.metrics.deciles[0].cumulativeChurners} of ${data.metrics.positives}`);
    expect(caught[1][1].startsWith(pct(data.previous!.metrics.deciles[0].cumulativeCapture))).toBe(true);
    expect(caught[2][2].startsWith(pct(data.scorecard!.deciles[1].cumulativeCapture))).toBe(true);
  });
});

describe('the executive summary', () => {
  const data = buildReportData(reportInputs({ n: 900, seed: 2, shift: 0.6 }));
  const html = renderReportHtml(data);
  const summary = html.slice(html.indexOf('<section class="summary"'), html.indexOf('</section>', html.indexOf('<section class="summary"')));

  it('shows revenue at risk by tier, riskiest first, and the accounts to act on by action', () => {
    const rows = tableAfter(summary, '<th>Tier (latest score)</th>');
    // with the expected loss: each customer's MRR times its churn probability
    expect(rows).toEqual([
      ['critical', '18', '5,819', '1%', '2,100'],
      ['at risk', '137', '63,654', '11%', '4,700'],
      ['healthy', '1,045', '512,263', '88%', '2,570'],
      ['All customers', '1,200', '581,736', '100%', '9,370'],
    ]);
    expect(summary).toContain("expected loss: that MRR times the score's churn probability, summed");
    expect(FIXTURE_REVENUE.tiers.reduce((s, t) => s + t.expectedLoss!, 0)).toBeCloseTo(FIXTURE_REVENUE.expectedLoss!, 6);
    expect(FIXTURE_REVENUE.tiers.reduce((s, t) => s + t.mrr, 0)).toBe(FIXTURE_REVENUE.mrr);
    expect(summary).toContain('<b>rescue</b> 18 critical accounts (MRR 5,819)');
    expect(summary).toContain('<b>engage</b> 120 at risk accounts (MRR 50,000)');
    expect(summary.indexOf('18 critical')).toBeLessThan(summary.indexOf('1,045 healthy'));
    // a report written before the expected loss: the table as it was
    const { expectedLoss: _total, ...before } = FIXTURE_REVENUE;
    const oldHtml = renderReportHtml(buildReportData({ ...reportInputs({ n: 900, seed: 2, shift: 0.6 }), revenue: { ...before, tiers: before.tiers.map(({ expectedLoss: _t, ...t }) => t) } }));
    expect(tableAfter(oldHtml, '<th>Tier (latest score)</th>')).toEqual([
      ['critical', '18', '5,819', '1%'],
      ['at risk', '137', '63,654', '11%'],
      ['healthy', '1,045', '512,263', '88%'],
      ['All customers', '1,200', '581,736', '100%'],
    ]);
    expect(oldHtml).not.toContain('expected loss');
    const c = data.caught!;
    expect(summary).toContain(`the ${c.churners} churners paid MRR ${Math.round(c.churnedMrr).toLocaleString('en-US')}. The riskiest 10% held ${c.top10.churners} of them`);
  });

  it('says what changed since the last model and when outcomes become known', () => {
    expect(summary).toContain('follows v6 (trained 2026-10-20): on the same accounts it catches');
    // most moved first, by their catalogue labels
    expect(summary).toMatch(/2 of 4 inputs moved since training \(PSI 0\.1 or more\): Tickets, last 90 days \(\d+\.\d\d\) and Active days, last 28 \(\d+\.\d\d\)/);
    expect(summary).toContain("1,200 scores of 1,200 accounts by model v7 since deployment (2026-11-22 to 2026-11-23; each account's latest score of a month); outcomes are known after the 30-day horizon and a 14-day grace period: the first on 2027-01-05.".replace(/'/g, '&#39;'));
    expect(summary).not.toContain('0 known');
    expect(summary).toContain('Report generated 2026-11-23 08:00 UTC');
  });

  it('says so when no score is stored yet', () => {
    const bare = renderReportHtml(buildReportData({ ...reportInputs({ n: 300, seed: 3 }), revenue: null, deployment: null, mrr: null, previous: null }));
    expect(bare).toContain('No stored scores yet: run <code>churn score</code>');
    expect(bare).toContain('is the first champion');
    const incomparable = renderReportHtml(buildReportData({ ...reportInputs({ n: 300, seed: 3 }), previous: null, model: { ...reportInputs({ n: 10 }).model, previousChampion: 6 } }));
    expect(incomparable).toContain('follows v6, which cannot be compared on the same accounts');
  });

  it('is never dated before the model it reports', () => {
    const inputs = reportInputs({ n: 300, seed: 3 });
    let err: unknown;
    try {
      buildReportData({ ...inputs, generatedAt: '2026-11-19T00:00:00Z' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ChurnError);
    expect((err as ChurnError).code).toBe('CHURN_ERR_VALIDATION');
    expect((err as ChurnError).message).toContain('created later');
  });
});

describe('readable charts', () => {
  const data = buildReportData(reportInputs({ n: 1500, seed: 1, shift: 0.4, wide: true }));
  const html = renderReportHtml(data);
  const chart = (id: string) => html.slice(html.indexOf(`data-chart="${id}"`), html.indexOf('</svg>', html.indexOf(`data-chart="${id}"`)));
  const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>(.*?)<\/text>/g)].map((m) => m[1].replace(/<[^>]+>/g, ''));

  it('label features in plain words from the catalogue', () => {
    const catalog = loadCatalog();
    for (const f of catalog.features) expect(f.label, f.name).toMatch(/^[A-Z][^_]{1,31}$/);
    for (const id of ['importance', 'drift']) {
      for (const t of texts(chart(id))) expect(t, `${id}: ${t}`).not.toMatch(/[a-z]_[a-z]/);
    }
    expect(texts(chart('importance'))).toContain(catalog.byName.get(data.importance[0].feature)!.label);
    expect(html).not.toContain('ays_late_mean_180d<');
  });

  it('scale the churn-rate axes to the data', () => {
    const ticks = (svg: string) => [...svg.matchAll(/text-anchor="end" class="tick">([\d.]+)%</g)].map((m) => Number(m[1]) / 100);
    const worst = Math.max(...data.metrics.deciles.map((d) => d.churnRate));
    const top = Math.max(...ticks(chart('lift')));
    expect(top).toBeGreaterThanOrEqual(worst);
    expect(top).toBeLessThan(Math.min(1, worst * 1.6));
    const calTop = Math.max(...ticks(chart('reliability')));
    expect(calTop).toBeLessThan(Math.min(1, Math.max(...data.calibration.flatMap((b) => [b.meanPredicted, b.observedRate])) * 1.6));
  });

  it('bin calibration by quantile with enough accounts per bin, and label each bin', () => {
    expect(calibrationBinCount(687, 16)).toBe(3);
    expect(calibrationBinCount(100_000, 5_000)).toBe(10);
    expect(calibrationBinCount(50, 1)).toBe(2);
    const small = reportInputs({ n: 687, seed: 4 });
    const bins = quantileCalibration(small.y, small.p);
    const sizes = bins.map((b) => b.n);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(100);
    for (let i = 1; i < bins.length; i++) expect(bins[i].lower).toBeGreaterThanOrEqual(bins[i - 1].upper);
    const labels = texts(chart('reliability'));
    for (const b of data.calibration) expect(labels.some((l) => l.startsWith(binLabel(b).split('\n')[0]))).toBe(true);
    // a bin's two ends never read the same: decimals are added until they differ
    expect(binLabel({ lower: 0.004, upper: 0.012 })).toBe('0.4-\n1.2%');
    expect(binLabel({ lower: 0.016, upper: 0.95 })).toBe('1.6-\n95%');
    expect(binLabel({ lower: 0.0005, upper: 0.002 })).toBe('0.05-\n0.2%');
    expect(binLabel({ lower: 0.00004, upper: 0.0003 })).toBe('0.004-\n0.03%');
    expect(binLabel({ lower: 0, upper: 0.00004 })).toBe('0.0-\n0.004%');
    expect(binLabel({ lower: 0.0011, upper: 0.0014 })).toBe('0.11-\n0.14%');
  });

  it('use text colours that pass WCAG AA (4.5:1) on their backgrounds', () => {
    for (const ink of [COLORS.text, COLORS.muted, '#374151', '#4b5563', '#15803d', '#92400e', '#b91c1c']) {
      for (const paper of ['#ffffff', '#f3f4f6', '#f3f6fd']) expect(contrastRatio(ink, paper), `${ink} on ${paper}`).toBeGreaterThanOrEqual(4.5);
    }
    expect(contrastRatio(COLORS.text, '#fffbeb')).toBeGreaterThanOrEqual(4.5);
    // matrix cells: every shade of either colour gets the ink that contrasts enough
    for (const base of [COLORS.actual, COLORS.scorecard]) {
      for (let shade = 0.12; shade <= 0.9001; shade += 0.01) {
        const bg = blend(base, shade);
        expect(contrastRatio(textOn(bg), bg), `${base} at ${shade.toFixed(2)}`).toBeGreaterThanOrEqual(4.5);
      }
    }
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 6);
  });
});
