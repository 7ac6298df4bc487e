-- Alert delivery that never drops an alert and keeps each account's alerts in order
-- (jobs/alerts/deliver.ts; guarantees in docs/operations.md, "Alerts and webhooks").

-- Every alert carries a sequence number, increasing by one per account (1, 2, 3, ...), in the
-- webhook payload too, so receivers can order and de-duplicate. Alerts raised before this migration
-- are numbered per account in the order they were raised.
ALTER TABLE churn.alerts ADD COLUMN sequence bigint;
UPDATE churn.alerts a SET sequence = n.seq
FROM (SELECT alert_id, row_number() OVER (PARTITION BY account_id ORDER BY created_at, alert_id) AS seq FROM churn.alerts) n
WHERE n.alert_id = a.alert_id;
ALTER TABLE churn.alerts ALTER COLUMN sequence SET NOT NULL;
ALTER TABLE churn.alerts ADD CONSTRAINT alerts_account_sequence_key UNIQUE (account_id, sequence);

-- Per account: the last sequence number given (the row lock of the upsert serialises writers) and
-- the tier rank the dead band last settled on (scoring/store.ts); null: the previous score's tier.
CREATE TABLE churn.alert_state (
  account_id     text PRIMARY KEY,
  last_sequence  bigint NOT NULL DEFAULT 0 CHECK (last_sequence >= 0),
  tier_rank      integer,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO churn.alert_state (account_id, last_sequence)
SELECT account_id, max(sequence) FROM churn.alerts GROUP BY account_id;

-- Alert detection numbers its alerts itself (in the same upsert as the dead-band state); an alert
-- inserted by any other writer without a number gets the account's next one here.
CREATE FUNCTION churn.alert_next_sequence() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.sequence IS NULL THEN
    INSERT INTO churn.alert_state AS st (account_id, last_sequence) VALUES (NEW.account_id, 1)
    ON CONFLICT (account_id) DO UPDATE SET last_sequence = st.last_sequence + 1, updated_at = now()
    RETURNING st.last_sequence INTO NEW.sequence;
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER alerts_next_sequence BEFORE INSERT ON churn.alerts FOR EACH ROW EXECUTE FUNCTION churn.alert_next_sequence();

-- The outbox:
--  - `dead_at`: dead-lettered after `alerts.max_attempts` failed attempts (kept, with `last_error`,
--    until `churn alerts redeliver` or POST /v1/alerts/redeliver requeues it); never both delivered
--    and dead;
--  - `leased_until`, `lease_token`: the replica sending a row holds it until then (longer than the
--    request timeout), so no other replica sends it meanwhile; only the holder records a failure.
ALTER TABLE churn.alert_outbox
  ADD COLUMN dead_at timestamptz,
  ADD COLUMN leased_until timestamptz,
  ADD COLUMN lease_token uuid,
  ADD CONSTRAINT alert_outbox_delivered_or_dead CHECK (delivered_at IS NULL OR dead_at IS NULL);
-- what a delivery round reads (rows neither delivered nor dead), and what a re-drive and the gauge read
CREATE INDEX alert_outbox_pending_idx ON churn.alert_outbox (subscription_id, alert_id) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX alert_outbox_dead_idx ON churn.alert_outbox (subscription_id, dead_at) WHERE dead_at IS NOT NULL;
