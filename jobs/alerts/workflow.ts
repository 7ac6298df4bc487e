import { query, type Queryable, type Sql } from '../../core/db.ts';
import { ChurnError } from '../../core/errors.ts';

/**
 * What people do with alerts (GET /v1/alerts, acknowledge, snooze): the columns of migration 016 on
 * churn.alerts, which alert detection never writes. An alert is `acknowledged` once acknowledged (for
 * good), else `snoozed` while its snooze lies ahead, else `open`.
 */

export const ALERT_STATES = ['open', 'acknowledged', 'snoozed'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
export const ALERT_KINDS = ['tier_drop', 'score_drop'] as const;

export interface AlertRow {
  alert_id: number;
  account_id: string;
  account_name: string | null;
  kind: (typeof ALERT_KINDS)[number];
  sequence: number;
  created_at: Date;
  state: AlertState;
  from_health: number;
  to_health: number;
  from_tier: string;
  to_tier: string;
  /** as-of times of the two scores compared, as the webhook payload has them */
  from_as_of: string | null;
  to_as_of: string | null;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  snoozed_until: Date | null;
  snoozed_by: string | null;
}

const STATE = `CASE WHEN a.acknowledged_at IS NOT NULL THEN 'acknowledged' WHEN a.snoozed_until > now() THEN 'snoozed' ELSE 'open' END`;
const COLUMNS = `a.alert_id, a.account_id, acc.name AS account_name, a.kind, a.sequence, a.created_at, ${STATE} AS state,
  a.from_health, a.to_health, a.from_tier, a.to_tier, a.payload -> 'from' ->> 'as_of' AS from_as_of, a.payload -> 'to' ->> 'as_of' AS to_as_of,
  a.acknowledged_at, a.acknowledged_by, a.snoozed_until, a.snoozed_by`;

export interface AlertFilter {
  accountId?: string;
  kind?: string;
  state?: AlertState;
  /** keyset: alerts older than this one */
  beforeId?: number;
  limit: number;
}

/** Alerts newest first (by id), filtered, after a keyset cursor. */
export const listAlertsSql = (f: AlertFilter): Sql => ({
  text: `SELECT ${COLUMNS}
    FROM churn.alerts a LEFT JOIN source.accounts acc ON acc.account_id = a.account_id
    WHERE ($1::text IS NULL OR a.account_id = $1) AND ($2::text IS NULL OR a.kind = $2)
      AND ($3::text IS NULL
        OR ($3 = 'acknowledged' AND a.acknowledged_at IS NOT NULL)
        OR ($3 = 'snoozed' AND a.acknowledged_at IS NULL AND a.snoozed_until > now())
        OR ($3 = 'open' AND a.acknowledged_at IS NULL AND (a.snoozed_until IS NULL OR a.snoozed_until <= now())))
      AND ($4::bigint IS NULL OR a.alert_id < $4)
    ORDER BY a.alert_id DESC LIMIT $5`,
  values: [f.accountId ?? null, f.kind ?? null, f.state ?? null, f.beforeId ?? null, f.limit],
});

export async function listAlerts(db: Queryable, f: AlertFilter): Promise<AlertRow[]> {
  return query<AlertRow>(db, listAlertsSql(f));
}

async function oneAlert(db: Queryable, id: number): Promise<AlertRow | null> {
  const rows = await query<AlertRow>(db, { text: `SELECT ${COLUMNS} FROM churn.alerts a LEFT JOIN source.accounts acc ON acc.account_id = a.account_id WHERE a.alert_id = $1`, values: [id] });
  return rows[0] ?? null;
}

const notFound = (id: number) => new ChurnError('CHURN_ERR_NOT_FOUND', `no alert with id ${id}`);

/** Acknowledges an alert (idempotent: the first acknowledgement's time and author are kept). */
export async function acknowledgeAlert(db: Queryable, id: number, by: string): Promise<AlertRow> {
  const rows = await query(db, {
    text: `UPDATE churn.alerts SET acknowledged_at = coalesce(acknowledged_at, now()), acknowledged_by = coalesce(acknowledged_by, $2)
      WHERE alert_id = $1 RETURNING alert_id`,
    values: [id, by],
  });
  if (!rows.length) throw notFound(id);
  return (await oneAlert(db, id))!;
}

/** Snoozes an alert until a time (a later call replaces it); an acknowledged alert cannot be snoozed (409). */
export async function snoozeAlert(db: Queryable, id: number, until: Date, by: string): Promise<AlertRow> {
  const rows = await query(db, {
    text: 'UPDATE churn.alerts SET snoozed_until = $2, snoozed_by = $3 WHERE alert_id = $1 AND acknowledged_at IS NULL RETURNING alert_id',
    values: [id, until, by],
  });
  if (!rows.length) {
    const found = await oneAlert(db, id);
    if (!found) throw notFound(id);
    throw new ChurnError('CHURN_ERR_ALERT_STATE', `alert ${id} was acknowledged at ${found.acknowledged_at?.toISOString()} by ${found.acknowledged_by}; an acknowledged alert is not snoozed`);
  }
  return (await oneAlert(db, id))!;
}
