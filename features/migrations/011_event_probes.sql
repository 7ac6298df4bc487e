-- Index probes of one account's events that the feature statement makes only for some accounts
-- (the last event before the activity bitmaps' reach, the first key-feature event after sign-up).
-- As correlated subqueries they put a scan of every events partition into the plan, and a prepared
-- (generic) plan starts all of them on every execution, whether the probe runs or not. Called as
-- functions, they are planned once per session (PL/pgSQL keeps the plan), started only when called,
-- and their arguments are plan parameters, so the partitions outside the range are skipped at start.

-- The time of the account's last event before `before` (NULL when there is none).
CREATE FUNCTION churn.last_event_before(account text, before timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $fn$
BEGIN
  RETURN (SELECT max(e.occurred_at) FROM source.events e WHERE e.account_id = account AND e.occurred_at < before);
END $fn$;

-- Whole days (24-hour units, at least 0) from `created` to the account's first event of a
-- key-feature type in [created, until); NULL when there is none.
CREATE FUNCTION churn.first_key_days(account text, created timestamptz, until timestamptz) RETURNS numeric
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $fn$
BEGIN
  RETURN (SELECT greatest(0, floor(extract(epoch FROM (e.occurred_at - created)) / 86400)) FROM source.events e
          WHERE e.account_id = account AND e.occurred_at >= created AND e.occurred_at < until
            AND e.event_type = ANY (ARRAY(SELECT t.event_type FROM source.event_types t WHERE t.is_key_feature))
          ORDER BY e.occurred_at LIMIT 1);
END $fn$;
