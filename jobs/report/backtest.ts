/**
 * The report's backtest over time for a version trained with --group-by-account: the model's held-out
 * accounts (the validation and test sides of the seeded account split, never trained on) at every
 * stored observation date whose outcome is known (by the recorded data end), so each month shows
 * predicted against actual churn on accounts the model has not seen. A version trained on an
 * out-of-time split (the default) has seen every account at earlier dates: only its held-out dates
 * are honest, and the report keeps the backtest over its evaluated rows.
 */
import type { Pool } from '../../core/db.ts';
import { isChurnError } from '../../core/errors.ts';
import { accountShare, buildTrainingSet, TrainingSetOptionsSchema } from '../../training/dataset.ts';
import { summariseGroups } from '../../training/evaluate.ts';
import type { ReportData } from './data.ts';
import type { Scorer } from '../../training/scorer.ts';
import type { PreparedTable } from '../../training/table.ts';
import { tableRow } from '../../training/register-run.ts';
import type { EvaluationRows } from './rows.ts';

export interface HeldOutBacktest {
  backtest: ReportData['backtest'];
  /** observation dates covered */
  dates: number;
}

/**
 * Predicted against actual churn per month on the held-out accounts, or null when the rows cannot be
 * rebuilt that way (a caller's table, no held-out share, snapshots missing): the report then keeps the
 * backtest over its evaluated rows.
 */
export async function heldOutBacktest(pool: Pool, ev: EvaluationRows, scorer: Scorer, months = 12): Promise<HeldOutBacktest | null> {
  const src = ev.table.source;
  if (src.kind !== 'database') return null;
  if (!ev.dataset.groupByAccount) return null;
  const options = { ...ev.dataset, horizonDays: ev.horizonDays, featureSetVersion: src.featureSetVersion, asOfs: 'stored' as const, validDates: 0, testDates: 0 };
  const o = TrainingSetOptionsSchema.parse(options);
  // the shares the version was trained with: a recorded split names its sides' dates, an older one its date counts
  const hasValid = ev.recorded ? ev.recorded.validAsOfs.length > 0 : (ev.dataset.validDates ?? 0) > 0;
  const hasTest = ev.recorded ? ev.recorded.testAsOfs.length > 0 : (ev.dataset.testDates ?? 0) > 0;
  const validCut = hasValid ? o.validShare : 0;
  const heldOutCut = validCut + (hasTest ? o.testShare : 0);
  const heldOut = (id: string) => accountShare(id, o.seed) < heldOutCut;
  const ids = ev.table.context?.accountId;
  if (heldOutCut === 0 || !ids || !ev.rows.every((i) => heldOut(ids[i]))) return null;
  let table: PreparedTable;
  try {
    ({ table } = await buildTrainingSet(pool, options));
  } catch (err) {
    if (isChurnError(err) && err.code === 'CHURN_ERR_NOT_ENOUGH_DATA') return null;
    throw err;
  }
  const accounts = table.context!.accountId!;
  const asOf = table.context!.asOf!;
  const rows = table.ids.flatMap((_, i) => (heldOut(accounts[i]) ? [i] : []));
  if (!rows.length) return null;
  const y = rows.map((i) => table.label[i]);
  const p = rows.map((i) => scorer.score(tableRow(table, i)).probability);
  const groups = summariseGroups(y, p, rows.map((i) => asOf[i].slice(0, 7)));
  const backtest = Object.entries(groups).slice(-months).map(([month, g]) => ({
    month, n: g.n, predictedMean: g.meanPredicted, actualRate: g.churnRate, auc: g.auc,
  }));
  return { backtest, dates: new Set(rows.map((i) => asOf[i])).size };
}
