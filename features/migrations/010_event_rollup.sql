-- The event rollup: source.events folded per account into a few small rows that the feature build
-- reads instead of the raw events when every observation date is a UTC midnight (a grid of monthly
-- dates over a year then reads about 1% of the rows). Days are whole UTC days since 1970-01-01.
-- It is derived data, kept exact by statement-level triggers on source.events and
-- source.event_types (any writer, not only `churn ingest`), recomputed per touched account; bulk
-- loads (`churn generate`) suspend the triggers and refresh it in one pass at the end. `valid` says
-- whether it matches the events; while it does not, the build reads the raw events.
CREATE TABLE churn.event_rollup (
  account_id   text NOT NULL,
  -- 0 the account as a whole, 1 one of its users, 2 one of its feature areas (event types mapped
  -- through source.event_types; types missing from the catalogue are left out, as in the raw build)
  kind         smallint NOT NULL CHECK (kind IN (0, 1, 2)),
  key          text,              -- user_id (1), feature_area (2), NULL (0)
  -- kinds 1 and 2: bit i (1-based) of `bits` = activity on day base_day + i - 1; base_day is the
  -- first day of the 64-day word holding the account's first event, the same for all its rows
  base_day     integer NOT NULL,
  last_day     integer NOT NULL,  -- the last active day
  bits         bit varying,
  key_bits     bit varying,       -- kind 2: days with an event of a key-feature type
  -- kind 0: the active days in ascending order, the quantity summed through each of them, the
  -- inactive days before each (after the previous active day; 0 for the first), and the first
  -- event of a key-feature type
  days         integer[],
  cum          bigint[],
  gaps         integer[],
  first_key_at timestamptz
);
CREATE INDEX event_rollup_account_idx ON churn.event_rollup (account_id);

CREATE TABLE churn.event_rollup_state (
  id           boolean PRIMARY KEY DEFAULT true CHECK (id),
  valid        boolean NOT NULL,
  refreshed_at timestamptz
);
INSERT INTO churn.event_rollup_state (id, valid, refreshed_at) VALUES (true, false, NULL);

-- Recomputes the rollup rows of `only_accounts`, or of all accounts when NULL (which also marks the
-- rollup valid), or of the accounts of shard `shard_index` of `shard_count` (by a hash of the id;
-- the caller runs the shards side by side and marks the rollup valid when all are done). Returns
-- the rows written.
CREATE FUNCTION churn.refresh_event_rollup(only_accounts text[] DEFAULT NULL, shard_count integer DEFAULT 1, shard_index integer DEFAULT 0) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
  n bigint;
  mem text := current_setting('work_mem');
  body text := $q$
    INSERT INTO churn.event_rollup (account_id, kind, key, base_day, last_day, bits, key_bits, days, cum, gaps, first_key_at)
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
  $q$;
BEGIN
  -- the grouping below hashes a few million groups for a full refresh: sorting them on disk is far slower
  PERFORM set_config('work_mem', '1GB', true);
  IF only_accounts IS NULL AND shard_count > 1 THEN
    DELETE FROM churn.event_rollup WHERE abs(hashtext(account_id) % shard_count) = shard_index;
    EXECUTE format(body, 'WHERE abs(hashtext(e.account_id) % $2) = $3') USING NULL::text[], shard_count, shard_index;
    GET DIAGNOSTICS n = ROW_COUNT;
  ELSIF only_accounts IS NULL THEN
    TRUNCATE churn.event_rollup;
    EXECUTE format(body, '');
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE churn.event_rollup_state SET valid = true, refreshed_at = now();
  ELSE
    DELETE FROM churn.event_rollup WHERE account_id = ANY(only_accounts);
    EXECUTE format(body, 'WHERE e.account_id = ANY($1)') USING only_accounts;
    GET DIAGNOSTICS n = ROW_COUNT;
  END IF;
  PERFORM set_config('work_mem', mem, true);
  RETURN n;
END $fn$;

-- Turns the per-statement maintenance of the rollup on or off.
CREATE FUNCTION churn.set_event_rollup_triggers(enabled boolean) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['events_rollup_insert', 'events_rollup_update', 'events_rollup_delete'] LOOP
    EXECUTE format('ALTER TABLE source.events %s TRIGGER %I', CASE WHEN enabled THEN 'ENABLE' ELSE 'DISABLE' END, t);
  END LOOP;
END $fn$;

-- For bulk loads: marks the rollup out of date and stops the per-statement maintenance (which would
-- also hold every loaded row in a transition table). `resume_event_rollup()` undoes both (or, from
-- Node, `refreshEventRollup` in features/rollup.ts, which recomputes on several connections).
CREATE FUNCTION churn.suspend_event_rollup() RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE churn.event_rollup_state SET valid = false;
  PERFORM churn.set_event_rollup_triggers(false);
END $fn$;

CREATE FUNCTION churn.resume_event_rollup() RETURNS bigint
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM churn.set_event_rollup_triggers(true);
  RETURN churn.refresh_event_rollup(NULL);
END $fn$;

CREATE FUNCTION churn.event_rollup_on_events() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  touched text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT r.account_id) INTO touched FROM new_rows r;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(DISTINCT r.account_id) INTO touched FROM old_rows r;
  ELSE
    SELECT array_agg(DISTINCT r.account_id) INTO touched FROM (SELECT account_id FROM old_rows UNION SELECT account_id FROM new_rows) r;
  END IF;
  IF touched IS NOT NULL THEN
    -- beyond a few thousand accounts one pass over all events is cheaper than index reads per account
    PERFORM churn.refresh_event_rollup(CASE WHEN cardinality(touched) > 2000 THEN NULL ELSE touched END);
  END IF;
  RETURN NULL;
END $fn$;

CREATE FUNCTION churn.event_rollup_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  TRUNCATE churn.event_rollup;
  RETURN NULL;
END $fn$;

-- the feature areas and key features of event types are folded into the rollup
CREATE FUNCTION churn.event_rollup_on_types() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF (SELECT valid FROM churn.event_rollup_state) THEN
    PERFORM churn.refresh_event_rollup(NULL);
  END IF;
  RETURN NULL;
END $fn$;

CREATE TRIGGER events_rollup_insert AFTER INSERT ON source.events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION churn.event_rollup_on_events();
CREATE TRIGGER events_rollup_update AFTER UPDATE ON source.events
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION churn.event_rollup_on_events();
CREATE TRIGGER events_rollup_delete AFTER DELETE ON source.events
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION churn.event_rollup_on_events();
CREATE TRIGGER events_rollup_truncate AFTER TRUNCATE ON source.events
  FOR EACH STATEMENT EXECUTE FUNCTION churn.event_rollup_on_truncate();
CREATE TRIGGER event_types_rollup AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON source.event_types
  FOR EACH STATEMENT EXECUTE FUNCTION churn.event_rollup_on_types();

-- the events already stored (an upgraded database)
SELECT churn.refresh_event_rollup(NULL);
