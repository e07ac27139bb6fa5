ALTER TABLE attempt
    ADD INDEX attempt_message_id_created_at_idx (message_id, created_at),
    ADD INDEX attempt_endpoint_id_created_at_idx (endpoint_id, created_at),
    ADD INDEX attempt_app_id_created_at_idx (app_id, created_at);
