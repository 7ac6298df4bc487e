import { describe, expect, it } from 'vitest';
import { DEFAULT_HEALTH_MAPPING, familyDrivers, familyScores, formatDrivers, healthScore, tierFor, topDrivers, topRiskFamily } from '../scoring/health.ts';

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

  it('anchors the default mapping on the base rate: an account at four times the usual risk scores 50', () => {
    expect(healthScore(0.08, DEFAULT_HEALTH_MAPPING, 0.02)).toBe(50);
    expect(healthScore(0.02, DEFAULT_HEALTH_MAPPING, 0.02)).toBe(Math.round(100 / (1 + Math.exp(Math.log(0.02 / 0.98) - Math.log(0.08 / 0.92)))));
    // the midpoint never passes 0.5, so a common outcome still maps 0.5 to 50
    expect(healthScore(0.5, DEFAULT_HEALTH_MAPPING, 0.3)).toBe(50);
    expect(healthScore(0.31, { kind: 'linear' })).toBe(69);
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

  it('ranks families by their summed contribution, so correlated features of one family count together', () => {
    // usage: one large feature; adoption: three medium correlated ones that together outweigh it
    const families = ['usage', 'adoption', 'adoption', 'adoption', 'support'];
    const contributions = [0.5, 0.3, 0.25, 0.2, -0.4];
    expect(topDrivers(['u', 'a1', 'a2', 'a3', 's'], families, contributions, 1)[0].family).toBe('usage');
    const ranked = familyDrivers(families, contributions);
    expect(ranked.map((d) => d.family)).toEqual(['adoption', 'usage', 'support']);
    expect(ranked[0].contribution).toBeCloseTo(0.75, 12);
    expect(ranked[2].direction).toBe('lowers_risk');
    expect(topRiskFamily(families, contributions)?.family).toBe('adoption');
    // opposite signs within a family cancel: the family that raises risk on balance wins
    expect(topRiskFamily(['adoption', 'adoption', 'usage'], [0.6, -0.5, 0.2])?.family).toBe('usage');
    expect(topRiskFamily(['usage', 'support'], [-0.1, 0])).toBeNull();
  });
});
