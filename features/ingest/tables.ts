/**
 * The ingestion contracts of the nine source tables (features/migrations/001_source.sql, and the
 * accounts' attributes of 017_account_attributes.sql). Types,
 * enums, bounds and cross-column rules repeat the SQL constraints, so a row that passes here never
 * fails in PostgreSQL.
 */
import { ChurnError } from '../../core/errors.ts';
import { defineTable, notBefore, type Reference, type RowCheck, type TableContract } from './contract.ts';

const accountRef: Reference = { column: 'account_id', table: 'accounts', parentColumn: 'account_id', noun: 'account' };
const MONEY = { type: 'numeric', precision: 12, scale: 2, min: 0 } as const;

const accounts = defineTable({
  name: 'accounts',
  description: 'one row per customer account',
  key: ['account_id'],
  // the customer's own columns (acquisition channel, country, company size, ...): migration 017
  attributes: { column: 'attributes', max: 50, description: 'your own attributes: every other column of the file, and an optional JSON column `attributes`, as text by name' },
  columns: [
    { name: 'account_id', type: 'text', description: 'your identifier of the account' },
    { name: 'name', type: 'text', description: 'display name' },
    { name: 'segment', type: 'text', values: ['smb', 'mid_market', 'enterprise'], description: 'market segment' },
    { name: 'plan', type: 'text', description: 'current plan name' },
    { name: 'industry', type: 'text', nullable: true, description: 'industry' },
    { name: 'region', type: 'text', nullable: true, description: 'sales region' },
    { name: 'created_at', type: 'timestamptz', happened: true, description: 'when the account was created' },
    { name: 'owner', type: 'text', nullable: true, description: 'who looks after the account (its CSM or account manager), when known' },
  ],
});

const users = defineTable({
  name: 'users',
  description: 'people who can log in, each in one account',
  key: ['user_id'],
  references: [accountRef],
  checks: [notBefore('deactivated_at', 'created_at', true)],
  columns: [
    { name: 'user_id', type: 'text', description: 'your identifier of the user' },
    { name: 'account_id', type: 'text', description: 'the account (must exist in accounts)' },
    { name: 'role', type: 'text', values: ['admin', 'member', 'viewer'], default: 'member', description: 'role in the account' },
    { name: 'created_at', type: 'timestamptz', happened: true, description: 'when the user was invited or created' },
    { name: 'deactivated_at', type: 'timestamptz', nullable: true, description: 'when the user was removed (>= created_at)' },
  ],
});

/**
 * Labels and features read `is_trial` and `ended_at`, not the status: a period the source calls a
 * trial must be flagged as one (else it counts as paid, and a lapsed trial as a churned customer), and
 * a canceled or ended period must say when it ended (else it counts as running forever).
 */
const statusAgrees: RowCheck[] = [
  {
    column: 'is_trial', rule: "is_trial when status is 'trialing'",
    test: (row) => (row.status === 'trialing' && row.is_trial !== true ? "status is 'trialing' but is_trial is false or left out: mark a trial period with is_trial true, or it counts as paid" : null),
  },
  {
    column: 'ended_at', rule: "ended_at when status is 'canceled' or 'ended'",
    test: (row) => ((row.status === 'canceled' || row.status === 'ended') && (row.ended_at === null || row.ended_at === undefined)
      ? `status is '${String(row.status)}' but ended_at is empty: give the end of the period (when paying stopped), or it counts as running forever` : null),
  },
];

const subscriptions = defineTable({
  name: 'subscriptions',
  description: 'one row per contract period; renewals, upgrades and downgrades are new rows',
  key: ['subscription_id'],
  references: [accountRef],
  checks: [notBefore('ended_at', 'started_at', false), ...statusAgrees],
  columns: [
    { name: 'subscription_id', type: 'text', description: 'identifier of the contract period' },
    { name: 'account_id', type: 'text', description: 'the account (must exist in accounts)' },
    { name: 'plan', type: 'text', description: 'plan name' },
    { name: 'mrr', ...MONEY, description: 'monthly recurring revenue, >= 0' },
    { name: 'seats', type: 'integer', min: 0, description: 'licensed seats, >= 0' },
    { name: 'billing_period', type: 'text', values: ['monthly', 'annual'], description: 'billing period' },
    { name: 'discount_pct', type: 'numeric', precision: 5, scale: 2, min: 0, max: 100, default: 0, description: 'discount in percent, 0 to 100' },
    { name: 'is_trial', type: 'boolean', default: false, description: 'a trial period' },
    { name: 'change_type', type: 'text', values: ['new', 'renewal', 'upgrade', 'downgrade', 'reactivation'], default: 'new', description: 'why this period started' },
    { name: 'started_at', type: 'timestamptz', description: 'start of the period' },
    { name: 'ended_at', type: 'timestamptz', nullable: true, description: 'end of the period (> started_at)' },
    { name: 'canceled_at', type: 'timestamptz', happened: true, nullable: true, description: 'when cancellation was requested' },
    { name: 'status', type: 'text', values: ['trialing', 'active', 'canceled', 'ended'], description: 'status' },
  ],
});

const eventTypes = defineTable({
  name: 'event_types',
  description: 'the product events you track, each in one feature area',
  key: ['event_type'],
  columns: [
    { name: 'event_type', type: 'text', description: 'event name as it appears in events' },
    { name: 'feature_area', type: 'text', description: 'product area the event belongs to' },
    { name: 'is_key_feature', type: 'boolean', default: false, description: 'a feature that predicts retention' },
    { name: 'description', type: 'text', nullable: true, description: 'what the event means' },
  ],
});

const events = defineTable({
  name: 'events',
  description: 'product usage events (large: streamed, partitioned by month)',
  key: ['event_id', 'occurred_at'],
  partitionColumn: 'occurred_at',
  references: [accountRef, { column: 'event_type', table: 'event_types', parentColumn: 'event_type', noun: 'event type' }],
  columns: [
    { name: 'event_id', type: 'bigint', description: 'event identifier (an integer)' },
    { name: 'account_id', type: 'text', description: 'the account (must exist in accounts)' },
    { name: 'user_id', type: 'text', nullable: true, description: 'the user, when known' },
    { name: 'event_type', type: 'text', description: 'the event (must exist in event_types)' },
    { name: 'occurred_at', type: 'timestamptz', happened: true, description: 'when it happened' },
    { name: 'quantity', type: 'integer', min: 0, default: 1, description: 'how many, >= 0' },
  ],
});

const supportTickets = defineTable({
  name: 'support_tickets',
  description: 'support tickets',
  key: ['ticket_id'],
  references: [accountRef],
  checks: [notBefore('closed_at', 'opened_at', true), notBefore('escalated_at', 'opened_at', true)],
  columns: [
    { name: 'ticket_id', type: 'text', description: 'ticket identifier' },
    { name: 'account_id', type: 'text', description: 'the account (must exist in accounts)' },
    { name: 'opened_at', type: 'timestamptz', happened: true, description: 'when it was opened' },
    { name: 'closed_at', type: 'timestamptz', happened: true, nullable: true, description: 'when it was closed (>= opened_at)' },
    { name: 'priority', type: 'text', values: ['low', 'normal', 'high', 'urgent'], description: 'priority' },
    { name: 'status', type: 'text', values: ['open', 'pending', 'solved', 'closed'], description: 'status' },
    { name: 'escalated', type: 'boolean', default: false, description: 'escalated to engineering or management' },
    { name: 'escalated_at', type: 'timestamptz', happened: true, nullable: true, description: 'when it was escalated (>= opened_at)' },
    { name: 'category', type: 'text', nullable: true, description: 'category' },
    { name: 'csat', type: 'smallint', nullable: true, min: 1, max: 5, description: 'satisfaction rating, 1 to 5' },
  ],
});

const surveyResponses = defineTable({
  name: 'survey_responses',
  description: 'NPS and CSAT survey answers',
  key: ['response_id'],
  references: [accountRef],
  checks: [
    {
      column: 'score',
      rule: 'nps: 0 to 10; csat: 1 to 5',
      test: (row) => {
        const score = row.score as number;
        if (row.survey_type === 'nps' && (score < 0 || score > 10)) return `an nps score must be between 0 and 10, got ${score}`;
        if (row.survey_type === 'csat' && (score < 1 || score > 5)) return `a csat score must be between 1 and 5, got ${score}`;
        return null;
      },
    },
  ],
  columns: [
    { name: 'response_id', type: 'text', description: 'response identifier' },
    { name: 'account_id', type: 'text', description: 'the account (must exist in accounts)' },
    { name: 'user_id', type: 'text', nullable: true, description: 'the responding user, when known' },
    { name: 'survey_type', type: 'text', values: ['nps', 'csat'], description: 'survey kind' },
    { name: 'score', type: 'smallint', min: 0, max: 10, description: 'nps: 0 to 10; csat: 1 to 5' },
    { name: 'responded_at', type: 'timestamptz', happened: true, description: 'when it was answered' },
    { name: 'comment', type: 'text', nullable: true, description: 'free text' },
  ],
});

const invoices = defineTable({
  name: 'invoices',
  description: 'invoices issued to accounts',
  key: ['invoice_id'],
  references: [accountRef],
  // subscription_id need not name a loaded subscription, but one that is loaded must be the account's
  owners: [{ column: 'subscription_id', table: 'subscriptions', parentColumn: 'subscription_id', noun: 'subscription' }],
  checks: [notBefore('due_at', 'issued_at', true), notBefore('paid_at', 'issued_at', true)],
  columns: [
    { name: 'invoice_id', type: 'text', description: 'invoice identifier' },
    { name: 'account_id', type: 'text', description: 'the account (must exist in accounts)' },
    { name: 'subscription_id', type: 'text', nullable: true, description: 'the contract period billed, when known (a loaded one must be this account\'s)' },
    { name: 'issued_at', type: 'timestamptz', description: 'when it was issued' },
    { name: 'due_at', type: 'timestamptz', description: 'when it is due (>= issued_at)' },
    { name: 'paid_at', type: 'timestamptz', happened: true, nullable: true, description: 'when it was paid (>= issued_at)' },
    { name: 'amount', ...MONEY, description: 'amount, >= 0' },
    { name: 'status', type: 'text', values: ['open', 'paid', 'past_due', 'void', 'uncollectible'], description: 'status' },
    { name: 'failed_attempts', type: 'integer', min: 0, default: 0, description: 'failed charges so far, >= 0' },
  ],
});

const paymentAttempts = defineTable({
  name: 'payment_attempts',
  description: 'each charge attempt, so failed payments are known point-in-time',
  key: ['attempt_id'],
  references: [{ column: 'invoice_id', table: 'invoices', parentColumn: 'invoice_id', noun: 'invoice' }, accountRef],
  // also a foreign key (invoice_id, account_id) -> invoices: migration 018
  owners: [{ column: 'invoice_id', table: 'invoices', parentColumn: 'invoice_id', noun: 'invoice' }],
  columns: [
    { name: 'attempt_id', type: 'text', description: 'attempt identifier' },
    { name: 'invoice_id', type: 'text', description: 'the invoice (must exist in invoices, under this account)' },
    { name: 'account_id', type: 'text', description: 'the account (must exist in accounts)' },
    { name: 'attempted_at', type: 'timestamptz', happened: true, description: 'when the charge was attempted' },
    { name: 'succeeded', type: 'boolean', description: 'whether it succeeded' },
    { name: 'failure_reason', type: 'text', nullable: true, description: 'why it failed' },
  ],
});

/** Every source table that `churn ingest` accepts, parents before children (a safe loading order). */
export const SOURCE_TABLES: readonly TableContract[] = [accounts, users, subscriptions, eventTypes, events, supportTickets, surveyResponses, invoices, paymentAttempts];

export const SOURCE_TABLE_NAMES = SOURCE_TABLES.map((t) => t.name);

export function getContract(table: string): TableContract {
  const found = SOURCE_TABLES.find((t) => t.name === table);
  if (!found) throw new ChurnError('CHURN_ERR_UNKNOWN_TABLE', `unknown source table '${table}'; expected one of ${SOURCE_TABLE_NAMES.join(', ')}`);
  return found;
}
