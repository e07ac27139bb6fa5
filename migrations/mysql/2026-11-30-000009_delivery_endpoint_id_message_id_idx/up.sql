-- See 2026-11-30-000006: an endpoint's deliveries are listed by message id.
ALTER TABLE delivery ADD INDEX delivery_endpoint_id_message_id_idx (endpoint_id, message_id);
