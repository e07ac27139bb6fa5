-- See 2026-11-30-000006. Also serves the message_id foreign key.
ALTER TABLE attempt ADD INDEX attempt_message_id_id_idx (message_id, id);
