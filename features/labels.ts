import { z } from 'zod';
import { query, type Queryable } from '../core/db.ts';
import { ChurnError, describeIssues } from '../core/errors.ts';
import { dataEndQuery, labelsQuery, labelStatusQuery, labelSummaryQuery, type LabelSqlParams, type LabelStatus } from './labels.sql.ts';

export { labelsQuery, labelStatusQuery, labelSummaryQuery, dataEndQuery, type LabelStatus } from './labels.sql.ts';

const UNIT_DAYS = { d: 1, w: 7 } as const;

/** A duration written as `30d`, `4w` or a bare number of days; parsed to a whole number of days. */
export const DurationSchema = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0) {
        ctx.addIssue({ code: 'custom', message: `a duration must be a whole, non-negative number of days, got ${v}` });
        return z.NEVER;
      }
      return v;
    }
    const m = /^\s*(\d{1,5})\s*([dw]?)\s*$/i.exec(v);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `invalid duration "${v}" (expected whole days or weeks, e.g. 30d, 4w or 14)` });
      return z.NEVER;
    }
    const unit = (m[2] || 'd').toLowerCase() as keyof typeof UNIT_DAYS;
    return Number(m[1]) * UNIT_DAYS[unit];
  });

/** Parses `30d` / `4w` / `14` to days; throws CHURN_ERR_VALIDATION with the option name on bad input. */
export function parseDuration(text: string | number, what = 'duration'): number {
  const r = DurationSchema.safeParse(text);
  if (!r.success) throw new ChurnError('CHURN_ERR_VALIDATION', `${what}: ${describeIssues(r.error.issues)}`);
  return r.data;
}

export const LabelOptionsSchema = z.object({
  asOfs: z.array(z.date()).min(1, 'at least one observation date is needed'),
  horizonDays: z.number().positive().max(3650).default(30),
  leadDays: z.number().min(0).max(3650).default(0),
  graceDays: z.number().min(0).max(3650).default(14),
  minTenureDays: z.number().min(0).max(3650).default(14),
  dataEnd: z.date().optional(),
  accountIds: z.array(z.string()).optional(),
});
export type LabelOptions = z.input<typeof LabelOptionsSchema>;

export interface LabelRow {
  account_id: string;
  as_of: Date;
  churned: boolean;
  churned_at: Date | null;
}

export interface LabelStatusRow {
  account_id: string;
  as_of: Date;
  status: LabelStatus;
  churned_at: Date | null;
}

/** Validates label options (CHURN_ERR_VALIDATION on bad input) and turns them into SQL parameters. */
export function labelParams(opts: LabelOptions): LabelSqlParams {
  const r = LabelOptionsSchema.safeParse(opts);
  if (!r.success) throw new ChurnError('CHURN_ERR_VALIDATION', `label options: ${describeIssues(r.error.issues)}`);
  for (const d of r.data.asOfs) if (Number.isNaN(d.getTime())) throw new ChurnError('CHURN_ERR_VALIDATION', 'label options: invalid observation date');
  return { ...r.data, dataEnd: r.data.dataEnd ?? null, accountIds: r.data.accountIds ?? null };
}

/** Labels for every observation with a known outcome (unknown outcomes and unobserved accounts are left out). */
export async function buildLabels(db: Queryable, opts: LabelOptions): Promise<LabelRow[]> {
  return query<LabelRow & Record<string, unknown>>(db, labelsQuery(labelParams(opts)));
}

/** Every observation of an existing account with its status, including the excluded ones and why. */
export async function labelStatuses(db: Queryable, opts: LabelOptions): Promise<LabelStatusRow[]> {
  return query<LabelStatusRow & Record<string, unknown>>(db, labelStatusQuery(labelParams(opts)));
}

/** Counts per status over all observation dates. */
export async function summarizeLabels(db: Queryable, opts: LabelOptions): Promise<Record<LabelStatus, number>> {
  const rows = await query<{ status: LabelStatus; n: number }>(db, labelSummaryQuery(labelParams(opts)));
  const out: Record<LabelStatus, number> = { churned: 0, retained: 0, unknown: 0, churned_in_lead: 0, too_young: 0, not_paying: 0 };
  for (const r of rows) out[r.status] += r.n;
  return out;
}

/** The end of the data: the latest timestamp in source subscriptions and events (null when both are empty). */
export async function resolveDataEnd(db: Queryable): Promise<Date | null> {
  const rows = await query<{ data_end: Date | null }>(db, dataEndQuery());
  return rows[0]?.data_end ?? null;
}
