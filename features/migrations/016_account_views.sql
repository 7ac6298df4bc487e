-- Account views and integration (docs/operations.md, "Account views and integration").

-- The account's owner (its CSM or account manager), when known; `churn ingest accounts` accepts it.
ALTER TABLE source.accounts ADD COLUMN owner text;

-- What people did with an alert (GET /v1/alerts, POST /v1/alerts/:id/ack and /snooze). Its state:
-- acknowledged once `acknowledged_at` is set (for good); else snoozed while `snoozed_until` lies
-- ahead; else open. Detection (scoring/store.ts) never writes these columns.
ALTER TABLE churn.alerts
  ADD COLUMN acknowledged_at timestamptz,
  ADD COLUMN acknowledged_by text,
  ADD COLUMN snoozed_until timestamptz,
  ADD COLUMN snoozed_by text,
  ADD CONSTRAINT alerts_acknowledged_by_whom CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL));
-- the newest alerts not acknowledged (the usual listing: open and snoozed ones)
CREATE INDEX alerts_unacknowledged_idx ON churn.alerts (alert_id DESC) WHERE acknowledged_at IS NULL;

-- Webhook subscriptions managed through the API (POST/DELETE /v1/webhooks, `churn webhooks`) beside
-- those of the serving configuration file (`source` says which). A removed subscription is kept,
-- inactive, with its deliveries (the outbox refers to it); adding its URL again makes a new one, so
-- one URL has at most one active subscription.
ALTER TABLE churn.webhook_subscriptions
  ADD COLUMN source text NOT NULL DEFAULT 'config' CHECK (source IN ('config', 'api')),
  ADD COLUMN description text,
  ADD COLUMN removed_at timestamptz,
  ADD CONSTRAINT webhook_subscriptions_removed_inactive CHECK (removed_at IS NULL OR NOT active);
ALTER TABLE churn.webhook_subscriptions DROP CONSTRAINT webhook_subscriptions_url_key;
CREATE UNIQUE INDEX webhook_subscriptions_active_url_key ON churn.webhook_subscriptions (url) WHERE active;
