-- Source data: what a SaaS company already keeps. Loaded by `churn ingest` or `churn generate`.
-- Point-in-time rule: every fact carries the time it became known (created_at, started_at,
-- occurred_at, opened_at, responded_at, issued_at, attempted_at); features read only those.
CREATE SCHEMA IF NOT EXISTS source;

CREATE TABLE source.accounts (
  account_id   text PRIMARY KEY,
  name         text NOT NULL,
  segment      text NOT NULL CHECK (segment IN ('smb', 'mid_market', 'enterprise')),
  plan         text NOT NULL,
  industry     text,
  region       text,
  created_at   timestamptz NOT NULL
);

CREATE TABLE source.users (
  user_id        text PRIMARY KEY,
  account_id     text NOT NULL REFERENCES source.accounts (account_id),
  role           text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member', 'viewer')),
  created_at     timestamptz NOT NULL,
  deactivated_at timestamptz,
  CHECK (deactivated_at IS NULL OR deactivated_at >= created_at)
);
CREATE INDEX users_account_idx ON source.users (account_id, created_at);

-- One row per contract period: a renewal, upgrade or downgrade is a new row that follows the previous one.
CREATE TABLE source.subscriptions (
  subscription_id          text PRIMARY KEY,
  account_id               text NOT NULL REFERENCES source.accounts (account_id),
  plan                     text NOT NULL,
  mrr                      numeric(12, 2) NOT NULL CHECK (mrr >= 0),
  seats                    integer NOT NULL CHECK (seats >= 0),
  billing_period           text NOT NULL CHECK (billing_period IN ('monthly', 'annual')),
  discount_pct             numeric(5, 2) NOT NULL DEFAULT 0 CHECK (discount_pct >= 0 AND discount_pct <= 100),
  is_trial                 boolean NOT NULL DEFAULT false,
  change_type              text NOT NULL DEFAULT 'new' CHECK (change_type IN ('new', 'renewal', 'upgrade', 'downgrade', 'reactivation')),
  started_at               timestamptz NOT NULL,
  ended_at                 timestamptz,
  canceled_at              timestamptz,
  status                   text NOT NULL CHECK (status IN ('trialing', 'active', 'canceled', 'ended')),
  CHECK (ended_at IS NULL OR ended_at > started_at)
);
CREATE INDEX subscriptions_account_idx ON source.subscriptions (account_id, started_at);

-- Product feature areas: each event type belongs to one; adoption features count areas.
CREATE TABLE source.event_types (
  event_type     text PRIMARY KEY,
  feature_area   text NOT NULL,
  is_key_feature boolean NOT NULL DEFAULT false,
  description    text
);

-- Tens of millions of rows: range-partitioned by month on occurred_at, indexed for per-account
-- window scans. No foreign key to accounts (a per-row trigger would dominate bulk loads);
-- ingestion checks accounts set-based in its staging table instead.
CREATE TABLE source.events (
  event_id     bigint NOT NULL,
  account_id   text NOT NULL,
  user_id      text,
  event_type   text NOT NULL,
  occurred_at  timestamptz NOT NULL,
  quantity     integer NOT NULL DEFAULT 1 CHECK (quantity >= 0),
  PRIMARY KEY (event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE TABLE source.events_default PARTITION OF source.events DEFAULT;
CREATE INDEX events_account_time_idx ON source.events (account_id, occurred_at) INCLUDE (event_type, user_id, quantity);

-- Creates the monthly partitions covering [from, to); existing ones are kept.
CREATE FUNCTION source.ensure_event_partitions(from_ts timestamptz, to_ts timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  m date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
  created integer := 0;
  part text;
BEGIN
  WHILE m < to_ts AT TIME ZONE 'UTC' LOOP
    part := format('events_%s', to_char(m, 'YYYY_MM'));
    IF to_regclass(format('source.%I', part)) IS NULL THEN
      IF EXISTS (SELECT 1 FROM source.events_default
                 WHERE occurred_at >= (m::timestamp AT TIME ZONE 'UTC')
                   AND occurred_at < ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC')) THEN
        RAISE EXCEPTION 'events for % are in the default partition; move them before creating its partition', m;
      END IF;
      EXECUTE format('CREATE TABLE source.%I PARTITION OF source.events FOR VALUES FROM (%L) TO (%L)',
                     part, m::timestamp AT TIME ZONE 'UTC', (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
      created := created + 1;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN created;
END $$;

CREATE TABLE source.support_tickets (
  ticket_id     text PRIMARY KEY,
  account_id    text NOT NULL REFERENCES source.accounts (account_id),
  opened_at     timestamptz NOT NULL,
  closed_at     timestamptz,
  priority      text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  status        text NOT NULL CHECK (status IN ('open', 'pending', 'solved', 'closed')),
  escalated     boolean NOT NULL DEFAULT false,
  escalated_at  timestamptz,
  category      text,
  csat          smallint CHECK (csat BETWEEN 1 AND 5),
  CHECK (closed_at IS NULL OR closed_at >= opened_at),
  CHECK (escalated_at IS NULL OR escalated_at >= opened_at)
);
CREATE INDEX support_tickets_account_idx ON source.support_tickets (account_id, opened_at);

CREATE TABLE source.survey_responses (
  response_id   text PRIMARY KEY,
  account_id    text NOT NULL REFERENCES source.accounts (account_id),
  user_id       text,
  survey_type   text NOT NULL CHECK (survey_type IN ('nps', 'csat')),
  score         smallint NOT NULL,
  responded_at  timestamptz NOT NULL,
  comment       text,
  CHECK ((survey_type = 'nps' AND score BETWEEN 0 AND 10) OR (survey_type = 'csat' AND score BETWEEN 1 AND 5))
);
CREATE INDEX survey_responses_account_idx ON source.survey_responses (account_id, responded_at);

CREATE TABLE source.invoices (
  invoice_id       text PRIMARY KEY,
  account_id       text NOT NULL REFERENCES source.accounts (account_id),
  subscription_id  text,
  issued_at        timestamptz NOT NULL,
  due_at           timestamptz NOT NULL,
  paid_at          timestamptz,
  amount           numeric(12, 2) NOT NULL CHECK (amount >= 0),
  status           text NOT NULL CHECK (status IN ('open', 'paid', 'past_due', 'void', 'uncollectible')),
  failed_attempts  integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
  CHECK (due_at >= issued_at),
  CHECK (paid_at IS NULL OR paid_at >= issued_at)
);
CREATE INDEX invoices_account_idx ON source.invoices (account_id, issued_at);

-- Each charge attempt with its time, so failed payments are known point-in-time (the counter on
-- invoices is today's total, which would leak the future into past features).
CREATE TABLE source.payment_attempts (
  attempt_id     text PRIMARY KEY,
  invoice_id     text NOT NULL REFERENCES source.invoices (invoice_id),
  account_id     text NOT NULL REFERENCES source.accounts (account_id),
  attempted_at   timestamptz NOT NULL,
  succeeded      boolean NOT NULL,
  failure_reason text
);
CREATE INDEX payment_attempts_account_idx ON source.payment_attempts (account_id, attempted_at);
