DROP INDEX IF EXISTS attempt_endpoint_id_id_idx;
