/**
 * Accuracy reports stored in churn.model_reports: one HTML page and its JSON twin per model version.
 * `dbReports` is the API's ReportSource: `latest` is the champion's report when there is one, else the
 * highest version's.
 */
import { query, type Queryable, type Sql } from '../../core/db.ts';
import type { ReportData } from './data.ts';
import type { ReportSource } from '../../serving/deps.ts';
import type { RealisedPerformance } from '../monitor/monitor.ts';

/** The JSON twin: the report data plus the realised performance of stored scores. */
export type ModelReportJson = ReportData & { realised: RealisedPerformance };

const upsertReport = (version: number, html: string, json: string): Sql => ({
  text: `INSERT INTO churn.model_reports (model_version, html, report) VALUES ($1, $2, $3::jsonb)
    ON CONFLICT (model_version) DO UPDATE SET html = EXCLUDED.html, report = EXCLUDED.report, created_at = now()`,
  values: [version, html, json],
});

/** One version's report, or for 'latest' the champion's (else the highest version's). */
const selectReport = (version: number | 'latest', column: 'html' | 'report'): Sql => ({
  text: `SELECT r.${column === 'html' ? 'html' : 'report'} AS body FROM churn.model_reports r
    LEFT JOIN churn.model_aliases a ON a.alias = 'champion' AND a.version = r.model_version
    WHERE $1::int IS NULL OR r.model_version = $1::int
    ORDER BY (a.version IS NOT NULL) DESC, r.model_version DESC LIMIT 1`,
  values: [version === 'latest' ? null : version],
});

/** Stores (or replaces) a version's report. */
export async function saveModelReport(db: Queryable, version: number, html: string, json: string): Promise<void> {
  await query(db, upsertReport(version, html, json));
}

export async function reportHtml(db: Queryable, version: number | 'latest'): Promise<string | null> {
  const [row] = await query<{ body: string }>(db, selectReport(version, 'html'));
  return row?.body ?? null;
}

/** The JSON twin of a stored report, or null when there is none. */
export async function reportJson(db: Queryable, version: number | 'latest'): Promise<ModelReportJson | null> {
  const [row] = await query<{ body: ModelReportJson }>(db, selectReport(version, 'report'));
  return row?.body ?? null;
}

/** The API's report source backed by churn.model_reports (same interface as serving/reports.ts fileReports). */
export function dbReports(db: Queryable): ReportSource & { json(version: number | 'latest'): Promise<ModelReportJson | null> } {
  return {
    html: (version) => reportHtml(db, version),
    json: (version) => reportJson(db, version),
  };
}
