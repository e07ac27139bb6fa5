-- One index answers "what is due now, oldest first": a delivery waiting for its next attempt
-- (pending, failed) or held by a worker (sending) is due at next_attempt_at, which for a held
-- delivery is the end of its lease. Partial, so finished deliveries (the bulk of the table) are
-- not in it, and ordered, so a claim reads only the rows it takes.
UPDATE delivery SET next_attempt_at = lease_expires_at WHERE status = 1 AND lease_expires_at IS NOT NULL;
CREATE INDEX delivery_due_idx ON delivery (next_attempt_at) WHERE status IN (0, 1, 3);

-- A NOTIFY takes a database-wide lock at commit: fired by every message insert it serialised all
-- publishes (about 1 400/s at most here). herald-web now announces new messages itself, at most
-- one NOTIFY per process every few milliseconds. Deliveries keep their triggers (workers insert
-- them in batches; resend and recover are rare).
DROP TRIGGER message_notify_work ON message;
