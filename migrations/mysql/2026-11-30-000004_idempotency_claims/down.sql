ALTER TABLE idempotency_key DROP COLUMN lease_until, DROP COLUMN claim_id;
