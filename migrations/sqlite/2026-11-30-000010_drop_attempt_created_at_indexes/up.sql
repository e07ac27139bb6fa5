-- The attempt indexes keyed on created_at, replaced by the ones keyed on id (000006 to 000008).
DROP INDEX attempt_app_id_created_at_idx;
DROP INDEX attempt_endpoint_id_created_at_idx;
DROP INDEX attempt_message_id_created_at_idx;
