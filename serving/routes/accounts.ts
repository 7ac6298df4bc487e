import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { query, type Queryable } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import { requireScope } from '../auth.ts';
import type { AppDeps } from '../deps.ts';
import {
  AccountScoreSchema, ChangeQuerySchema, ChangeResponseSchema, HistoryQuerySchema, HistoryResponseSchema, ListQuerySchema, ListResponseSchema,
  ScoreQuerySchema, SummaryQuerySchema, SummaryResponseSchema, type AccountContext,
} from '../schemas/accounts.ts';
import { AccountIdSchema, AccountParamsSchema } from '../schemas/common.ts';
import type { Score } from '../../scoring/schema.ts';
import { NON_CUSTOMER_TIER_NAMES, type ServingConfig } from '../../scoring/config.ts';
import { errorResponses } from '../schemas/errors.ts';
import { defaultAsOf } from '../../core/time.ts';
import { scoreAccount } from '../../scoring/score-accounts.ts';
import {
  ACCOUNT_SORTS, accountExists, accountHistory, accountSummary, latestScores, readAccountContexts, otherSegments, rowToScore, storedAction, storedScoreAt, storedStatus, tierInHistory,
  type AccountContextRow, type AccountCursor, type AccountListRow, type AccountSort, type StoredScoreRow, type TierSummaryRow,
} from '../../scoring/store.ts';
import { scoreChange } from '../../scoring/score-change.ts';

/** A cursor: the sort, its direction and the last row's position, base64url JSON. */
function encodeCursor(sort: AccountSort, order: 'asc' | 'desc', r: Pick<AccountListRow, 'sort_group' | 'sort_value' | 'account_id'>): string {
  return Buffer.from(JSON.stringify([sort, order, r.sort_group, r.sort_value, r.account_id])).toString('base64url');
}

/** The position a cursor holds; it must come from a list of the same sort (cursors of before sorts existed are the risk sort's). */
function decodeCursor(cursor: string, sort: AccountSort, order: 'asc' | 'desc'): AccountCursor {
  let parts: unknown[] = [];
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed)) parts = parsed.length === 2 ? ['risk', 'desc', 0, ...parsed] : parsed;
  } catch {
    // refused below
  }
  const [s, o, group, value, id] = parts;
  // the id goes into SQL: an account id's own rules (no NUL or other control character)
  if (parts.length !== 5 || !(typeof s === 'string' && s in ACCOUNT_SORTS) || (o !== 'asc' && o !== 'desc') || (group !== 0 && group !== 1 && group !== 2)
    || typeof value !== 'number' || !Number.isFinite(value) || !AccountIdSchema.safeParse(id).success) {
    throw new ChurnError('CHURN_ERR_VALIDATION', 'invalid cursor: pass back next_cursor from a previous page');
  }
  if (s !== sort || o !== order) throw new ChurnError('CHURN_ERR_VALIDATION', `this cursor belongs to a list sorted by ${s} (${o}); pass the same sort and order with it`);
  return { group, value, id: id as string };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const minus = (a: number, b: number | null) => (b === null ? null : a - b);

/** The context of a live score from its context row and its health. */
export function contextOf(r: AccountContextRow, health: number): AccountContext {
  return {
    name: r.name, segment: r.account_segment, plan: r.plan, mrr: r.mrr, renewal_date: iso(r.renewal_date), owner: r.owner,
    change_7d: minus(health, r.health_7d), change_30d: minus(health, r.health_30d),
  };
}

/**
 * Scores with their accounts' context (the subscription in force and the trend at the scores' as-of
 * time), read in one statement once the scores are computed: not beside the feature read, so that
 * when the features cannot be read (a locked table) no request holds one of the API's connections
 * waiting too (`/readyz` shares them).
 */
export async function withContexts(db: Queryable, scores: Score[], asOf: Date) {
  // one request's scores come from one model (the holder's current one)
  const contexts = await readAccountContexts(db, [...new Set(scores.map((s) => s.account_id))], asOf, asOf, scores[0]?.model_version ?? null);
  return scores.map((s) => {
    const c = contexts.get(s.account_id);
    if (!c) throw new ChurnError('CHURN_ERR_ACCOUNT_NOT_FOUND', `no such account: ${s.account_id}`); // removed meanwhile
    return { ...s, tier_segment: s.segment, account: contextOf(c, s.health_score) };
  });
}

type StoredSummary = Omit<StoredScoreRow, 'drivers' | 'base_value'>;
function stored(r: StoredSummary) {
  return {
    account_id: r.account_id, as_of: r.as_of.toISOString(), scored_at: r.scored_at.toISOString(), model_version: r.model_version,
    feature_set_version: r.feature_set_version, segment: r.segment, tier_segment: r.segment, status: storedStatus(r), churn_probability: r.churn_probability,
    health_score: r.health_score, tier: r.tier, recommended_action: storedAction(r), scorecard_score: r.scorecard_score, components: r.components,
  };
}

function listItem(r: AccountListRow) {
  return {
    ...stored(r),
    account: { name: r.name, segment: r.account_segment, plan: r.plan, mrr: r.mrr, renewal_date: iso(r.renewal_date), owner: r.owner, change_7d: r.change_7d, change_30d: r.change_30d },
  };
}

/** The configured tier names in order (best first; those of segments after). */
function configuredTiers(config: ServingConfig): string[] {
  return [...new Set([...config.tiers, ...config.segments.flatMap((s) => s.tiers ?? [])].map((t) => t.name))];
}

/** Tiers in the configuration's order, then the others found. */
function orderTiers(config: ServingConfig, rows: TierSummaryRow[]): TierSummaryRow[] {
  const names = configuredTiers(config);
  const found = new Map(rows.map((r) => [r.tier, r]));
  return [...names.map((tier) => found.get(tier) ?? { tier, accounts: 0, mrr: 0, expected_mrr_loss: 0 }), ...rows.filter((r) => !names.includes(r.tier))];
}

/**
 * An empty list filtered by a tier that is neither configured, nor a non-customer status, nor in any
 * stored score (a misspelling such as `atrisk`) is a 400 naming the tiers, not an empty answer a CS platform
 * would read as "no account at risk". Checked only when the list came back empty, so it costs nothing
 * otherwise; tiers of an earlier configuration that stored scores still carry stay valid.
 */
async function requireKnownTier(deps: AppDeps, tier: string): Promise<void> {
  const known = [...configuredTiers(deps.config), ...NON_CUSTOMER_TIER_NAMES];
  if (known.includes(tier)) return;
  if (!(await tierInHistory(deps.pool, tier))) throw new ChurnError('CHURN_ERR_VALIDATION', `unknown tier "${tier}": the tiers are ${known.join(', ')}`);
}

/**
 * An empty answer filtered by a segment no account has (`entreprise`) is a 400 naming the segments,
 * as for tiers: checked only when the answer came back empty.
 */
async function requireKnownSegment(deps: AppDeps, segment: string): Promise<void> {
  const others = await otherSegments(deps.pool, segment);
  if (others) throw new ChurnError('CHURN_ERR_VALIDATION', `unknown segment "${segment}": the accounts' segments are ${others.length ? others.join(', ') : '(none: no accounts yet)'}`);
}

export function accountRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  const read = requireScope(deps.auth, 'score:read');
  const security = [{ bearer: [] }];
  return async (app) => {
    app.get('/accounts', {
      onRequest: read,
      schema: { operationId: 'listAccounts', tags: ['accounts'], summary: 'Accounts with their latest stored score and context, riskiest first (or sorted by trend, MRR, renewal)', security,
        querystring: ListQuerySchema, response: { 200: ListResponseSchema, ...errorResponses } },
    }, async (req) => {
      const q = req.query;
      if (q.mrr_min !== undefined && q.mrr_max !== undefined && q.mrr_min > q.mrr_max) throw new ChurnError('CHURN_ERR_VALIDATION', `mrr_min (${q.mrr_min}) is above mrr_max (${q.mrr_max})`);
      const order = q.order ?? ACCOUNT_SORTS[q.sort].order;
      const after = q.cursor ? decodeCursor(q.cursor, q.sort, order) : undefined;
      const rows = await query<AccountListRow>(deps.pool, latestScores({
        tier: q.tier, segment: q.segment, owner: q.owner, renewalWithinDays: q.renewal_within_days, mrrMin: q.mrr_min, mrrMax: q.mrr_max,
        sort: q.sort, order, after, limit: q.limit + 1,
      }));
      const page = rows.slice(0, q.limit);
      if (!page.length && q.tier && !after) await requireKnownTier(deps, q.tier);
      if (!page.length && q.segment && !after) await requireKnownSegment(deps, q.segment);
      const last = page[page.length - 1];
      return { accounts: page.map(listItem), next_cursor: rows.length > q.limit && last ? encodeCursor(q.sort, order, last) : null };
    });

    app.get('/accounts/summary', {
      onRequest: read,
      schema: { operationId: 'getAccountSummary', tags: ['accounts'], summary: 'Accounts, their MRR and the MRR the model expects to lose, per tier now, with the list\'s filters', security,
        querystring: SummaryQuerySchema, response: { 200: SummaryResponseSchema, ...errorResponses } },
    }, async (req) => {
      const q = req.query;
      const rows = await query<TierSummaryRow>(deps.pool, accountSummary({ segment: q.segment, owner: q.owner, renewalWithinDays: q.renewal_within_days, mrrMin: q.mrr_min, mrrMax: q.mrr_max }));
      if (!rows.length && q.segment) await requireKnownSegment(deps, q.segment);
      // revenue_at_risk, the field's first name, is the tier's MRR
      const tiers = orderTiers(deps.config, rows).map((t) => ({ ...t, revenue_at_risk: t.mrr }));
      const cents = (f: (t: TierSummaryRow) => number) => Math.round(tiers.reduce((n, t) => n + f(t), 0) * 100) / 100;
      return { tiers, total: { accounts: tiers.reduce((n, t) => n + t.accounts, 0), mrr: cents((t) => t.mrr), expected_mrr_loss: cents((t) => t.expected_mrr_loss) } };
    });

    app.get('/accounts/:id/score', {
      onRequest: read,
      schema: { operationId: 'getAccountScore', tags: ['scores'], summary: "One account's score as of a time, features computed from PostgreSQL, with its context", security,
        params: AccountParamsSchema, querystring: ScoreQuerySchema, response: { 200: AccountScoreSchema, ...errorResponses } },
    }, async (req) => {
      const asOf = req.query.as_of ?? defaultAsOf();
      const id = req.params.id;
      const [score] = await withContexts(deps.pool, [await scoreAccount(deps, id, asOf, req.query.explain ? req.query.top : 0)], asOf);
      deps.metrics.scoresServed.inc({ route: 'account_score' });
      return score;
    });

    app.get('/accounts/:id/history', {
      onRequest: read,
      schema: { operationId: 'getAccountHistory', tags: ['scores'], summary: 'Stored scores over time, newest first, each with its model version; the account with its trend', security,
        params: AccountParamsSchema, querystring: HistoryQuerySchema, response: { 200: HistoryResponseSchema, ...errorResponses } },
    }, async (req) => {
      const rows = await query<StoredScoreRow>(deps.pool, accountHistory(req.params.id, req.query.limit));
      const latest = rows[0];
      const context = (await readAccountContexts(deps.pool, [req.params.id], null, latest?.as_of ?? new Date(), latest?.model_version ?? null)).get(req.params.id);
      if (!context) throw new ChurnError('CHURN_ERR_ACCOUNT_NOT_FOUND', `no such account: ${req.params.id}`);
      const account = latest ? contextOf(context, latest.health_score) : { ...contextOf(context, 0), change_7d: null, change_30d: null };
      return { account_id: req.params.id, account, scores: rows.map(stored) };
    });

    app.get('/accounts/:id/score-change', {
      onRequest: read,
      schema: { operationId: 'getScoreChange', tags: ['scores'], summary: 'Two stored scores and the per-feature change in contribution between them', security,
        params: AccountParamsSchema, querystring: ChangeQuerySchema, response: { 200: ChangeResponseSchema, ...errorResponses } },
    }, async (req) => {
      const { id } = req.params;
      const to = await storedScoreAt(deps.pool, id, req.query.to ?? null);
      // by default the latest score of an earlier as-of (not another model's score of the same day)
      const from = to && (req.query.from ? await storedScoreAt(deps.pool, id, req.query.from) : await storedScoreAt(deps.pool, id, to.as_of, { before: true }));
      if (!to || !from || from.score_id === to.score_id) {
        if (!(await accountExists(deps.pool, id))) throw new ChurnError('CHURN_ERR_ACCOUNT_NOT_FOUND', `no such account: ${id}`);
        throw new ChurnError('CHURN_ERR_NOT_FOUND', `account ${id} has fewer than two stored scores in that range; run \`churn score\` to store more`);
      }
      const change = scoreChange(rowToScore(from), rowToScore(to));
      return { ...change, from: { ...change.from, tier_segment: change.from.segment }, to: { ...change.to, tier_segment: change.to.segment } };
    });
  };
}
