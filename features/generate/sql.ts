/** SQL for the generator: small typed templates returning `{ text, values }`. */
import type { Sql } from '../../core/db.ts';
import { EVENT_TYPES } from './catalog.ts';

/** Source tables the generator fills, in foreign-key order (parents first). */
export const GENERATED_TABLES = ['accounts', 'users', 'subscriptions', 'event_types', 'events', 'support_tickets', 'survey_responses', 'invoices', 'payment_attempts'] as const;

export const EVENTS_INDEX_NAME = 'events_account_time_idx';

export const sourceHasAccounts = (): Sql => ({ text: 'SELECT EXISTS (SELECT 1 FROM source.accounts) AS present' });

/** Empties the source tables and the ground truth; CASCADE also clears rows in other tables that reference accounts. */
export const truncateGenerated = (): Sql => ({
  text: `TRUNCATE ${GENERATED_TABLES.map((t) => `source.${t}`).join(', ')}, churn.synthetic_truth CASCADE`,
});

export const upsertEventTypes = (): Sql => ({
  text: `INSERT INTO source.event_types (event_type, feature_area, is_key_feature, description)
    SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[])
    ON CONFLICT (event_type) DO UPDATE SET feature_area = EXCLUDED.feature_area,
      is_key_feature = EXCLUDED.is_key_feature, description = EXCLUDED.description`,
  values: [EVENT_TYPES.map((t) => t.eventType), EVENT_TYPES.map((t) => t.area), EVENT_TYPES.map((t) => t.isKeyFeature), EVENT_TYPES.map((t) => t.description)],
});

export const ensureEventPartitions = (from: Date, to: Date): Sql => ({ text: 'SELECT source.ensure_event_partitions($1, $2) AS created', values: [from, to] });

export const dropEventsIndex = (): Sql => ({ text: `DROP INDEX IF EXISTS source.${EVENTS_INDEX_NAME}` });

/** The same definition as in 001_source.sql. */
export const createEventsIndex = (): Sql => ({
  text: `CREATE INDEX IF NOT EXISTS ${EVENTS_INDEX_NAME} ON source.events (account_id, occurred_at) INCLUDE (event_type, user_id, quantity)`,
});

/**
 * Statistics for the planner, and the visibility map a database in service gets from autovacuum:
 * until it is set, the covering events index cannot answer index-only and account scores read the
 * heap (about 25% slower). 15 s for 35 M events here, against 150 s for generating them.
 */
export const vacuumGenerated = (): Sql => ({
  text: `VACUUM (ANALYZE) ${GENERATED_TABLES.map((t) => `source.${t}`).join(', ')}, churn.synthetic_truth`,
});

/**
 * A run is recorded when it starts, with no row counts (`UNFINISHED_COUNTS`), and completed with its
 * counts, duration and time only at its very end: a run whose counts are still empty was interrupted
 * (the process killed mid-load), and the source tables hold part of a data set.
 */
export const UNFINISHED_COUNTS = '{}';

export const insertStartedRun = (r: { seed: number; accounts: number; months: number; startDate: string; endDate: string }): Sql => ({
  text: `INSERT INTO churn.generation_runs (seed, accounts, months, start_date, end_date, row_counts, seconds)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, 0) RETURNING run_id`,
  values: [r.seed, r.accounts, r.months, r.startDate, r.endDate, UNFINISHED_COUNTS],
});

export const completeRun = (runId: number, r: { rowCounts: Record<string, number>; seconds: number }): Sql => ({
  text: 'UPDATE churn.generation_runs SET row_counts = $2, seconds = $3, created_at = now() WHERE run_id = $1',
  values: [runId, JSON.stringify(r.rowCounts), r.seconds],
});

export const deleteRun = (runId: number): Sql => ({ text: 'DELETE FROM churn.generation_runs WHERE run_id = $1', values: [runId] });

/**
 * What the latest generation left: its options and whether it finished; whether the source tables
 * hold accounts and ground truth; whether files were ingested after it (or at all, when no run is recorded).
 */
export const generationState = (): Sql => ({
  text: `WITH latest AS (
      SELECT run_id, seed, accounts, months, end_date::text AS end_date, row_counts = $1::jsonb AS unfinished, created_at
      FROM churn.generation_runs ORDER BY run_id DESC LIMIT 1)
    SELECT (SELECT row_to_json(latest) FROM latest) AS latest,
      EXISTS (SELECT 1 FROM source.accounts) AS has_accounts,
      EXISTS (SELECT 1 FROM churn.synthetic_truth) AS has_truth,
      EXISTS (SELECT 1 FROM churn.ingestion_runs WHERE created_at > coalesce((SELECT created_at FROM latest), '-infinity')) AS ingested_since`,
  values: [UNFINISHED_COUNTS],
});
