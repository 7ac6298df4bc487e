-- The event rollup under concurrent writers, and event partitions created outside long transactions.
--
-- 1. A key the rollup's rows cannot duplicate: (account_id, kind, key), the account row (kind 0,
--    key NULL) once per account.
-- 2. Recomputations serialised per account. Every recomputation of some accounts first takes, in
--    its own statement and in ascending order, an exclusive transaction-level advisory lock on the
--    bucket of each account (hashtext(account_id) & 255) and a shared lock on the whole rollup; a
--    recomputation of every account takes the whole rollup's lock exclusively. The locks are held
--    to the end of the writer's transaction. Under READ COMMITTED each later statement of the
--    refresh (its DELETE and its INSERT ... SELECT from the events) takes a new snapshot, so a
--    writer that had to wait sees the events and rollup rows of the writer it waited for, which has
--    committed by then. So the recomputations of an account happen one after the other, each
--    seeing every event committed before it began, and the one of the last writer to commit is
--    exact. Under REPEATABLE READ or SERIALIZABLE a writer cannot see what committed after its
--    snapshot: when that touched the same accounts it fails with a serialization failure (SQLSTATE
--    40001, retry the transaction) instead of writing a stale rollup.
-- 3. `churn.event_rollup_drift(accounts)`: the accounts of a sample whose stored rows differ from
--    a recomputation (`churn features rollup --check`).
-- 4. Event partitions: source.ensure_event_partitions takes the lock on source.events before
--    looking (two sessions creating the same month never deadlock), and
--    source.ensure_event_partitions_ahead(n) creates this month's and the next n months'
--    partitions; `churn db migrate` and every events ingest call it in short transactions of their
--    own, with a lock timeout, so that no long transaction holds source.events exclusively.

-- The rollup's query: its rows for the events that `filter` (a WHERE clause on `e`, the events)
-- selects, as one SELECT statement of the columns below, in their order.
CREATE FUNCTION churn.event_rollup_select(filter text) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT format($q$
    WITH ev AS (
      SELECT e.account_id, e.user_id, e.event_type, d.day, d.day >> 6 AS word, e.quantity, e.occurred_at
      FROM source.events e, LATERAL (SELECT floor(date_part('epoch', e.occurred_at) / 86400)::int AS day) d
      %s
    ),
    g AS MATERIALIZED (
      SELECT ev.account_id, GROUPING(ev.user_id, ev.event_type) AS gs, ev.user_id, ev.event_type,
             CASE GROUPING(ev.user_id, ev.event_type) WHEN 3 THEN ev.day ELSE ev.word END AS pos,
             sum(ev.quantity)::bigint AS q, bit_or(1::bigint << (ev.day & 63)) AS bits, min(ev.occurred_at) AS first_at, max(ev.day) AS last_day
      FROM ev
      GROUP BY GROUPING SETS ((ev.account_id, ev.day), (ev.account_id, ev.user_id, ev.word), (ev.account_id, ev.event_type, ev.word))
    ),
    keyed AS (
      SELECT g.account_id, min(g.first_at) AS first_key_at
      FROM g JOIN source.event_types t ON t.event_type = g.event_type AND t.is_key_feature
      WHERE g.gs = 2 GROUP BY g.account_id
    ),
    acct AS (
      SELECT d.account_id, array_agg(d.pos ORDER BY d.pos) AS days, array_agg(d.c ORDER BY d.pos) AS cum,
             array_agg(d.gap ORDER BY d.pos) AS gaps, min(d.pos) AS first_day, max(d.pos) AS last_day
      FROM (SELECT g.account_id, g.pos, (sum(g.q) OVER w)::bigint AS c, coalesce(g.pos - lag(g.pos) OVER w - 1, 0) AS gap
            FROM g WHERE g.gs = 3 WINDOW w AS (PARTITION BY g.account_id ORDER BY g.pos)) d
      GROUP BY d.account_id
    ),
    kw AS (
      SELECT g.account_id, 1::smallint AS kind, g.user_id AS key, g.pos AS word, g.bits, 0::bigint AS key_bits, g.last_day
      FROM g WHERE g.gs = 1 AND g.user_id IS NOT NULL
      UNION ALL
      SELECT g.account_id, 2::smallint, t.feature_area, g.pos, bit_or(g.bits), coalesce(bit_or(g.bits) FILTER (WHERE t.is_key_feature), 0), max(g.last_day)
      FROM g JOIN source.event_types t ON t.event_type = g.event_type
      WHERE g.gs = 2 GROUP BY g.account_id, t.feature_area, g.pos
    ),
    kr AS (
      SELECT kw.*, lag(kw.word) OVER (PARTITION BY kw.account_id, kw.kind, kw.key ORDER BY kw.word) AS prev FROM kw
    )
    SELECT a.account_id, 0::smallint, NULL::text, (a.first_day >> 6) << 6, a.last_day, NULL::varbit, NULL::varbit, a.days, a.cum, a.gaps, k.first_key_at
    FROM acct a LEFT JOIN keyed k ON k.account_id = a.account_id
    UNION ALL
    SELECT kr.account_id, kr.kind, kr.key, (a.first_day >> 6) << 6, max(kr.last_day),
           string_agg(repeat('0', 64 * (kr.word - coalesce(kr.prev, (a.first_day >> 6) - 1) - 1)) || reverse(kr.bits::bit(64)::text), '' ORDER BY kr.word)::varbit,
           CASE WHEN kr.kind = 2 THEN string_agg(repeat('0', 64 * (kr.word - coalesce(kr.prev, (a.first_day >> 6) - 1) - 1)) || reverse(kr.key_bits::bit(64)::text), '' ORDER BY kr.word)::varbit END,
           NULL::int[], NULL::bigint[], NULL::int[], NULL::timestamptz
    FROM kr JOIN acct a ON a.account_id = kr.account_id
    GROUP BY kr.account_id, kr.kind, kr.key, a.first_day
  $q$, filter)
$fn$;

-- Takes the rollup's locks for a recomputation of the accounts in `buckets` (each
-- hashtext(account_id) & 255), or of every account when NULL. Called in a statement of its own
-- before the recomputation reads anything.
CREATE FUNCTION churn.lock_event_rollup(buckets integer[]) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  space constant integer := hashtext('churn.event_rollup');
  b integer;
BEGIN
  IF buckets IS NULL THEN
    PERFORM pg_advisory_xact_lock(space, 256);
    RETURN;
  END IF;
  PERFORM pg_advisory_xact_lock_shared(space, 256);
  FOR b IN SELECT DISTINCT x FROM unnest(buckets) x WHERE x IS NOT NULL ORDER BY x LOOP
    PERFORM pg_advisory_xact_lock(space, b);
  END LOOP;
END $fn$;

-- Deletes and recomputes the rollup rows of `only_accounts`, of shard `shard_index` of
-- `shard_count` (by bucket), or of every account; the caller holds the locks. Returns the rows written.
CREATE FUNCTION churn.rewrite_event_rollup(only_accounts text[], shard_count integer, shard_index integer) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  n bigint;
  cols constant text := 'account_id, kind, key, base_day, last_day, bits, key_bits, days, cum, gaps, first_key_at';
BEGIN
  IF only_accounts IS NOT NULL THEN
    DELETE FROM churn.event_rollup WHERE account_id = ANY(only_accounts);
    EXECUTE format('INSERT INTO churn.event_rollup (%s) %s', cols, churn.event_rollup_select('WHERE e.account_id = ANY($1)')) USING only_accounts;
  ELSIF shard_count > 1 THEN
    DELETE FROM churn.event_rollup WHERE (hashtext(account_id) & 255) % shard_count = shard_index;
    EXECUTE format('INSERT INTO churn.event_rollup (%s) %s', cols, churn.event_rollup_select('WHERE (hashtext(e.account_id) & 255) % $1 = $2')) USING shard_count, shard_index;
  ELSE
    -- a DELETE, not a TRUNCATE: readers (builds and scores at midnights) keep reading the old rows
    -- until this commits instead of waiting for it
    DELETE FROM churn.event_rollup;
    EXECUTE format('INSERT INTO churn.event_rollup (%s) %s', cols, churn.event_rollup_select(''));
  END IF;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $fn$;

-- Recomputes the rollup rows of `only_accounts`, or of all accounts when NULL (which also marks the
-- rollup valid), or of the accounts of shard `shard_index` of `shard_count` (the caller runs the
-- shards side by side and marks the rollup valid when all are done), under the locks above.
-- Returns the rows written.
CREATE OR REPLACE FUNCTION churn.refresh_event_rollup(only_accounts text[] DEFAULT NULL, shard_count integer DEFAULT 1, shard_index integer DEFAULT 0) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  n bigint;
  mem text := current_setting('work_mem');
  sharded boolean := only_accounts IS NULL AND shard_count > 1;
BEGIN
  IF sharded AND (shard_index < 0 OR shard_index >= shard_count OR shard_count > 256) THEN
    RAISE EXCEPTION 'invalid shard % of %', shard_index, shard_count USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- 1. the locks, in a statement of their own: what follows sees whatever committed while it waited
  IF only_accounts IS NOT NULL THEN
    PERFORM churn.lock_event_rollup(ARRAY(SELECT hashtext(a) & 255 FROM unnest(only_accounts) a));
  ELSIF sharded THEN
    PERFORM churn.lock_event_rollup(ARRAY(SELECT b FROM generate_series(0, 255) b WHERE b % shard_count = shard_index));
  ELSE
    PERFORM churn.lock_event_rollup(NULL);
  END IF;
  -- the grouping hashes a few million groups for a full refresh: sorting them on disk is far slower
  PERFORM set_config('work_mem', '1GB', true);
  -- 2. delete and recompute
  IF current_setting('transaction_isolation') = 'read committed' THEN
    n := churn.rewrite_event_rollup(only_accounts, shard_count, shard_index);
  ELSE
    -- an older snapshot: another transaction's rows for these accounts, committed after it, are
    -- invisible here; the DELETE then fails on them (40001), or the INSERT meets them (23505)
    BEGIN
      n := churn.rewrite_event_rollup(only_accounts, shard_count, shard_index);
    EXCEPTION WHEN unique_violation THEN
      RAISE EXCEPTION 'the event rollup of these accounts was changed by a transaction that committed after this one started'
        USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
    END;
  END IF;
  IF only_accounts IS NULL AND NOT sharded THEN
    UPDATE churn.event_rollup_state SET valid = true, refreshed_at = now();
  END IF;
  PERFORM set_config('work_mem', mem, true);
  RETURN n;
END $fn$;

-- Whether the rollup is being maintained (its triggers on source.events are on, i.e. not suspended
-- for a bulk load).
CREATE FUNCTION churn.event_rollup_maintained() RETURNS boolean
LANGUAGE sql STABLE AS $fn$
  SELECT coalesce((SELECT g.tgenabled <> 'D' FROM pg_trigger g WHERE g.tgrelid = 'source.events'::regclass AND g.tgname = 'events_rollup_insert'), false)
$fn$;

-- A change to the event types or a truncation of one partition: the whole rollup, unless it is
-- suspended for a bulk load (which recomputes it when done). While a `churn features rollup` runs
-- (triggers on, not yet valid) this waits for its shards and recomputes after them, instead of
-- skipping as it did while the rollup was not marked valid.
CREATE OR REPLACE FUNCTION churn.event_rollup_refresh_all() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF churn.event_rollup_maintained() THEN
    PERFORM churn.refresh_event_rollup(NULL);
  END IF;
  RETURN NULL;
END $fn$;

CREATE OR REPLACE FUNCTION churn.event_rollup_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM churn.lock_event_rollup(NULL);
  TRUNCATE churn.event_rollup;
  RETURN NULL;
END $fn$;

-- The accounts among `accounts` whose stored rollup rows differ from a recomputation from the
-- events. One statement: both sides come from one snapshot.
CREATE FUNCTION churn.event_rollup_drift(accounts text[]) RETURNS SETOF text
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN QUERY EXECUTE format($q$
    WITH fresh (account_id, kind, key, base_day, last_day, bits, key_bits, days, cum, gaps, first_key_at) AS MATERIALIZED (%s),
    stored AS MATERIALIZED (
      SELECT r.account_id, r.kind, r.key, r.base_day, r.last_day, r.bits, r.key_bits, r.days, r.cum, r.gaps, r.first_key_at
      FROM churn.event_rollup r WHERE r.account_id = ANY($1)
    ),
    diff AS ((TABLE fresh EXCEPT ALL TABLE stored) UNION ALL (TABLE stored EXCEPT ALL TABLE fresh))
    SELECT DISTINCT d.account_id FROM diff d ORDER BY 1
  $q$, churn.event_rollup_select('WHERE e.account_id = ANY($1)')) USING accounts;
END $fn$;

-- Monthly partitions covering [from, to), existing ones kept; now with the lock on source.events
-- (which creating a partition takes anyway) taken before looking, so two sessions creating the same
-- month wait for each other instead of deadlocking, and nothing is locked when all exist.
CREATE OR REPLACE FUNCTION source.ensure_event_partitions(from_ts timestamptz, to_ts timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  m date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
  created integer := 0;
  locked boolean := false;
  part text;
BEGIN
  WHILE m < to_ts AT TIME ZONE 'UTC' LOOP
    part := format('events_%s', to_char(m, 'YYYY_MM'));
    IF to_regclass(format('source.%I', part)) IS NULL AND NOT locked THEN
      LOCK TABLE ONLY source.events IN ACCESS EXCLUSIVE MODE;
      locked := true;
    END IF;
    IF to_regclass(format('source.%I', part)) IS NULL THEN
      IF EXISTS (SELECT 1 FROM source.events_default
                 WHERE occurred_at >= (m::timestamp AT TIME ZONE 'UTC')
                   AND occurred_at < ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC')) THEN
        RAISE EXCEPTION 'events for % are in the default partition; move them before creating its partition', m;
      END IF;
      EXECUTE format('CREATE TABLE source.%I PARTITION OF source.events FOR VALUES FROM (%L) TO (%L)',
                     part, m::timestamp AT TIME ZONE 'UTC', (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
      PERFORM churn.add_event_partition_triggers(format('source.%I', part)::regclass);
      created := created + 1;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN created;
END $$;

-- This month's partition and the next `months` ones (UTC).
CREATE FUNCTION source.ensure_event_partitions_ahead(months integer DEFAULT 3) RETURNS integer
LANGUAGE sql AS $$
  SELECT source.ensure_event_partitions(now(), (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => months + 1)) AT TIME ZONE 'UTC')
$$;

-- Rows a race of the old maintenance left twice: recompute those accounts before adding the key.
DO $$
DECLARE
  doubled text[] := ARRAY(SELECT DISTINCT r.account_id FROM churn.event_rollup r GROUP BY r.account_id, r.kind, r.key HAVING count(*) > 1);
BEGIN
  IF cardinality(doubled) > 0 THEN
    PERFORM churn.refresh_event_rollup(doubled);
  END IF;
END $$;

ALTER TABLE churn.event_rollup
  ADD CONSTRAINT event_rollup_key UNIQUE (account_id, kind, key),
  ADD CONSTRAINT event_rollup_key_kind CHECK ((kind = 0) = (key IS NULL));
CREATE UNIQUE INDEX event_rollup_account_row ON churn.event_rollup (account_id) WHERE kind = 0;
-- the key's index starts with account_id
DROP INDEX churn.event_rollup_account_idx;
