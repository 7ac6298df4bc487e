-- Serving: API keys, stored scores, alerts and their webhook delivery.

-- API keys are stored hashed: `key_prefix` finds the row, `key_hash` (sha256 of the whole secret)
-- is compared in constant time. The secret itself is shown once, at creation.
CREATE TABLE churn.api_keys (
  key_id      bigserial PRIMARY KEY,
  name        text NOT NULL,
  key_prefix  text NOT NULL UNIQUE,
  key_hash    bytea NOT NULL,
  scopes      text[] NOT NULL CHECK (cardinality(scopes) > 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz,
  last_used_at timestamptz
);

-- Every stored score, stamped with the model and feature set that produced it.
CREATE TABLE churn.score_history (
  score_id            bigserial PRIMARY KEY,
  account_id          text NOT NULL,
  as_of               timestamptz NOT NULL,
  scored_at           timestamptz NOT NULL DEFAULT now(),
  model_version       integer NOT NULL,
  feature_set_version text,
  segment             text NOT NULL,
  churn_probability   double precision NOT NULL CHECK (churn_probability >= 0 AND churn_probability <= 1),
  health_score        integer NOT NULL CHECK (health_score BETWEEN 0 AND 100),
  tier                text NOT NULL,
  tier_rank           integer NOT NULL,
  recommended_action  text NOT NULL,
  scorecard_score     integer NOT NULL,
  components          jsonb NOT NULL,
  base_value          double precision NOT NULL,
  drivers             jsonb NOT NULL
);
CREATE INDEX score_history_account_idx ON churn.score_history (account_id, as_of DESC, score_id DESC);
CREATE INDEX score_history_scored_idx ON churn.score_history (scored_at);

-- Webhook receivers of alerts; each delivery is signed with the subscription's secret.
CREATE TABLE churn.webhook_subscriptions (
  subscription_id bigserial PRIMARY KEY,
  url             text NOT NULL UNIQUE,
  secret          text NOT NULL,
  active          boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- An alert: a stored score fell a tier or dropped by at least the configured number of points.
CREATE TABLE churn.alerts (
  alert_id        bigserial PRIMARY KEY,
  account_id      text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('tier_drop', 'score_drop')),
  from_score_id   bigint NOT NULL REFERENCES churn.score_history (score_id),
  to_score_id     bigint NOT NULL REFERENCES churn.score_history (score_id) UNIQUE,
  from_health     integer NOT NULL,
  to_health       integer NOT NULL,
  from_tier       text NOT NULL,
  to_tier         text NOT NULL,
  payload         jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_account_idx ON churn.alerts (account_id, created_at DESC);

-- The outbox: one row per (alert, subscription), retried with exponential backoff until delivered.
CREATE TABLE churn.alert_outbox (
  outbox_id        bigserial PRIMARY KEY,
  alert_id         bigint NOT NULL REFERENCES churn.alerts (alert_id),
  subscription_id  bigint NOT NULL REFERENCES churn.webhook_subscriptions (subscription_id),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  last_error       text,
  last_status      integer,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (alert_id, subscription_id)
);
CREATE INDEX alert_outbox_due_idx ON churn.alert_outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- Runs of the in-server schedule (feature build, scoring, alert delivery); the advisory lock makes one
-- replica run at a time, and a successful run within the interval makes the others skip.
CREATE TABLE churn.scheduler_runs (
  run_id       bigserial PRIMARY KEY,
  job          text NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
  details      jsonb NOT NULL DEFAULT '{}'::jsonb,
  runner       text NOT NULL
);
CREATE INDEX scheduler_runs_job_idx ON churn.scheduler_runs (job, started_at DESC);
