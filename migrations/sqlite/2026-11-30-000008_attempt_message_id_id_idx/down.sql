DROP INDEX attempt_message_id_id_idx;
