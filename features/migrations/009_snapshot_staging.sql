-- Staging for sharded snapshot builds: each shard (one connection per core) writes its accounts' rows
-- here under the build's id, then one short transaction replaces the stored (feature set, as_of) rows
-- from them and deletes them. UNLOGGED: the rows live only for one build, and after a crash the build
-- is simply run again (a build that fails deletes its own rows). No index: a build reads back all of
-- its rows, and the table holds little more than the builds running at the time.
CREATE UNLOGGED TABLE churn.feature_snapshot_staging (
  build_id            uuid NOT NULL,
  feature_set_version text NOT NULL,
  as_of               timestamptz NOT NULL,
  account_id          text NOT NULL,
  feature_values      double precision[] NOT NULL,
  staged_at           timestamptz NOT NULL DEFAULT now()
);
