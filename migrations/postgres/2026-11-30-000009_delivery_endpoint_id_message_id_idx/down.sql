DROP INDEX IF EXISTS delivery_endpoint_id_message_id_idx;
