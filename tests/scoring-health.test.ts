import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { familyDrivers, healthScore, resolveSegment, tierOf, topRiskFamily } from '../scoring/health.ts';

const mapping = DEFAULT_SERVING_CONFIG.health;

describe('health score, segments, tiers and family drivers', () => {
  it('maps churn probability to a 0-100 health score that never rises with risk', () => {
    for (const m of [mapping, { kind: 'linear' } as const, { kind: 'logistic', midpoint: 0.3, steepness: 2 } as const]) {
      let last = Infinity;
      for (let p = 0; p <= 1.0000001; p += 0.01) {
        const h = healthScore(p, m, 0.1);
        expect(h).toBeLessThanOrEqual(last);
        expect(h).toBeGreaterThanOrEqual(0);
        expect(h).toBeLessThanOrEqual(100);
        last = h;
      }
      expect(healthScore(0, m, 0.1)).toBe(100);
      expect(healthScore(1, m, 0.1)).toBe(0);
    }
  });

  it('anchors the default mapping on the base rate: an account at four times the usual risk scores 50', () => {
    expect(healthScore(0.08, mapping, 0.02)).toBe(50);
    expect(healthScore(0.02, mapping, 0.02)).toBe(Math.round(100 / (1 + Math.exp(Math.log(0.02 / 0.98) - Math.log(0.08 / 0.92)))));
    // the midpoint never passes 0.5, so a common outcome still maps 0.5 to 50
    expect(healthScore(0.5, mapping, 0.3)).toBe(50);
    expect(healthScore(0.31, { kind: 'linear' }, 0.02)).toBe(69);
  });

  it('puts scores into the tiers of the account\'s segment', () => {
    const tiers = DEFAULT_SERVING_CONFIG.tiers;
    expect([70, 69, 40, 39].map((h) => tierOf(h, tiers).tier.name)).toEqual(['healthy', 'at_risk', 'at_risk', 'critical']);
    const onboarding = resolveSegment(DEFAULT_SERVING_CONFIG, { accountSegment: 'smb', tenureDays: 30 });
    expect(onboarding.name).toBe('onboarding');
    expect(tierOf(72, onboarding.tiers).tier.name).toBe('at_risk'); // healthy starts at 75 there
    expect(resolveSegment(DEFAULT_SERVING_CONFIG, { accountSegment: 'enterprise', tenureDays: 400 }).name).toBe('enterprise');
    expect(resolveSegment(DEFAULT_SERVING_CONFIG, { accountSegment: 'smb', tenureDays: 400 }).name).toBe('established');
  });

  it('ranks families by their summed contribution, so correlated features of one family count together', () => {
    // usage: one large feature; adoption: three medium correlated ones that together outweigh it
    const families = ['usage', 'adoption', 'adoption', 'adoption', 'support'];
    const contributions = [0.5, 0.3, 0.25, 0.2, -0.4];
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
