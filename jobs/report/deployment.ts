/**
 * "Since deployment" in words: the stored scores of this model version that count (the monitored
 * scores of jobs/monitor/sql.ts: each account's latest score of a month, with an as-of after the
 * version's training window), and what became of them: outcome known, pending or not evaluated,
 * the same counts as the section's table (jobs/monitor/monitor.ts realisedPerformance for this
 * version). A model scored for the first time today has no known outcome for horizon + grace days:
 * the report says so and names the date, instead of "0 known". Scores within the training window are
 * in-sample (the model learnt those accounts' outcomes) and only counted apart.
 */
import { z } from 'zod';
import { query, type Queryable } from '../../core/db.ts';
import { monitoredCountsQuery } from '../monitor/sql.ts';
import type { RealisedPerformance } from '../monitor/monitor.ts';

const Count = z.number().int().nonnegative();

export const DeploymentSchema = z.object({
  version: z.number().int().positive(),
  /**
   * this version's monitored scores with an as-of at or before the report's time (each account's
   * latest of a month, after the training window: the rows of the section's table), and their accounts
   */
  scores: Count,
  accounts: Count,
  firstAsOf: z.string().nullable(),
  lastAsOf: z.string().nullable(),
  horizonDays: z.number().positive(),
  graceDays: z.number().nonnegative(),
  /** of those scores, the ones whose outcome is known (churned or retained: the table's "Outcome known") */
  known: Count,
  /** of those scores, the ones whose outcome is not known yet, and those never evaluated (absent in older reports) */
  pending: Count.optional(),
  excluded: Count.optional(),
  /** when the first outcome is (or was) known: first as-of + horizon + grace */
  firstOutcomeAt: z.string().nullable(),
  /** the end of the version's training window (null: trained on a prepared table; absent in older reports) */
  trainedUntil: z.string().nullable().optional(),
  /** account-months this version scored with an as-of within its training window: in-sample, left out (absent in older reports) */
  inSample: Count.optional(),
});
export type Deployment = z.infer<typeof DeploymentSchema>;

const DAY_MS = 86_400_000;

/**
 * This version's monitored scores up to `until`; `realised` is realisedPerformance of this version
 * alone (its months give the known, pending and not-evaluated counts).
 */
export async function deploymentSummary(db: Queryable, o: { version: number; until: Date; horizonDays: number; graceDays: number; trainedUntil: string | null; realised: RealisedPerformance }): Promise<Deployment> {
  const [r] = await query<{ scores: number; accounts: number; first_as_of: Date | null; last_as_of: Date | null }>(db, monitoredCountsQuery(o.until, o.version));
  const sum = (f: (m: RealisedPerformance['months'][number]) => number) => o.realised.months.reduce((s, m) => s + f(m), 0);
  return {
    version: o.version, scores: r.scores, accounts: r.accounts,
    firstAsOf: r.first_as_of?.toISOString() ?? null, lastAsOf: r.last_as_of?.toISOString() ?? null,
    horizonDays: o.horizonDays, graceDays: o.graceDays,
    known: sum((m) => m.labelled), pending: sum((m) => m.pending), excluded: sum((m) => m.excluded),
    firstOutcomeAt: r.first_as_of ? new Date(r.first_as_of.getTime() + (o.horizonDays + o.graceDays) * DAY_MS).toISOString() : null,
    trainedUntil: o.trainedUntil,
    inSample: (o.realised.inSample ?? []).reduce((s, m) => s + m.accounts, 0),
  };
}

const day = (iso: string) => iso.slice(0, 10);
const int = (v: number) => v.toLocaleString('en-US');

/** The in-sample scores left out, in words ('' when none). */
function inSampleClause(d: Deployment): string {
  if (!d.inSample) return '';
  return ` Left out: ${int(d.inSample)} more ${d.inSample === 1 ? 'score' : 'scores'} (account-months) with an as-of on or before ${day(d.trainedUntil ?? '')}, the end of v${d.version}'s training data: `
    + 'it learnt those accounts\' outcomes, so they would flatter it (in-sample).';
}

/** One or two sentences: what has been scored since deployment and when outcomes are (or became) known. */
export function deploymentSentence(d: Deployment): string {
  if (!d.scores) {
    if (d.inSample) return `Model v${d.version} has no stored scores after its training data yet.${inSampleClause(d)}`;
    return `Model v${d.version} has no stored scores yet (run \`churn score\`); outcomes are known ${d.horizonDays} days (the horizon) plus a ${d.graceDays}-day grace period after an account is scored.`;
  }
  const span = `${day(d.firstAsOf!)}${d.lastAsOf !== d.firstAsOf ? ` to ${day(d.lastAsOf!)}` : ''}`;
  const what = `${int(d.scores)} ${d.scores === 1 ? 'score' : 'scores'} of ${int(d.accounts)} ${d.accounts === 1 ? 'account' : 'accounts'} by model v${d.version} since deployment (${span}; each account's latest score of a month)`;
  if (!d.known) {
    const excluded = d.excluded ? ` (${int(d.excluded)} not evaluated)` : '';
    return `${what}; outcomes are known after the ${d.horizonDays}-day horizon and a ${d.graceDays}-day grace period: the first on ${day(d.firstOutcomeAt!)}${excluded}.${inSampleClause(d)}`;
  }
  const rest = [d.pending ? `${int(d.pending)} pending` : '', d.excluded ? `${int(d.excluded)} not evaluated` : ''].filter(Boolean);
  return `${what}: the outcome of ${int(d.known)} is known (each ${d.horizonDays} days plus a ${d.graceDays}-day grace period after its score)${rest.length ? `, ${rest.join(', ')}` : ''}.${inSampleClause(d)}`;
}
