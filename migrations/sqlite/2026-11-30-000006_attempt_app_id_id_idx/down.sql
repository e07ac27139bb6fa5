DROP INDEX attempt_app_id_id_idx;
