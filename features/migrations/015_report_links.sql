-- Settings the server reads while it runs (no restart needed to pick up a change).
-- First: 'report_link_secret', the key that signs report links (HMAC-SHA256 over the report and the
-- link's expiry, jobs/report/link.ts). It is created with random bytes by the first `churn report`
-- or `npm start` that prints a link; `churn report --revoke-links` replaces it, which invalidates
-- every link issued before.
CREATE TABLE churn.settings (
  name       text PRIMARY KEY,
  value      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
