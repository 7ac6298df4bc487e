-- Accuracy reports and monitoring runs.

-- One accuracy report per model version (rebuilt by `churn report`, which replaces the previous one):
-- the self-contained HTML page and its JSON twin (every number the page shows).
CREATE TABLE churn.model_reports (
  model_version integer PRIMARY KEY REFERENCES churn.model_versions (version),
  html          text NOT NULL,
  report        jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per `churn monitor` run: realised performance of stored scores whose outcome is now known
-- (per month: scored, labelled, churn rate, AUC, lift at 10%) and feature drift (per feature: PSI
-- and status) of the latest snapshot against the champion's training snapshot.
CREATE TABLE churn.monitoring_runs (
  run_id        bigserial PRIMARY KEY,
  as_of         timestamptz NOT NULL,
  horizon_days  integer NOT NULL CHECK (horizon_days > 0),
  model_version integer REFERENCES churn.model_versions (version),
  realised      jsonb NOT NULL,
  drift         jsonb NOT NULL,
  summary       jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX monitoring_runs_created_idx ON churn.monitoring_runs (created_at DESC, run_id DESC);
