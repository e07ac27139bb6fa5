-- See 2026-11-30-000006. Also serves the message_id foreign key.
CREATE INDEX attempt_message_id_id_idx ON attempt (message_id, id);
