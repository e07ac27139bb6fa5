-- See 2026-11-30-000006.
ALTER TABLE attempt ADD INDEX attempt_endpoint_id_id_idx (endpoint_id, id);
