ALTER TABLE attempt DROP INDEX attempt_endpoint_id_id_idx;
