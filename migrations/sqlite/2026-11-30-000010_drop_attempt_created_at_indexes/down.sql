CREATE INDEX attempt_message_id_created_at_idx ON attempt (message_id, created_at);
CREATE INDEX attempt_endpoint_id_created_at_idx ON attempt (endpoint_id, created_at);
CREATE INDEX attempt_app_id_created_at_idx ON attempt (app_id, created_at);
