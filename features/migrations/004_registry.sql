-- The model registry: versions with their artifact and lineage, aliases, and every alias move.

-- One row per training run. A registered version carries its artifact (gzip of canonical JSON, whose
-- sha256 is checked at load); a failed run carries its error and no artifact.
CREATE TABLE churn.model_versions (
  version             serial PRIMARY KEY,
  model_type          text NOT NULL,
  status              text NOT NULL DEFAULT 'candidate' CHECK (status IN ('candidate', 'failed', 'archived')),
  artifact_gzip       bytea,
  artifact_sha256     text CHECK (artifact_sha256 ~ '^[0-9a-f]{64}$'),
  artifact_bytes      integer CHECK (artifact_bytes >= 0),
  params              jsonb NOT NULL DEFAULT '{}'::jsonb,
  metrics             jsonb NOT NULL DEFAULT '{}'::jsonb,
  window_from         timestamptz,
  window_to           timestamptz,
  feature_set_version text,
  data_fingerprint    text NOT NULL,
  git_revision        text NOT NULL,
  data_source         text NOT NULL,
  error               text,
  mlflow_run_id       text,
  mlflow_model_version text,
  mlflow_status       text CHECK (mlflow_status IN ('logged', 'failed')),
  mlflow_error        text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT model_versions_window_ck CHECK ((window_from IS NULL) = (window_to IS NULL) AND (window_from IS NULL OR window_from <= window_to)),
  -- a failed run has an error and no artifact; every other version has a checksummed artifact
  CONSTRAINT model_versions_artifact_ck CHECK (
    CASE WHEN status = 'failed'
      THEN artifact_gzip IS NULL AND artifact_sha256 IS NULL AND error IS NOT NULL
      ELSE artifact_gzip IS NOT NULL AND artifact_sha256 IS NOT NULL AND artifact_bytes IS NOT NULL
    END)
);
CREATE INDEX model_versions_created_idx ON churn.model_versions (created_at DESC);

-- Named pointers to versions (`champion`, `challenger`, ...). `reason` describes the latest move.
CREATE TABLE churn.model_aliases (
  alias       text PRIMARY KEY CHECK (alias ~ '^[a-z][a-z0-9_-]{0,62}$'),
  version     integer NOT NULL REFERENCES churn.model_versions (version),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL CHECK (updated_by <> ''),
  reason      text
);
CREATE INDEX model_aliases_version_idx ON churn.model_aliases (version);

-- Every alias move: when, from which version, to which, by whom and why. Written by the trigger
-- below, so no code path (nor a manual UPDATE) can move an alias without a record.
CREATE TABLE churn.model_alias_history (
  id            bigserial PRIMARY KEY,
  alias         text NOT NULL,
  from_version  integer REFERENCES churn.model_versions (version),
  to_version    integer NOT NULL REFERENCES churn.model_versions (version),
  moved_at      timestamptz NOT NULL,
  moved_by      text NOT NULL,
  reason        text
);
CREATE INDEX model_alias_history_alias_idx ON churn.model_alias_history (alias, id DESC);

-- Records the move and tells listening servers (channel `churn_model_alias`, JSON payload) so they
-- can hot-swap; the notification is delivered when the moving transaction commits.
CREATE FUNCTION churn.record_alias_move() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  from_v integer := CASE WHEN TG_OP = 'UPDATE' THEN OLD.version END;
BEGIN
  INSERT INTO churn.model_alias_history (alias, from_version, to_version, moved_at, moved_by, reason)
  VALUES (NEW.alias, from_v, NEW.version, NEW.updated_at, NEW.updated_by, NEW.reason);
  PERFORM pg_notify('churn_model_alias', json_build_object(
    'alias', NEW.alias, 'from_version', from_v, 'to_version', NEW.version,
    'moved_by', NEW.updated_by, 'moved_at', NEW.updated_at)::text);
  RETURN NEW;
END $$;

CREATE TRIGGER model_aliases_insert_move AFTER INSERT ON churn.model_aliases
  FOR EACH ROW EXECUTE FUNCTION churn.record_alias_move();
CREATE TRIGGER model_aliases_update_move AFTER UPDATE ON churn.model_aliases
  FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version) EXECUTE FUNCTION churn.record_alias_move();
