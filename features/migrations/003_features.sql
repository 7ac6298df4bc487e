-- Feature sets and point-in-time snapshots, shared by training and scoring.
-- A feature set is identified by a hash of its definitions: any change to any definition is a new version.
CREATE TABLE churn.feature_sets (
  feature_set_version text PRIMARY KEY,
  feature_names       text[] NOT NULL,
  definitions         jsonb NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now()
);

-- One row per (feature set, observation time, account): the feature values in catalogue order
-- (NULL where a feature is undefined for the account, e.g. no NPS response yet).
CREATE TABLE churn.feature_snapshots (
  feature_set_version text NOT NULL REFERENCES churn.feature_sets (feature_set_version),
  as_of               timestamptz NOT NULL,
  account_id          text NOT NULL,
  feature_values      double precision[] NOT NULL,
  built_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (feature_set_version, as_of, account_id)
);
CREATE INDEX feature_snapshots_account_idx ON churn.feature_snapshots (account_id, as_of DESC);
