-- One stored score per account, model version and as-of (scoring/store.ts): scoring an as-of again
-- with the same model replaces that row in place instead of adding a second one.

-- 1. Existing duplicates collapse to the latest row of each (account, model version, as-of), the one
--    the account views listed; alerts that pointed at another row of the group point at that one (they
--    keep their own copies of both healths and tiers), then the other rows are removed.
CREATE TEMPORARY TABLE score_history_duplicates ON COMMIT DROP AS
SELECT h.score_id, g.keep_id
FROM churn.score_history h
JOIN (SELECT account_id, model_version, as_of, max(score_id) AS keep_id FROM churn.score_history
      GROUP BY account_id, model_version, as_of HAVING count(*) > 1) g USING (account_id, model_version, as_of)
WHERE h.score_id <> g.keep_id;

-- 2. Two scoring runs that interleaved before runs took a lock could each raise an alert on their own
--    duplicate; both alerts stay (they were delivered) and point at the kept row, so an alert's score is
--    no longer unique to it. Re-runs raise no alert, so new scores still get at most one.
ALTER TABLE churn.alerts DROP CONSTRAINT alerts_to_score_id_key;
CREATE INDEX alerts_to_score_idx ON churn.alerts (to_score_id);
UPDATE churn.alerts a SET from_score_id = d.keep_id FROM score_history_duplicates d WHERE a.from_score_id = d.score_id;
UPDATE churn.alerts a SET to_score_id = d.keep_id FROM score_history_duplicates d WHERE a.to_score_id = d.score_id;
DELETE FROM churn.score_history h USING score_history_duplicates d WHERE h.score_id = d.score_id;

-- 3. The key; led by the as-of, it also finds whether a model has scores as of a time (jobs/runner.ts).
CREATE UNIQUE INDEX score_history_one_per_day_key ON churn.score_history (as_of, model_version, account_id);
