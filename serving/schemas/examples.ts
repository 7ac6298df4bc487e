/**
 * Examples of the OpenAPI document (`.meta({ examples })` on the schemas): one realistic value per
 * request and response shape, in the shapes the schemas declare (tests/serving-openapi.test.ts
 * checks each example against its own schema).
 */

export const ACCOUNT_CONTEXT_EXAMPLE = {
  name: 'Northwind Traders', segment: 'enterprise', plan: 'enterprise', mrr: 4125, renewal_date: '2027-01-15T00:00:00.000Z',
  owner: 'dana@cs.example.com', change_7d: -9, change_30d: -14,
};

const COMPONENTS = { engagement: 61, usage: 40, adoption: 72, support: 35, commercial: 55, sentiment: 48 };

const DRIVER = {
  feature: 'active_days_28d', family: 'usage', value: 3, reference: 17, contribution: 0.82, direction: 'raises_risk',
  description: 'Active on 3 of the last 28 days; typical retained account: 17',
};

/** A score as `POST /v1/predict` returns it (no account context). */
export const EXPLAINED_SCORE_EXAMPLE = {
  account_id: 'acc_00042', as_of: '2026-11-01T00:00:00.000Z', model_version: 7, feature_set_version: 'fs_3f2a9c', segment: 'enterprise',
  tier_segment: 'enterprise', status: 'active', churn_probability: 0.31, health_score: 54, tier: 'at_risk', recommended_action: 'engage',
  scorecard_score: 58, components: COMPONENTS, base_value: -1.9, drivers: [DRIVER],
};

export const ACCOUNT_SCORE_EXAMPLE = { ...EXPLAINED_SCORE_EXAMPLE, account: ACCOUNT_CONTEXT_EXAMPLE };

/** A stored score as the history lists it. */
export const STORED_SCORE_EXAMPLE = {
  account_id: 'acc_00042', as_of: '2026-11-01T00:00:00.000Z', scored_at: '2026-11-01T06:00:02.417Z', model_version: 7, feature_set_version: 'fs_3f2a9c',
  segment: 'enterprise', tier_segment: 'enterprise', status: 'active', churn_probability: 0.31, health_score: 54, tier: 'at_risk',
  recommended_action: 'engage', scorecard_score: 58, components: COMPONENTS,
};

export const SCORE_SUMMARY_EXAMPLE = { ...STORED_SCORE_EXAMPLE, account: ACCOUNT_CONTEXT_EXAMPLE };

export const ALERT_EXAMPLE = {
  alert_id: 1812, account_id: 'acc_00042', account_name: 'Northwind Traders', kind: 'tier_drop', sequence: 3, created_at: '2026-11-02T06:00:03.120Z',
  state: 'snoozed', from: { as_of: '2026-11-01T00:00:00+00:00', health_score: 71, tier: 'healthy' }, to: { as_of: '2026-11-02T00:00:00+00:00', health_score: 62, tier: 'at_risk' },
  acknowledged_at: null, acknowledged_by: null, snoozed_until: '2026-11-09T09:00:00.000Z', snoozed_by: 'crm-sync',
};

export const WEBHOOK_EXAMPLE = {
  id: 12, url: 'https://cs.example.com/hooks/churn', active: true, source: 'api', description: 'CS platform', created_at: '2026-11-01T09:12:44.000Z',
  removed_at: null, pending: 0, dead: 0,
};

export const ERROR_EXAMPLE = { error: 'CHURN_ERR_VALIDATION', message: 'invalid querystring: limit: Too big: expected number to be <=1000', request_id: '5f0c2a4e-1b7d-4a55-9a53-2f4e0c8d9b11' };
