-- A held (sending) delivery is due again at next_attempt_at, which is now the end of its lease,
-- so "what is due" is one condition. MySQL/MariaDB have no partial indexes: the existing
-- (status, next_attempt_at) index serves the claim.
UPDATE delivery SET next_attempt_at = lease_expires_at WHERE status = 1 AND lease_expires_at IS NOT NULL;
