import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../features/catalog.ts';
import { valueDomain } from '../features/domain.ts';
import { domainOf, modelContract } from '../training/contract.ts';

const catalog = loadCatalog();
const declared = (name: string) => valueDomain(catalog.byName.get(name) as Record<string, unknown> | undefined);

describe('the domain of a feature in a model contract', () => {
  it('bounds a feature by what its definition computes, not only by its unit', () => {
    // active days and idle runs in a window: at most the window's days
    expect([declared('active_days_7d'), declared('active_days_28d'), declared('longest_inactive_streak_90d')]).toEqual([{ min: 0, max: 7 }, { min: 0, max: 28 }, { min: 0, max: 90 }]);
    // survey answers on their scales: NPS 0-10, CSAT 1-5 (the survey's and the tickets'), an NPS change -10 to 10
    expect([declared('nps_latest'), declared('csat_survey_mean_180d'), declared('mean_csat_90d'), declared('nps_change')])
      .toEqual([{ min: 0, max: 10 }, { min: 1, max: 5 }, { min: 1, max: 5 }, { min: -10, max: 10 }]);
    // days since, to and late are never negative (days late count from the due time, 0 when paid on time)
    expect([declared('days_since_last_activity'), declared('days_to_renewal'), declared('days_late_max_180d'), declared('tenure_days')]).toEqual([{ min: 0 }, { min: 0 }, { min: 0 }, { min: 0 }]);
    // a change can fall as well as rise: a relative change of counts is -1 (all gone) or more, an absolute one has no bound
    expect([declared('events_trend_28d'), declared('active_days_trend_28d'), declared('areas_trend_28d'), declared('mrr_change_90d')]).toEqual([{ min: -1 }, undefined, undefined, undefined]);
    // the unit's bounds otherwise
    expect([declared('mrr'), declared('catalog_adoption_share_90d'), declared('discount_pct'), declared('billing_annual'), declared('plan_tier')])
      .toEqual([{ min: 0 }, { min: 0, max: 1 }, { min: 0, max: 100 }, { min: 0, max: 1 }, undefined]);
    expect(valueDomain(undefined)).toBeUndefined();
  });

  it('keeps the bounds that the training data kept to', () => {
    expect(domainOf({ min: 0 }, { min: 0, max: 9000 })).toEqual({ min: 0 });
    expect(domainOf({ min: 0, max: 1 }, { min: 0, max: 0.97 })).toEqual({ min: 0, max: 1 });
    expect(domainOf({ min: 0, max: 1 }, null)).toEqual({ min: 0, max: 1 }); // every training value missing: the definition alone
    // a bound the data broke is not a bound: active users can outnumber the users still provisioned
    expect(domainOf({ min: 0, max: 1 }, { min: 0, max: 1.25 })).toEqual({ min: 0 });
    expect(domainOf({ min: 0 }, { min: -1, max: 40 })).toBeUndefined();
    expect(domainOf(undefined, { min: 0, max: 1 })).toBeUndefined();
  });

  it("holds a model trained before a bound was declared to its catalogue's bounds, and only a model of that catalogue", () => {
    const artifact = {
      feature_set_version: catalog.version, feature_families: {},
      input_contract: {
        feature_set_version: catalog.version,
        features: [
          { name: 'nps_latest', type: 'numeric' as const, family: 'sentiment', range: { min: 0, max: 10 }, missing_seen: true },
          { name: 'active_days_7d', type: 'numeric' as const, family: 'usage', range: { min: 0, max: 7 }, missing_seen: false },
          { name: 'mrr', type: 'numeric' as const, family: 'commercial', range: { min: 0, max: 900 }, domain: { min: 0 }, missing_seen: false },
          // the training data broke the bound: not held to it
          { name: 'days_to_renewal', type: 'numeric' as const, family: 'commercial', range: { min: -3, max: 365 }, missing_seen: false },
        ],
      },
    };
    const domains = (c: ReturnType<typeof modelContract>) => c.features.map((f) => f.domain);
    expect(domains(modelContract(artifact, catalog))).toEqual([{ min: 0, max: 10 }, { min: 0, max: 7 }, { min: 0 }, undefined]);
    expect(domains(modelContract(artifact, undefined))).toEqual([undefined, undefined, { min: 0 }, undefined]);
    const other = { ...artifact, feature_set_version: 'another', input_contract: { ...artifact.input_contract, feature_set_version: 'another' } };
    expect(domains(modelContract(other, catalog))).toEqual([undefined, undefined, { min: 0 }, undefined]);
  });
});
