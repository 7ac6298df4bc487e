import { describe, expect, it } from 'vitest';
import { ChurnError } from '../core/errors.ts';
import {
  brier, captureAt, chooseThreshold, confusionAt, ece, eceNoiseFloor, liftAt, liftByDecile, prAuc, prCurve, reliabilityTable, rocAuc, rocCurve,
} from '../training/evaluate.ts';
import { topCount } from '../training/metrics/ranked.ts';

function expectChurnError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ChurnError);
    expect((err as ChurnError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe('rocAuc', () => {
  it('counts the share of churner/retained pairs ranked correctly', () => {
    // pairs (pos, neg): (0.35, 0.1) ok, (0.35, 0.4) wrong, (0.8, 0.1) ok, (0.8, 0.4) ok -> 3/4
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 12);
  });
  it('counts a tied pair as one half', () => {
    // (0.5 vs 0.5) 0.5, (0.5 vs 0.2) 1, (0.9 vs 0.5) 1, (0.9 vs 0.2) 1 -> 3.5/4
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])).toBeCloseTo(0.875, 12);
    expect(rocAuc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3])).toBeCloseTo(0.5, 12);
  });
  it('is 1 for a perfect ranking and 0 for a reversed one', () => {
    expect(rocAuc([0, 0, 1], [0.1, 0.2, 0.9])).toBe(1);
    expect(rocAuc([1, 0, 0], [0.1, 0.2, 0.9])).toBe(0);
  });
});

describe('prAuc (average precision)', () => {
  it('sums recall steps times precision at each threshold', () => {
    // 0.8 (churner): P=1, R=.5; 0.4 (retained); 0.35 (churner): P=2/3, R=1 -> .5 + .5 * 2/3
    expect(prAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.5 + 1 / 3, 12);
  });
  it('treats tied scores as one threshold rather than ranking churners first', () => {
    // 0.9 churner: P=1, R=.5; 0.5 {churner, retained}: P=2/3, R=1 -> 0.8333 (not 1.0)
    expect(prAuc([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1])).toBeCloseTo(0.5 + 1 / 3, 12);
  });
});

describe('liftAt and captureAt', () => {
  const y = [1, 0, 0, 1, 0, 0, 1, 0, 0, 0];
  const p = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1];
  it('divides the churn rate in the top share by the overall rate', () => {
    expect(liftAt(y, p, 0.1)).toBeCloseTo(1 / 0.3, 12);
    expect(liftAt(y, p, 0.2)).toBeCloseTo(0.5 / 0.3, 12);
    expect(captureAt(y, p, 0.4)).toBeCloseTo(2 / 3, 12);
  });
  it('keeps input order among tied scores', () => {
    const flat = new Array(10).fill(0.5);
    expect(liftAt([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], flat, 0.1)).toBeCloseTo(10, 12);
    expect(liftAt([0, 1, 0, 0, 0, 0, 0, 0, 0, 0], flat, 0.1)).toBe(0);
  });
  it('sizes the top share with round-half-even and at least one row', () => {
    expect(topCount(25, 0.1)).toBe(2);
    expect(topCount(15, 0.1)).toBe(2);
    expect(topCount(3, 0.1)).toBe(1);
    expectChurnError(() => topCount(10, 0), 'CHURN_ERR_VALIDATION');
  });
});

describe('brier, ece and the reliability table', () => {
  it('computes the Brier score as the mean squared error', () => {
    expect(brier([0, 1], [0.2, 0.6])).toBeCloseTo((0.04 + 0.16) / 2, 12);
  });
  it('weights each bin gap by its share of rows, closing the last bin', () => {
    // bin 1: p .1 .15, observed 0 -> 2/4 * .125; bin 8: .8 observed 1 -> 1/4 * .2; bin 9: 1.0 -> 0
    expect(ece([0, 0, 1, 1], [0.1, 0.15, 0.8, 1.0])).toBeCloseTo(0.0625 + 0.05, 12);
    const table = reliabilityTable([0, 0, 1, 1], [0.1, 0.15, 0.8, 1.0], 10);
    expect(table.map((b) => b.count)).toEqual([0, 2, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(table[1].meanPredicted).toBeCloseTo(0.125, 12);
    expect(table[1].observedRate).toBe(0);
    expect(table[0].meanPredicted).toBeNull();
  });
  it('uses numpy.linspace edges, so 0.3 falls below the 3 x 0.1 edge', () => {
    expect(reliabilityTable([0], [0.3], 10)[2].count).toBe(1);
  });
  it('rejects probabilities outside [0, 1]', () => {
    expectChurnError(() => brier([0, 1], [0.2, 1.2]), 'CHURN_ERR_VALIDATION');
  });
  it('measures the ECE a perfectly calibrated model shows by chance, shrinking with the rows', () => {
    // one bin at p = 0.5: ECE = |churn share - 0.5|, whose mean is about sqrt(0.25 / n) x sqrt(2 / pi)
    for (const n of [400, 6400]) {
      const floor = eceNoiseFloor(new Array(n).fill(0.5), 400, 3);
      const expected = Math.sqrt(0.25 / n) * Math.sqrt(2 / Math.PI);
      expect(floor.mean).toBeGreaterThan(0.8 * expected);
      expect(floor.mean).toBeLessThan(1.2 * expected);
      expect(floor.p90).toBeGreaterThan(floor.mean);
    }
    expect(eceNoiseFloor([0.1, 0.7, 0.3], 50, 9)).toEqual(eceNoiseFloor([0.1, 0.7, 0.3], 50, 9));
    expect(eceNoiseFloor([0, 1, 0, 1], 20, 1)).toEqual({ mean: 0, p90: 0 }); // certain outcomes: no noise
    expectChurnError(() => eceNoiseFloor([0.2, 1.5]), 'CHURN_ERR_VALIDATION');
  });
});

describe('confusionAt and chooseThreshold', () => {
  const y = [1, 0, 1, 0, 1];
  const p = [0.9, 0.8, 0.4, 0.3, 0.6];
  it('flags rows at or above the threshold', () => {
    expect(confusionAt(y, p, 0.6)).toEqual({ threshold: 0.6, tp: 2, fp: 1, tn: 1, fn: 1, precision: 2 / 3, recall: 2 / 3, f1: 2 / 3 });
  });
  it('picks the score that maximises F1', () => {
    // thresholds .9 .8 .6 .4 .3 give F1 .5 .4 .667 .857 .75
    expect(chooseThreshold(y, p)).toBe(0.4);
  });
  it('picks the score at the top-share cut', () => {
    expect(chooseThreshold(y, p, { method: 'top_share', share: 0.4 })).toBe(0.8);
  });
});

describe('curves and deciles', () => {
  const y = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const p = Array.from({ length: 40 }, (_, i) => ((i * 37) % 40) / 40);
  it('runs the ROC curve from (0,0) to (1,1), monotone, within the point budget', () => {
    const curve = rocCurve(y, p, 11);
    expect(curve.length).toBe(11);
    expect(curve[0]).toMatchObject({ fpr: 0, tpr: 0 });
    expect(curve[10]).toMatchObject({ fpr: 1, tpr: 1 });
    for (let i = 1; i < curve.length; i++) expect(curve[i].fpr).toBeGreaterThanOrEqual(curve[i - 1].fpr);
  });
  it('ends the PR curve at recall 1 with precision equal to the churn rate', () => {
    const curve = prCurve(y, p);
    expect(curve[curve.length - 1].recall).toBe(1);
    expect(curve[curve.length - 1].precision).toBeCloseTo(14 / 40, 12);
  });
  it('splits rows into ten riskiest-first deciles whose gains reach 100%', () => {
    const d = liftByDecile(y, p);
    expect(d.map((r) => r.n)).toEqual(new Array(10).fill(4));
    expect(d.reduce((a, r) => a + r.churners, 0)).toBe(14);
    expect(d[9].cumulativeCapture).toBe(1);
    expect(d[0].churners).toBe(liftAt(y, p, 0.1) * (14 / 40) * 4);
  });
});

describe('degenerate input', () => {
  it('refuses a single class with CHURN_ERR_NOT_ENOUGH_DATA', () => {
    expectChurnError(() => rocAuc([0, 0, 0], [0.1, 0.2, 0.3]), 'CHURN_ERR_NOT_ENOUGH_DATA');
    expectChurnError(() => prAuc([1, 1], [0.1, 0.2]), 'CHURN_ERR_NOT_ENOUGH_DATA');
    expectChurnError(() => liftAt([0, 0], [0.1, 0.2]), 'CHURN_ERR_NOT_ENOUGH_DATA');
    expectChurnError(() => rocAuc([], []), 'CHURN_ERR_NOT_ENOUGH_DATA');
  });
  it('refuses mismatched lengths, non-binary labels and non-finite scores', () => {
    expectChurnError(() => rocAuc([0, 1], [0.1]), 'CHURN_ERR_VALIDATION');
    expectChurnError(() => rocAuc([0, 2], [0.1, 0.2]), 'CHURN_ERR_VALIDATION');
    expectChurnError(() => rocAuc([0, 1], [0.1, Number.NaN]), 'CHURN_ERR_VALIDATION');
  });
});
