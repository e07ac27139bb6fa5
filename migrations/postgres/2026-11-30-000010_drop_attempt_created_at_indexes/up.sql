-- The attempt indexes keyed on created_at, replaced by the ones keyed on id (000006 to 000008);
-- nothing reads through them any more, and every attempt written paid for them. (A plain DROP
-- takes its lock only for the moment of the drop.)
DROP INDEX IF EXISTS attempt_app_id_created_at_idx, attempt_endpoint_id_created_at_idx, attempt_message_id_created_at_idx;
