-- See 2026-11-30-000006.
CREATE INDEX attempt_endpoint_id_id_idx ON attempt (endpoint_id, id);
