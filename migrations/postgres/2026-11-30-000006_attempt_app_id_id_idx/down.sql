DROP INDEX IF EXISTS attempt_app_id_id_idx;
