import { query, type Pool, type Queryable, type Sql } from '../core/db.ts';
import { ChurnError } from '../core/errors.ts';
import { noProgress, type Progress } from '../core/progress.ts';
import type { Catalog } from '../features/catalog.ts';
import { readFeatures } from '../features/online.ts';
import { topRiskFamily } from '../scoring/health.ts';
import type { RowScore, Scorer } from './scorer.ts';

/**
 * Do the explanations name the real cause of churn? On a synthetic world (`churn generate`), every
 * churned account's true main driver is recorded in `churn.synthetic_truth`. Each driver leaves its
 * trace in one feature family (two for fading usage, which shows as fewer active days and as fewer
 * active users):
 *
 * | true driver | explained family that matches |
 * | --- | --- |
 * | fading_usage | usage or engagement |
 * | shallow_adoption | adoption |
 * | support_pain | support |
 * | payment_trouble | commercial |
 * | detractor | sentiment |
 *
 * `unexplained` churn leaves no trace in the data and is not measured. Each account is scored as of
 * midnight UTC `daysBefore` days before its churn, with its point-in-time features; the explained
 * driver is the risk-raising feature with the largest contribution (what the API lists first among
 * the drivers that raise risk), and the "top 3" match asks whether any of the three largest
 * risk-raising contributions falls in the true driver's family. The family rule names instead the
 * family whose contributions sum to the largest risk (`topRiskFamily` in health.ts, the API's
 * `components`): correlated features of one family share its credit, so their sum is steadier.
 */
export const DRIVER_FAMILIES = {
  fading_usage: ['usage', 'engagement'],
  shallow_adoption: ['adoption'],
  support_pain: ['support'],
  payment_trouble: ['commercial'],
  detractor: ['sentiment'],
} as const satisfies Record<string, readonly string[]>;
export type TrueDriver = keyof typeof DRIVER_FAMILIES;
export const TRUE_DRIVERS = Object.keys(DRIVER_FAMILIES) as TrueDriver[];

const DAY = 86_400_000;

export interface ChurnedAccount {
  account_id: string;
  churned_at: Date;
  created_at: Date;
  true_driver: TrueDriver;
}

/** Churned synthetic accounts with a known driver, and the start of the generated data. */
export function churnedWithDriverQuery(): Sql {
  return {
    text: `SELECT t.account_id, t.churned_at, a.created_at, t.true_driver
FROM churn.synthetic_truth t JOIN source.accounts a ON a.account_id = t.account_id
WHERE t.churned AND t.churned_at IS NOT NULL AND t.true_driver = ANY($1::text[])
ORDER BY t.account_id`,
    values: [TRUE_DRIVERS],
  };
}

export function dataStartQuery(): Sql {
  return { text: 'SELECT min(start_date)::timestamptz AS start FROM churn.generation_runs', values: [] };
}

/** Midnight UTC `days` days before `at`: the date the account is scored as of. */
export function asOfBefore(at: Date, days: number): Date {
  return new Date(Math.floor((at.getTime() - days * DAY) / DAY) * DAY);
}

export interface ExplainedAccount {
  accountId: string;
  trueDriver: TrueDriver;
  asOf: Date;
  probability: number;
  /** families of the (up to) three largest risk-raising contributions, largest first */
  topFamilies: string[];
  /** the top feature (for the investigation tables) */
  topFeature: string | null;
  /** the family whose summed contribution raises risk most (health.ts `topRiskFamily`) */
  topFamilyBySum: string | null;
}

/** Families of the `k` largest positive contributions, largest first, with the top feature's name. */
export function riskRaisingFamilies(scorer: Pick<Scorer, 'featureNames' | 'families'>, contributions: ArrayLike<number>, k = 3): { families: string[]; topFeature: string | null } {
  const idx: number[] = [];
  for (let j = 0; j < contributions.length; j++) if (contributions[j] > 0) idx.push(j);
  idx.sort((a, b) => contributions[b] - contributions[a] || a - b);
  const top = idx.slice(0, k);
  return { families: top.map((j) => scorer.families[j] ?? 'other'), topFeature: top.length ? scorer.featureNames[top[0]] : null };
}

export interface MeasureOptions {
  daysBefore: number;
  /** accounts scored earlier than this many days into the data are skipped (truncated look-back windows) */
  minHistoryDays: number;
  progress?: Progress;
}

export interface Measured {
  accounts: ExplainedAccount[];
  skipped: { tooEarly: number; tooYoung: number; noFeatures: number };
}

/** Scores every churned synthetic account with a known driver as of `daysBefore` days before its churn. */
export async function measureDriverAgreement(pool: Pool, catalog: Catalog, scorer: Scorer, opts: MeasureOptions): Promise<Measured> {
  const truth = await readTruth(pool);
  const [{ start }] = await query<{ start: Date | null }>(pool, dataStartQuery());
  const earliest = start ? start.getTime() + opts.minHistoryDays * DAY : -Infinity;
  const skipped = { tooEarly: 0, tooYoung: 0, noFeatures: 0 };
  const byDate = new Map<number, ChurnedAccount[]>();
  for (const t of truth) {
    const asOf = asOfBefore(t.churned_at, opts.daysBefore);
    if (asOf.getTime() < earliest) { skipped.tooEarly++; continue; }
    if (t.created_at.getTime() >= asOf.getTime()) { skipped.tooYoung++; continue; }
    const list = byDate.get(asOf.getTime()) ?? [];
    list.push(t);
    byDate.set(asOf.getTime(), list);
  }
  const progress = opts.progress ?? noProgress;
  progress.start(byDate.size);
  const accounts: ExplainedAccount[] = [];
  for (const [time, group] of [...byDate].sort((a, b) => a[0] - b[0])) {
    const asOf = new Date(time);
    const values = await readFeatures(pool, catalog, group.map((g) => g.account_id), asOf, { requireActive: false });
    for (const t of group) {
      const f = values.get(t.account_id);
      if (!f) { skipped.noFeatures++; continue; }
      accounts.push(explainOne(scorer, scorer.score(f.row), t, asOf));
    }
    progress.increment();
  }
  progress.stop();
  accounts.sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
  return { accounts, skipped };
}

async function readTruth(db: Queryable): Promise<ChurnedAccount[]> {
  const exists = await query<{ t: string | null }>(db, "SELECT to_regclass('churn.synthetic_truth')::text AS t");
  if (!exists[0].t) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', 'this database has no churn.synthetic_truth table: run `churn db migrate` and `churn generate` first');
  const rows = await query<ChurnedAccount>(db, churnedWithDriverQuery());
  if (!rows.length) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', 'churn.synthetic_truth records no churned account with a known driver: this measure needs a synthetic world (`churn generate`)');
  return rows;
}

function explainOne(scorer: Scorer, s: RowScore, t: ChurnedAccount, asOf: Date): ExplainedAccount {
  const { families, topFeature } = riskRaisingFamilies(scorer, s.contributions, 3);
  return {
    accountId: t.account_id, trueDriver: t.true_driver, asOf, probability: s.probability,
    topFamilies: families, topFeature, topFamilyBySum: topRiskFamily(scorer.families, s.contributions)?.family ?? null,
  };
}

export const matchesDriver = (driver: TrueDriver, family: string | null | undefined): boolean =>
  family != null && (DRIVER_FAMILIES[driver] as readonly string[]).includes(family);

export interface AgreementRate {
  accounts: number;
  top1: number;
  top3: number;
  by_family_sum: number;
  mean_probability: number;
}

export interface AgreementSummary {
  overall: AgreementRate;
  perDriver: Record<string, AgreementRate>;
  /** true driver -> explained family of the top risk-raising driver ('none' when nothing raises risk) -> accounts */
  confusion: Record<string, Record<string, number>>;
  /** the same with the family rule (family with the largest summed contribution) */
  confusionByFamily: Record<string, Record<string, number>>;
  /** true driver -> top feature -> accounts (the most frequent few, for the investigation) */
  topFeatures: Record<string, Record<string, number>>;
}

const share = (k: number, n: number) => (n ? k / n : 0);

function rate(list: readonly ExplainedAccount[]): AgreementRate {
  let top1 = 0;
  let top3 = 0;
  let sum = 0;
  let p = 0;
  for (const a of list) {
    top1 += matchesDriver(a.trueDriver, a.topFamilies[0]) ? 1 : 0;
    top3 += a.topFamilies.some((f) => matchesDriver(a.trueDriver, f)) ? 1 : 0;
    sum += matchesDriver(a.trueDriver, a.topFamilyBySum) ? 1 : 0;
    p += a.probability;
  }
  const n = list.length;
  return { accounts: n, top1: share(top1, n), top3: share(top3, n), by_family_sum: share(sum, n), mean_probability: share(p, n) };
}

/** Shares matched (top 1, within the top 3, by family sum), overall and per true driver, and the confusion table. */
export function summarizeAgreement(accounts: readonly ExplainedAccount[], topFeatureRows = 4): AgreementSummary {
  const perDriver: Record<string, AgreementRate> = {};
  const confusion: Record<string, Record<string, number>> = {};
  const confusionByFamily: Record<string, Record<string, number>> = {};
  const topFeatures: Record<string, Record<string, number>> = {};
  for (const d of TRUE_DRIVERS) {
    const list = accounts.filter((a) => a.trueDriver === d);
    if (!list.length) continue;
    perDriver[d] = rate(list);
    const row: Record<string, number> = {};
    const byFamily: Record<string, number> = {};
    const feats: Record<string, number> = {};
    for (const a of list) {
      const f = a.topFamilies[0] ?? 'none';
      row[f] = (row[f] ?? 0) + 1;
      const g = a.topFamilyBySum ?? 'none';
      byFamily[g] = (byFamily[g] ?? 0) + 1;
      const name = a.topFeature ?? 'none';
      feats[name] = (feats[name] ?? 0) + 1;
    }
    confusion[d] = row;
    confusionByFamily[d] = byFamily;
    topFeatures[d] = Object.fromEntries(Object.entries(feats).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).slice(0, topFeatureRows));
  }
  return { overall: rate(accounts), perDriver, confusion, confusionByFamily, topFeatures };
}

/**
 * A confusion table as aligned text lines: one row per true driver, one column per explained family,
 * then the accounts and the shares matched (`feature` rule: top-1 and top-3; `family` rule: top family).
 */
export function formatConfusion(summary: AgreementSummary, families: readonly string[], rule: 'feature' | 'family' = 'feature'): string[] {
  const table = rule === 'feature' ? summary.confusion : summary.confusionByFamily;
  const cols = [...families, ...(Object.values(table).some((r) => r.none) ? ['none'] : [])];
  const w = Math.max(...cols.map((c) => c.length), 5) + 1;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(8);
  const shares = (r: AgreementRate) => (rule === 'feature' ? `${pct(r.top1)}${pct(r.top3)}` : pct(r.by_family_sum));
  const head = `${'true driver \\ explained'.padEnd(24)}${cols.map((c) => c.padStart(w)).join('')}${'n'.padStart(6)}${rule === 'feature' ? `${'top-1'.padStart(8)}${'top-3'.padStart(8)}` : 'match'.padStart(8)}`;
  const lines = [head];
  for (const [d, row] of Object.entries(table)) {
    const r = summary.perDriver[d];
    lines.push(`${d.padEnd(24)}${cols.map((c) => String(row[c] ?? 0).padStart(w)).join('')}${String(r.accounts).padStart(6)}${shares(r)}`);
  }
  lines.push(`${'all'.padEnd(24)}${''.padStart(w * cols.length)}${String(summary.overall.accounts).padStart(6)}${shares(summary.overall)}`);
  return lines;
}
