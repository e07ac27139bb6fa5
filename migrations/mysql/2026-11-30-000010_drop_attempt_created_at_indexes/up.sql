-- The attempt indexes keyed on created_at, replaced by the ones keyed on id (000006 to 000008),
-- which also serve the foreign keys InnoDB needs an index for.
ALTER TABLE attempt
    DROP INDEX attempt_app_id_created_at_idx,
    DROP INDEX attempt_endpoint_id_created_at_idx,
    DROP INDEX attempt_message_id_created_at_idx;
