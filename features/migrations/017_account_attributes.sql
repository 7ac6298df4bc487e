-- The customer's own account attributes (acquisition channel, country, company size, any column of
-- the accounts file that the contract does not name): text values by attribute name. Feature
-- definitions of kind `attribute` read them (docs/features.md); `churn ingest accounts` fills them.
ALTER TABLE source.accounts ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'::jsonb
  CHECK (jsonb_typeof(attributes) = 'object');
