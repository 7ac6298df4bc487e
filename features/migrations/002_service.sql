-- The service's own tables live in schema `churn`; source data stays in `source`.
CREATE SCHEMA IF NOT EXISTS churn;

-- Ground truth written by `churn generate`: why each synthetic account churned (or that it did not).
CREATE TABLE churn.synthetic_truth (
  account_id    text PRIMARY KEY,
  churned       boolean NOT NULL,
  churned_at    timestamptz,
  true_driver   text CHECK (true_driver IN ('fading_usage', 'shallow_adoption', 'support_pain', 'payment_trouble', 'detractor', 'unexplained')),
  risk          jsonb NOT NULL DEFAULT '{}'::jsonb,
  seed          bigint NOT NULL
);

CREATE TABLE churn.generation_runs (
  run_id        bigserial PRIMARY KEY,
  seed          bigint NOT NULL,
  accounts      integer NOT NULL,
  months        integer NOT NULL,
  start_date    date NOT NULL,
  end_date      date NOT NULL,
  row_counts    jsonb NOT NULL,
  seconds       double precision NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE churn.ingestion_runs (
  run_id        bigserial PRIMARY KEY,
  table_name    text NOT NULL,
  file_name     text NOT NULL,
  file_sha256   text NOT NULL,
  rows_in_file  integer NOT NULL,
  rows_inserted integer NOT NULL,
  rows_updated  integer NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
