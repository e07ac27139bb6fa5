DROP INDEX IF EXISTS attempt_message_id_id_idx;
