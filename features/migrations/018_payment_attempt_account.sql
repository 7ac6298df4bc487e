-- A payment attempt belongs to its invoice's account: (invoice_id, account_id) references the
-- invoice's own pair, so a failed payment never counts against another customer, whoever writes it
-- (churn ingest, churn generate, your own ETL). The unique pair on invoices is what the key refers to.
ALTER TABLE source.invoices ADD CONSTRAINT invoices_invoice_account_key UNIQUE (invoice_id, account_id);

-- Added NOT VALID (every new or changed row is checked at once), then validated when no stored
-- attempt breaks it, which is every database loaded by churn generate. A database that already holds
-- attempts under another account than their invoice's keeps them and the constraint stays NOT VALID
-- (docs/data-model.md gives the query that lists them); fix or delete them, then run
-- ALTER TABLE source.payment_attempts VALIDATE CONSTRAINT payment_attempts_invoice_account_fkey.
ALTER TABLE source.payment_attempts ADD CONSTRAINT payment_attempts_invoice_account_fkey
  FOREIGN KEY (invoice_id, account_id) REFERENCES source.invoices (invoice_id, account_id) NOT VALID;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM source.payment_attempts AS p JOIN source.invoices AS i USING (invoice_id)
                 WHERE i.account_id <> p.account_id) THEN
    ALTER TABLE source.payment_attempts VALIDATE CONSTRAINT payment_attempts_invoice_account_fkey;
  ELSE
    RAISE WARNING 'source.payment_attempts holds attempts under another account than their invoice''s: payment_attempts_invoice_account_fkey is left NOT VALID (see docs/data-model.md)';
  END IF;
END $$;
