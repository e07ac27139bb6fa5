ALTER TABLE delivery DROP INDEX delivery_endpoint_id_message_id_idx;
ALTER TABLE attempt
    ADD INDEX attempt_message_id_created_at_idx (message_id, created_at),
    ADD INDEX attempt_endpoint_id_created_at_idx (endpoint_id, created_at),
    ADD INDEX attempt_app_id_created_at_idx (app_id, created_at),
    DROP INDEX attempt_app_id_id_idx,
    DROP INDEX attempt_endpoint_id_id_idx,
    DROP INDEX attempt_message_id_id_idx;
