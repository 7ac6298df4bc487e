/**
 * "Since deployment" in words: how many scores this model version has stored, and when their outcomes
 * become known. An outcome is known once as-of + horizon + grace has passed the end of the data (the
 * label rule of features/labels.sql.ts, with the grace period `churn monitor` uses), so a model scored
 * for the first time today has no known outcome for horizon + grace days: the report says so and
 * names the date, instead of "0 known".
 */
import { z } from 'zod';
import { query, type Queryable, type Sql } from '../../core/db.ts';

const Count = z.number().int().nonnegative();

export const DeploymentSchema = z.object({
  version: z.number().int().positive(),
  /** stored scores of this version with an as-of at or before the report's time, and their accounts */
  scores: Count,
  accounts: Count,
  firstAsOf: z.string().nullable(),
  lastAsOf: z.string().nullable(),
  horizonDays: z.number().positive(),
  graceDays: z.number().nonnegative(),
  /** of those scores, the ones whose outcome is known by the end of the data */
  known: Count,
  /** when the first outcome is (or was) known: first as-of + horizon + grace */
  firstOutcomeAt: z.string().nullable(),
});
export type Deployment = z.infer<typeof DeploymentSchema>;

const DAY_MS = 86_400_000;

export const deploymentQuery = (version: number, until: Date, dataEnd: Date, days: number): Sql => ({
  text: `SELECT count(*)::int AS scores, count(DISTINCT account_id)::int AS accounts, min(as_of) AS first_as_of, max(as_of) AS last_as_of,
    (count(*) FILTER (WHERE as_of + $4::float8 * interval '1 day' <= $3))::int AS known
  FROM churn.score_history WHERE model_version = $1 AND as_of <= $2`,
  values: [version, until, dataEnd, days],
});

/** This version's stored scores up to `until`, outcomes counted as known up to `dataEnd`. */
export async function deploymentSummary(db: Queryable, o: { version: number; until: Date; dataEnd: Date; horizonDays: number; graceDays: number }): Promise<Deployment> {
  const [r] = await query<{ scores: number; accounts: number; first_as_of: Date | null; last_as_of: Date | null; known: number }>(
    db, deploymentQuery(o.version, o.until, o.dataEnd, o.horizonDays + o.graceDays));
  return {
    version: o.version, scores: r.scores, accounts: r.accounts,
    firstAsOf: r.first_as_of?.toISOString() ?? null, lastAsOf: r.last_as_of?.toISOString() ?? null,
    horizonDays: o.horizonDays, graceDays: o.graceDays, known: r.known,
    firstOutcomeAt: r.first_as_of ? new Date(r.first_as_of.getTime() + (o.horizonDays + o.graceDays) * DAY_MS).toISOString() : null,
  };
}

const day = (iso: string) => iso.slice(0, 10);
const int = (v: number) => v.toLocaleString('en-US');

/** One sentence: what has been scored since deployment and when outcomes are (or became) known. */
export function deploymentSentence(d: Deployment): string {
  if (!d.scores) return `Model v${d.version} has no stored scores yet (run \`churn score\`); outcomes are known ${d.horizonDays} days (the horizon) plus a ${d.graceDays}-day grace period after an account is scored.`;
  const what = `${int(d.scores)} scores of ${int(d.accounts)} accounts since deployment (${day(d.firstAsOf!)}${d.lastAsOf !== d.firstAsOf ? ` to ${day(d.lastAsOf!)}` : ''})`;
  if (!d.known) {
    return `${what}; outcomes are known after the ${d.horizonDays}-day horizon and a ${d.graceDays}-day grace period: the first on ${day(d.firstOutcomeAt!)}.`;
  }
  return `${what}; the outcome of ${int(d.known)} of them is known (each ${d.horizonDays} days plus a ${d.graceDays}-day grace period after its score).`;
}
