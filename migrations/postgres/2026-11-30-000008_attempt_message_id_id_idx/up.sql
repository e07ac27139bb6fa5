-- See 2026-11-30-000006. Also indexes the message_id foreign key (cascading deletes).
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempt_message_id_id_idx ON attempt (message_id, id);
