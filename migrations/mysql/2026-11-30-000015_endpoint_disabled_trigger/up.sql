-- What disabled a disabled endpoint (0 automatic: it only failed for
-- delivery.disable_endpoint_after; 1 manual: an API call), so its owner can be told why. Endpoints
-- disabled before this column existed have none.
ALTER TABLE endpoint ADD COLUMN disabled_trigger SMALLINT;
