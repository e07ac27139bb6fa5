-- A key's claim: which request holds it (a random id per claim, checked when the key is
-- completed, so a request that lost its claim cannot complete it) and until when (renewed while
-- the request runs; a claim whose holder died lapses within seconds, not a minute).
ALTER TABLE idempotency_key
    ADD COLUMN claim_id VARCHAR(64) NOT NULL DEFAULT '',
    ADD COLUMN lease_until DATETIME(6) NOT NULL DEFAULT '1970-01-01 00:00:00';
