import { describe, expect, it } from 'vitest';
import { familyScores, formatDrivers, healthScore, tierFor, topDrivers } from '../training/health.ts';

describe('health score, tiers and drivers', () => {
  it('maps churn probability to a 0-100 health score that never rises with risk', () => {
    let last = Infinity;
    for (let p = 0; p <= 1.0000001; p += 0.01) {
      const h = healthScore(p);
      expect(h).toBeLessThanOrEqual(last);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThanOrEqual(100);
      last = h;
    }
    expect(healthScore(0)).toBe(100);
    expect(healthScore(1)).toBe(0);
  });

  it('puts scores into tiers at the default and at configured thresholds', () => {
    expect([tierFor(70), tierFor(69), tierFor(40), tierFor(39)]).toEqual(['healthy', 'at_risk', 'at_risk', 'critical']);
    expect(tierFor(69, { healthy: 60, at_risk: 30 })).toBe('healthy');
    expect(tierFor(29, { healthy: 60, at_risk: 30 })).toBe('critical');
  });

  it('gives each family a sub-score of 50 at the reference, lower when the family raises risk', () => {
    const families = ['usage', 'usage', 'support', 'other'];
    const s = familyScores(families, [0.5, 0.3, -1, 2]);
    expect(s.usage).toBe(Math.round(100 / (1 + Math.exp(0.8))));
    expect(s.support).toBeGreaterThan(50);
    expect(s.engagement).toBeNull();
    expect(familyScores(['usage'], [0]).usage).toBe(50);
  });

  it('orders drivers by absolute contribution and formats them for CSV', () => {
    const d = topDrivers(['a', 'b', 'c'], ['usage', 'support', 'other'], [0.1, -0.9, 0.42], 2);
    expect(d.map((x) => x.feature)).toEqual(['b', 'c']);
    expect(d[0].direction).toBe('lowers_risk');
    expect(formatDrivers(d)).toBe('b:-0.90;c:+0.42');
  });
});
