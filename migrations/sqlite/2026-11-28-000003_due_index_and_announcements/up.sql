-- One index answers "what is due now, oldest first": a delivery waiting for its next attempt
-- (pending, failed) or held by a worker (sending) is due at next_attempt_at, which for a held
-- delivery is the end of its lease. Partial, so finished deliveries (the bulk of the table) are
-- not in it, and ordered, so a claim reads only the rows it takes.
UPDATE delivery SET next_attempt_at = lease_expires_at WHERE status = 1 AND lease_expires_at IS NOT NULL;
CREATE INDEX delivery_due_idx ON delivery (next_attempt_at) WHERE status IN (0, 1, 3);
