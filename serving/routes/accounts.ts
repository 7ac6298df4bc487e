import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { query } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';
import { requireScope } from '../auth.ts';
import type { AppDeps } from '../deps.ts';
import { ChangeQuerySchema, HistoryQuerySchema, HistoryResponseSchema, ListQuerySchema, ListResponseSchema, ScoreQuerySchema } from '../schemas/accounts.ts';
import { AccountIdSchema, AccountParamsSchema } from '../schemas/common.ts';
import { ChangeResponseSchema, ScoreSchema, type Score } from '../../scoring/schema.ts';
import { errorResponses } from '../schemas/errors.ts';
import { defaultAsOf } from '../../core/time.ts';
import { scoreAccount } from '../../scoring/score-accounts.ts';
import { accountExists, accountHistory, latestScores, rowToScore, storedScoreAt, type StoredScoreRow } from '../../scoring/store.ts';
import { scoreChange } from '../../scoring/score-change.ts';

function encodeCursor(p: number, id: string): string {
  return Buffer.from(JSON.stringify([p, id])).toString('base64url');
}

function decodeCursor(cursor: string): { p: number; id: string } {
  try {
    const [p, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    // the id goes into SQL: an account id's own rules (no NUL or other control character)
    if (typeof p === 'number' && Number.isFinite(p) && AccountIdSchema.safeParse(id).success) return { p, id: id as string };
  } catch {
    // fall through
  }
  throw new ChurnError('CHURN_ERR_VALIDATION', 'invalid cursor: pass back next_cursor from a previous page');
}

type Summary = Omit<Score, 'drivers' | 'base_value' | 'imputed'> & { scored_at: string };
function summary(r: Omit<StoredScoreRow, 'drivers' | 'base_value'>): Summary {
  return {
    account_id: r.account_id, as_of: r.as_of.toISOString(), scored_at: r.scored_at.toISOString(), model_version: r.model_version,
    feature_set_version: r.feature_set_version, segment: r.segment, status: r.status ?? 'active', churn_probability: r.churn_probability, health_score: r.health_score,
    tier: r.tier, recommended_action: r.recommended_action, scorecard_score: r.scorecard_score, components: r.components,
  };
}

export function accountRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  const read = requireScope(deps.auth, 'score:read');
  return async (app) => {
    app.get('/accounts', {
      onRequest: read,
      schema: { tags: ['scores'], summary: 'Accounts with their latest stored score, riskiest first', security: [{ bearer: [] }],
        querystring: ListQuerySchema, response: { 200: ListResponseSchema, ...errorResponses } },
    }, async (req) => {
      const after = req.query.cursor ? decodeCursor(req.query.cursor) : undefined;
      const rows = await query<StoredScoreRow>(deps.pool, latestScores({ tier: req.query.tier, limit: req.query.limit + 1, after }));
      const page = rows.slice(0, req.query.limit);
      const last = page[page.length - 1];
      return { accounts: page.map(summary), next_cursor: rows.length > req.query.limit && last ? encodeCursor(last.churn_probability, last.account_id) : null };
    });

    app.get('/accounts/:id/score', {
      onRequest: read,
      schema: { tags: ['scores'], summary: "One account's score as of a time, features computed from PostgreSQL", security: [{ bearer: [] }],
        params: AccountParamsSchema, querystring: ScoreQuerySchema, response: { 200: ScoreSchema, ...errorResponses } },
    }, async (req) => {
      const asOf = req.query.as_of ?? defaultAsOf();
      const score = await scoreAccount(deps, req.params.id, asOf, req.query.explain ? req.query.top : 0);
      deps.metrics.scoresServed.inc({ route: 'account_score' });
      return score;
    });

    app.get('/accounts/:id/history', {
      onRequest: read,
      schema: { tags: ['scores'], summary: 'Stored scores over time, newest first, each with its model version', security: [{ bearer: [] }],
        params: AccountParamsSchema, querystring: HistoryQuerySchema, response: { 200: HistoryResponseSchema, ...errorResponses } },
    }, async (req) => {
      const rows = await query<StoredScoreRow>(deps.pool, accountHistory(req.params.id, req.query.limit));
      if (!rows.length && !(await accountExists(deps.pool, req.params.id))) throw new ChurnError('CHURN_ERR_ACCOUNT_NOT_FOUND', `no such account: ${req.params.id}`);
      return { account_id: req.params.id, scores: rows.map(summary) };
    });

    app.get('/accounts/:id/score-change', {
      onRequest: read,
      schema: { tags: ['scores'], summary: 'Two stored scores and the per-feature change in contribution between them', security: [{ bearer: [] }],
        params: AccountParamsSchema, querystring: ChangeQuerySchema, response: { 200: ChangeResponseSchema, ...errorResponses } },
    }, async (req) => {
      const { id } = req.params;
      const to = await storedScoreAt(deps.pool, id, req.query.to ?? null);
      const from = to && (req.query.from ? await storedScoreAt(deps.pool, id, req.query.from) : await storedScoreAt(deps.pool, id, req.query.to ?? null, 1));
      if (!to || !from || from.score_id === to.score_id) {
        if (!(await accountExists(deps.pool, id))) throw new ChurnError('CHURN_ERR_ACCOUNT_NOT_FOUND', `no such account: ${id}`);
        throw new ChurnError('CHURN_ERR_NOT_FOUND', `account ${id} has fewer than two stored scores in that range; run \`churn score\` to store more`);
      }
      return scoreChange(rowToScore(from), rowToScore(to));
    });
  };
}
