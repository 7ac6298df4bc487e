import { z } from 'zod';
import { ACCOUNT_SORTS } from '../../scoring/store.ts';
import { ChangeResponseSchema as ScoreChangeSchema, ScoreSchema } from '../../scoring/schema.ts';
import { AccountIdSchema, AsOfSchema, BoolQuerySchema, TopSchema } from './common.ts';
import { ACCOUNT_CONTEXT_EXAMPLE, ACCOUNT_SCORE_EXAMPLE, EXPLAINED_SCORE_EXAMPLE, SCORE_SUMMARY_EXAMPLE, STORED_SCORE_EXAMPLE } from './examples.ts';

const NAME = /^[a-z][a-z0-9_]*$/;

export const ScoreQuerySchema = z.object({
  as_of: AsOfSchema.optional().describe('score as of this time: a date (00:00 UTC) or a timestamp with a zone, not in the future (default: the latest UTC midnight)')
    .meta({ example: '2026-11-01' }),
  explain: BoolQuerySchema.default(true).describe('false: no drivers').meta({ example: 'true' }),
  top: TopSchema.describe('drivers listed: the N largest contributions (1-1000), or `all` (default 5)').meta({ examples: [5] }),
}).strict();

/**
 * The account beside its score: what a CSM sees next to it. `segment` is the account's data segment
 * (source.accounts.segment), not the score's tier-segment (`tier_segment`).
 */
export const AccountContextSchema = z.object({
  name: z.string().describe('display name'),
  segment: z.string().describe("the account's own segment in your data (smb, mid_market, enterprise); the score's tier-segment is `tier_segment`"),
  plan: z.string().describe('plan of the subscription period in force (else the account\'s plan)'),
  mrr: z.number().nullable().describe('monthly recurring revenue of the subscription period in force; null without one'),
  renewal_date: z.string().nullable().describe('end of the period in force: its recorded end, else its next monthly or annual billing boundary; null without one'),
  owner: z.string().nullable().describe('who looks after the account (source.accounts.owner), when known'),
  change_7d: z.number().int().nullable().describe('health points against the stored score of the same model version nearest to 7 days before this score (within 3.5 days of that day); null when none'),
  change_30d: z.number().int().nullable().describe('health points against the stored score of the same model version nearest to 30 days before this score (within 15 days of that day); null when none'),
}).meta({ id: 'AccountContext', description: 'the account beside its score: facts, the subscription in force and the trend', examples: [ACCOUNT_CONTEXT_EXAMPLE] });
export type AccountContext = z.infer<typeof AccountContextSchema>;

const TierSegment = z.string().describe('the segment whose tiers and scorecard weights scored the account (e.g. onboarding); the same value as `segment`, kept for compatibility');

/** A score with `tier_segment` (POST /v1/predict, GET /v1/accounts/:id/score-change). */
export const ExplainedScoreSchema = ScoreSchema.extend({ tier_segment: TierSegment })
  .meta({ id: 'ExplainedScore', description: 'a score with its drivers (interfaces.md); `segment` and `tier_segment` are the tier-segment', examples: [EXPLAINED_SCORE_EXAMPLE] });

/** An account's score with its context (GET /v1/accounts/:id/score, POST /v1/scores). */
export const AccountScoreSchema = ExplainedScoreSchema.extend({ account: AccountContextSchema })
  .meta({ id: 'AccountScore', description: "an account's score with its drivers and its context (`account`)", examples: [ACCOUNT_SCORE_EXAMPLE] });

/** A stored score without its drivers (history items). */
export const StoredScoreSchema = ScoreSchema.omit({ drivers: true, base_value: true, imputed: true })
  .extend({ scored_at: z.string().describe('when it was stored'), tier_segment: TierSegment })
  .meta({ id: 'StoredScore', description: 'a stored score without its drivers', examples: [STORED_SCORE_EXAMPLE] });

/** An item of GET /v1/accounts: the latest stored score (tier and action as of now) and the account's context. */
export const ScoreSummarySchema = StoredScoreSchema.extend({ account: AccountContextSchema })
  .meta({ id: 'ScoreSummary', description: "an account's latest stored score, tiered by its status now, with its context", examples: [SCORE_SUMMARY_EXAMPLE] });

const SORTS = Object.keys(ACCOUNT_SORTS) as [keyof typeof ACCOUNT_SORTS, ...(keyof typeof ACCOUNT_SORTS)[]];

const Money = z.coerce.number().min(0).max(1e12);

/** Filters shared by the list and the summary. */
const FilterShape = {
  segment: z.string().regex(NAME, 'a segment name is lower-case letters, digits and _, starting with a letter (enterprise, mid_market)').max(64).optional().describe("only accounts of this data segment (the account's own: smb, mid_market, enterprise)").meta({ examples: ['enterprise'] }),
  owner: z.string().min(1).max(200).optional().describe('only accounts with this owner (exact match)').meta({ examples: ['dana@cs.example.com'] }),
  renewal_within_days: z.coerce.number().int().min(0).max(3660).optional().describe('only accounts whose renewal date lies from now to this many days ahead').meta({ examples: [90] }),
  mrr_min: Money.optional().describe('only accounts with at least this MRR (accounts without a subscription in force have none)').meta({ examples: [1000] }),
  mrr_max: Money.optional().describe('only accounts with at most this MRR').meta({ examples: [5000] }),
};

export const ListQuerySchema = z.object({
  tier: z.string().regex(NAME, 'a tier name is lower-case letters, digits and _, starting with a letter (at_risk)').max(64).optional().describe('only accounts in this tier now (a configured tier, or trial, churned, never_subscribed; a tier no configuration or stored score knows is a 400)').meta({ examples: ['at_risk'] }),
  ...FilterShape,
  sort: z.enum(SORTS).default('risk').describe('risk (churn probability, riskiest first), change_7d or change_30d (largest drop first), mrr (largest first), renewal_date (soonest first); accounts without a value come last')
    .meta({ examples: ['change_7d'] }),
  order: z.enum(['asc', 'desc']).optional().describe("flips the sort's direction (default: as described under `sort`)").meta({ examples: ['asc'] }),
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('accounts per page').meta({ examples: [100] }),
  cursor: z.string().max(400).regex(/^[A-Za-z0-9_-]+$/, 'invalid cursor: pass back next_cursor from a previous page').optional().describe('`next_cursor` of the previous page, with the same filters and sort').meta({ examples: ['WyJyaXNrIiwiZGVzYyIsMCwwLjMxLCJhY2NfMDAwNDIiXQ'] }),
}).strict();

export const SummaryQuerySchema = z.object(FilterShape).strict();

export const ListResponseSchema = z.object({
  accounts: z.array(ScoreSummarySchema),
  next_cursor: z.string().nullable().describe('pass it as `cursor` for the next page; null on the last'),
}).meta({ examples: [{ accounts: [SCORE_SUMMARY_EXAMPLE], next_cursor: null }] });

export const SummaryResponseSchema = z.object({
  tiers: z.array(z.object({
    tier: z.string(),
    accounts: z.number().int().describe('accounts with a stored score in this tier now'),
    revenue_at_risk: z.number().describe('their MRR (subscription periods in force now), whatever the tier; the same figure as `mrr`, kept under its first name'),
    mrr: z.number().describe('their MRR (subscription periods in force now)'),
    expected_mrr_loss: z.number().describe('the MRR the model expects to lose in this tier: the sum of each customer\'s MRR times its churn probability (over the model\'s horizon), to the cent'),
  })).describe('configured tiers first (best first, also when empty), then churned, never_subscribed and trial when present'),
  total: z.object({ accounts: z.number().int(), mrr: z.number(), expected_mrr_loss: z.number().describe('over all tiers') }),
}).meta({ examples: [{ tiers: [{ tier: 'healthy', accounts: 812, revenue_at_risk: 612400, mrr: 612400, expected_mrr_loss: 9186 }, { tier: 'at_risk', accounts: 143, revenue_at_risk: 98750.5, mrr: 98750.5, expected_mrr_loss: 11850.06 },
  { tier: 'critical', accounts: 37, revenue_at_risk: 21900, mrr: 21900, expected_mrr_loss: 9855 }, { tier: 'churned', accounts: 52, revenue_at_risk: 0, mrr: 0, expected_mrr_loss: 0 }],
  total: { accounts: 1044, mrr: 733050.5, expected_mrr_loss: 30891.06 } }] });

export const HistoryQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100).describe('stored scores, newest first').meta({ examples: [30] }) }).strict();

export const HistoryResponseSchema = z.object({
  account_id: AccountIdSchema,
  account: AccountContextSchema.describe('the account now; its trend is that of its latest stored score'),
  scores: z.array(StoredScoreSchema),
}).meta({ examples: [{ account_id: 'acc_00042', account: ACCOUNT_CONTEXT_EXAMPLE, scores: [STORED_SCORE_EXAMPLE] }] });

export const ChangeQuerySchema = z.object({
  from: AsOfSchema.optional().describe('the earlier score: the latest stored at or before this time (default: the one before `to`)').meta({ example: '2026-10-01' }),
  to: AsOfSchema.optional().describe('the later score: the latest stored at or before this time (default: the latest)').meta({ example: '2026-11-01' }),
}).strict().refine((q) => !q.from || !q.to || q.from.getTime() < q.to.getTime(), { message: '`from` must be before `to`', path: ['from'] });

/** GET /v1/accounts/:id/score-change: the two stored scores with `tier_segment`. */
export const ChangeResponseSchema = ScoreChangeSchema.extend({ from: ExplainedScoreSchema, to: ExplainedScoreSchema }).meta({
  examples: [{
    account_id: 'acc_00042', from: { ...EXPLAINED_SCORE_EXAMPLE, as_of: '2026-10-01T00:00:00.000Z', churn_probability: 0.12, health_score: 71, tier: 'healthy', recommended_action: 'expand', drivers: [] },
    to: { ...EXPLAINED_SCORE_EXAMPLE, drivers: [] }, health_change: -17, probability_change: 0.19, logit_change: 1.19, base_value_change: 0, model_changed: false,
    changes: [{ feature: 'active_days_28d', family: 'usage', from_value: 14, to_value: 3, from_contribution: -0.2, to_contribution: 0.82, contribution_change: 1.02,
      direction: 'raises_risk', description: 'Active on 3 of the last 28 days; typical retained account: 17' }],
  }],
});
