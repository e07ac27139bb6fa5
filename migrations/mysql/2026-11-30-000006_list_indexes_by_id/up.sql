-- Lists page by id (ids sort by creation time), so their indexes lead with the owner and end with
-- the id: a page is a range of one index, however many rows other tenants have. The indexes keyed
-- on created_at made a list either walk the primary key past other tenants' rows or sort all of
-- the owner's rows (measured in bench/scale.sh). InnoDB builds secondary indexes online.
ALTER TABLE attempt
    ADD INDEX attempt_app_id_id_idx (app_id, id),
    ADD INDEX attempt_endpoint_id_id_idx (endpoint_id, id),
    ADD INDEX attempt_message_id_id_idx (message_id, id),
    DROP INDEX attempt_app_id_created_at_idx,
    DROP INDEX attempt_endpoint_id_created_at_idx,
    DROP INDEX attempt_message_id_created_at_idx;
ALTER TABLE delivery ADD INDEX delivery_endpoint_id_message_id_idx (endpoint_id, message_id);
