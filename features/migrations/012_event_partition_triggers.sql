-- The event rollup's maintenance on every partition of source.events, not only on the parent. A
-- statement run against the parent (every writer of ours: ingestion, COPY into source.events, plain
-- SQL on source.events) fires the parent's statement triggers only, with all the rows it changed in
-- their transition tables; a statement run straight against a partition (`COPY source.events_2026_03
-- FROM ...`, an INSERT, UPDATE or DELETE on events_2026_03) fires that partition's statement
-- triggers only. So each partition carries the same maintenance, under names of its own (the
-- parent's ENABLE/DISABLE TRIGGER, which recurses to triggers cloned from its own, leaves them
-- alone; `churn.set_event_rollup_triggers` switches both). What no trigger sees: ATTACH, DETACH or
-- DROP of a partition holding events; run `churn features rollup` after those.

-- TRUNCATE of one partition: which accounts lost events is not known after the fact, so the whole
-- rollup is recomputed, as after a change to the event types (skipped while the rollup is out of date
-- anyway: suspended for a bulk load, which recomputes it when done). One trigger function serves
-- both, under a name that says what it does.
ALTER FUNCTION churn.event_rollup_on_types() RENAME TO event_rollup_refresh_all;

-- Puts the rollup's triggers on partition `part` (nothing when it has them), switched on or off as
-- the parent's are.
CREATE FUNCTION churn.add_event_partition_triggers(part regclass) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  t text;
  enabled boolean := (SELECT g.tgenabled <> 'D' FROM pg_trigger g WHERE g.tgrelid = 'source.events'::regclass AND g.tgname = 'events_rollup_insert');
BEGIN
  IF EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = part AND g.tgname = 'events_part_rollup_insert') THEN
    RETURN;
  END IF;
  EXECUTE format('CREATE TRIGGER events_part_rollup_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION churn.event_rollup_on_events()', part);
  EXECUTE format('CREATE TRIGGER events_part_rollup_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION churn.event_rollup_on_events()', part);
  EXECUTE format('CREATE TRIGGER events_part_rollup_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION churn.event_rollup_on_events()', part);
  EXECUTE format('CREATE TRIGGER events_part_rollup_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION churn.event_rollup_refresh_all()', part);
  IF enabled IS NOT TRUE THEN
    FOREACH t IN ARRAY ARRAY['events_part_rollup_insert', 'events_part_rollup_update', 'events_part_rollup_delete', 'events_part_rollup_truncate'] LOOP
      EXECUTE format('ALTER TABLE %s DISABLE TRIGGER %I', part, t);
    END LOOP;
  END IF;
END $fn$;

-- Now also every partition's triggers; switching them on first adds them to partitions that lack
-- them (one created by hand with CREATE TABLE ... PARTITION OF).
CREATE OR REPLACE FUNCTION churn.set_event_rollup_triggers(enabled boolean) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
  t text;
  part regclass;
BEGIN
  FOREACH t IN ARRAY ARRAY['events_rollup_insert', 'events_rollup_update', 'events_rollup_delete'] LOOP
    EXECUTE format('ALTER TABLE source.events %s TRIGGER %I', CASE WHEN enabled THEN 'ENABLE' ELSE 'DISABLE' END, t);
  END LOOP;
  FOR part IN SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = 'source.events'::regclass ORDER BY 1 LOOP
    PERFORM churn.add_event_partition_triggers(part);
    FOREACH t IN ARRAY ARRAY['events_part_rollup_insert', 'events_part_rollup_update', 'events_part_rollup_delete', 'events_part_rollup_truncate'] LOOP
      EXECUTE format('ALTER TABLE %s %s TRIGGER %I', part, CASE WHEN enabled THEN 'ENABLE' ELSE 'DISABLE' END, t);
    END LOOP;
  END LOOP;
END $fn$;

-- Monthly partitions created on demand get the triggers at once.
CREATE OR REPLACE FUNCTION source.ensure_event_partitions(from_ts timestamptz, to_ts timestamptz) RETURNS integer
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
      PERFORM churn.add_event_partition_triggers(format('source.%I', part)::regclass);
      created := created + 1;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN created;
END $$;

-- the partitions that exist already (the default one among them)
SELECT churn.add_event_partition_triggers(i.inhrelid::regclass) FROM pg_inherits i WHERE i.inhparent = 'source.events'::regclass;
