CREATE INDEX attempt_message_id_created_at_idx ON attempt (message_id, created_at);
CREATE INDEX attempt_endpoint_id_created_at_idx ON attempt (endpoint_id, created_at);
CREATE INDEX attempt_app_id_created_at_idx ON attempt (app_id, created_at);
DROP INDEX delivery_endpoint_id_message_id_idx;
DROP INDEX attempt_message_id_id_idx;
DROP INDEX attempt_endpoint_id_id_idx;
DROP INDEX attempt_app_id_id_idx;
