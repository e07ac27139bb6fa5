ALTER TABLE idempotency_key DROP COLUMN lease_until;
ALTER TABLE idempotency_key DROP COLUMN claim_id;
