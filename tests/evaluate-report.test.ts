import { describe, expect, it } from 'vitest';
import { ChurnError } from '../core/errors.ts';
import {
  bootstrapAucDifference, bootstrapCi, brier, ece, evaluate, EvaluationReportSchema, liftAt, mulberry32, prAuc, rocAuc,
} from '../training/evaluate.ts';

/** A seeded set with a real signal and plenty of tied scores (rounded to two decimals). */
function syntheticSet(n: number, seed: number): { y: number[]; p: number[]; segment: string[] } {
  const random = mulberry32(seed);
  const y: number[] = [];
  const p: number[] = [];
  const segment: string[] = [];
  for (let i = 0; i < n; i++) {
    const churned = random() < 0.25 ? 1 : 0;
    const raw = Math.min(1, Math.max(0, 0.25 + (churned ? 0.2 : -0.05) + (random() - 0.5) * 0.6));
    y.push(churned);
    p.push(Math.round(raw * 100) / 100);
    segment.push(['smb', 'mid', 'ent'][i % 3]);
  }
  return { y, p, segment };
}

// Independent plain-loop versions of the definitions in bench/peers.py.
function pairAuc(y: number[], p: number[]): number {
  let s = 0;
  let pairs = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < y.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      s += p[i] > p[j] ? 1 : p[i] === p[j] ? 0.5 : 0;
    }
  }
  return s / pairs;
}
function averagePrecision(y: number[], p: number[]): number {
  const thresholds = [...new Set(p)].sort((a, b) => b - a);
  const positives = y.filter((v) => v === 1).length;
  let ap = 0;
  let prevRecall = 0;
  for (const t of thresholds) {
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < y.length; i++) {
      if (p[i] < t) continue;
      if (y[i] === 1) tp++;
      else fp++;
    }
    const recall = tp / positives;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}
function liftTopDecile(y: number[], p: number[]): number {
  const k = Math.max(1, Math.round(y.length * 0.1)); // n is a multiple of 10 here, so no half-way rounding
  const idx = y.map((_, i) => i).sort((a, b) => p[b] - p[a] || a - b).slice(0, k);
  const top = idx.reduce((s, i) => s + y[i], 0) / k;
  return top / (y.reduce((a, b) => a + b, 0) / y.length);
}
function eceLoop(y: number[], p: number[], bins = 10): number {
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? 1 : i * (1 / bins)));
  let e = 0;
  for (let b = 0; b < bins; b++) {
    const lo = edges[b];
    const hi = edges[b + 1];
    const idx = p.map((_, i) => i).filter((i) => (hi < 1 ? p[i] >= lo && p[i] < hi : p[i] >= lo && p[i] <= hi));
    if (!idx.length) continue;
    const obs = idx.reduce((s, i) => s + y[i], 0) / idx.length;
    const pred = idx.reduce((s, i) => s + p[i], 0) / idx.length;
    e += (idx.length / y.length) * Math.abs(obs - pred);
  }
  return e;
}

describe('agreement with the peer-baseline definitions', () => {
  const { y, p } = syntheticSet(600, 7);
  it('matches plain-loop AUC, average precision, top-decile lift, Brier and ECE', () => {
    expect(rocAuc(y, p)).toBeCloseTo(pairAuc(y, p), 12);
    expect(prAuc(y, p)).toBeCloseTo(averagePrecision(y, p), 12);
    expect(liftAt(y, p, 0.1)).toBeCloseTo(liftTopDecile(y, p), 12);
    expect(brier(y, p)).toBeCloseTo(y.reduce((s, v, i) => s + (p[i] - v) ** 2, 0) / y.length, 12);
    expect(ece(y, p)).toBeCloseTo(eceLoop(y, p), 12);
  });
});

describe('bootstrapCi', () => {
  const { y, p } = syntheticSet(1000, 11);
  it('brackets the point estimate and repeats exactly for the same seed', () => {
    const a = bootstrapCi(y, p, 'auc', { n: 100, seed: 3 });
    expect(a.estimate).toBeCloseTo(rocAuc(y, p), 12);
    expect(a.lower).toBeLessThanOrEqual(a.estimate);
    expect(a.upper).toBeGreaterThanOrEqual(a.estimate);
    expect(a.upper - a.lower).toBeGreaterThan(0);
    expect(bootstrapCi(y, p, 'auc', { n: 100, seed: 3 })).toEqual(a);
    expect(bootstrapCi(y, p, 'auc', { n: 100, seed: 4 }).lower).not.toBe(a.lower);
  });
  it('gives the same interval on the sort-once path as on materialised resamples', () => {
    for (const [name, fn] of [['auc', rocAuc], ['prAuc', prAuc], ['brier', brier]] as const) {
      const fast = bootstrapCi(y, p, name, { n: 30, seed: 5 });
      const slow = bootstrapCi(y, p, fn, { n: 30, seed: 5 });
      expect(fast.lower).toBeCloseTo(slow.lower, 10);
      expect(fast.upper).toBeCloseTo(slow.upper, 10);
    }
  });
  it('widens as alpha shrinks', () => {
    const wide = bootstrapCi(y, p, 'lift10', { n: 100, seed: 1, alpha: 0.01 });
    const narrow = bootstrapCi(y, p, 'lift10', { n: 100, seed: 1, alpha: 0.5 });
    expect(wide.upper - wide.lower).toBeGreaterThan(narrow.upper - narrow.lower);
  });
});

describe('bootstrapAucDifference', () => {
  const { y, p } = syntheticSet(1000, 11);
  const random = mulberry32(5);
  // the same ranking with a little noise: a close second model
  const close = p.map((v) => v + (random() - 0.5) * 0.05);
  const blind = p.map(() => random());

  it('estimates AUC(a) - AUC(b) on all rows and brackets it, the same for the same seed', () => {
    const d = bootstrapAucDifference(y, p, close, { n: 200, seed: 3 });
    expect(d.estimate).toBeCloseTo(rocAuc(y, p) - rocAuc(y, close), 12);
    expect(d.lower).toBeLessThanOrEqual(d.estimate);
    expect(d.upper).toBeGreaterThanOrEqual(d.estimate);
    expect(bootstrapAucDifference(y, p, close, { n: 200, seed: 3 })).toEqual(d);
    expect(bootstrapAucDifference(y, close, p, { n: 200, seed: 3 }).estimate).toBeCloseTo(-d.estimate, 12);
  });

  it('is zero for the same scores and pairs the rows: far narrower than either model\'s own interval', () => {
    const same = bootstrapAucDifference(y, p, p, { n: 100, seed: 1 });
    expect([same.lower, same.estimate, same.upper]).toEqual([0, 0, 0]);
    const d = bootstrapAucDifference(y, p, close, { n: 400, seed: 2 });
    const own = bootstrapCi(y, p, 'auc', { n: 400, seed: 2 });
    // unpaired, the difference of two such AUCs would spread about sqrt(2) times one model's interval
    expect(d.upper - d.lower).toBeLessThan((own.upper - own.lower) / 3);
  });

  it('excludes zero when one model has the signal and the other none', () => {
    const d = bootstrapAucDifference(y, p, blind, { n: 200, seed: 4 });
    expect(d.estimate).toBeGreaterThan(0.2);
    expect(d.lower).toBeGreaterThan(0.1);
  });

  it('rejects scores of other rows', () => {
    expect(() => bootstrapAucDifference(y, p, p.slice(1))).toThrow(/differ in length/);
  });
});

describe('evaluate', () => {
  const { y, p, segment } = syntheticSet(900, 21);
  it('returns a JSON-serialisable report that its schema accepts, agreeing with each metric', () => {
    const report = evaluate(y, p, { segments: segment, bootstrap: 50, seed: 9 });
    const parsed = EvaluationReportSchema.parse(JSON.parse(JSON.stringify(report)));
    expect(parsed).toEqual(report);
    expect(report.n).toBe(900);
    expect(report.auc).toBe(rocAuc(y, p));
    expect(report.prAuc).toBe(prAuc(y, p));
    expect(report.lift10).toBe(liftAt(y, p, 0.1));
    expect(report.ece).toBeCloseTo(ece(y, p), 12);
    expect(report.ci?.auc.lower).toBeLessThanOrEqual(report.auc);
    expect(report.ci?.lift10.upper).toBeGreaterThanOrEqual(report.lift10);
    expect(report.reliability.reduce((s, b) => s + b.count, 0)).toBe(900);
    const { tp, fp, tn, fn } = report.operatingPoint;
    expect(tp + fp + tn + fn).toBe(900);
    expect(report.operatingPoint.method).toBe('max_f1');
  });
  it('breaks results down per segment', () => {
    const report = evaluate(y, p, { segments: segment, bootstrap: 0 });
    expect(Object.keys(report.perSegment)).toEqual(['ent', 'mid', 'smb']);
    const smb = segment.map((s, i) => (s === 'smb' ? i : -1)).filter((i) => i >= 0);
    expect(report.perSegment.smb.n).toBe(smb.length);
    expect(report.perSegment.smb.auc).toBeCloseTo(pairAuc(smb.map((i) => y[i]), smb.map((i) => p[i])), 12);
    expect(report.ci).toBeNull();
  });
  it('gives a null AUC for a segment with a single class', () => {
    const report = evaluate([0, 1, 0, 0], [0.1, 0.9, 0.2, 0.3], { segments: ['a', 'a', 'b', 'b'], bootstrap: 0 });
    expect(report.perSegment.b).toEqual({ n: 2, churnRate: 0, meanPredicted: 0.25, auc: null });
  });
  it('uses a fixed threshold when given one', () => {
    const report = evaluate(y, p, { threshold: 0.5, bootstrap: 0 });
    expect(report.operatingPoint.method).toBe('fixed');
    expect(report.operatingPoint.tp + report.operatingPoint.fp).toBe(p.filter((v) => v >= 0.5).length);
  });
  it('refuses rows with a single class with CHURN_ERR_NOT_ENOUGH_DATA', () => {
    expect(() => evaluate([0, 0, 0], [0.1, 0.2, 0.3])).toThrow(ChurnError);
    try {
      evaluate([1, 1], [0.1, 0.2]);
    } catch (err) {
      expect((err as ChurnError).code).toBe('CHURN_ERR_NOT_ENOUGH_DATA');
      expect((err as ChurnError).message).toMatch(/both churners and retained/);
    }
    expect.assertions(3);
  });
});
