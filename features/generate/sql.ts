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

export const insertGenerationRun = (r: { seed: number; accounts: number; months: number; startDate: string; endDate: string; rowCounts: Record<string, number>; seconds: number }): Sql => ({
  text: `INSERT INTO churn.generation_runs (seed, accounts, months, start_date, end_date, row_counts, seconds)
    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING run_id`,
  values: [r.seed, r.accounts, r.months, r.startDate, r.endDate, JSON.stringify(r.rowCounts), r.seconds],
});
