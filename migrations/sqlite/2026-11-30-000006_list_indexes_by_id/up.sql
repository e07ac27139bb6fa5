-- Lists page by id (ids sort by creation time), so their indexes lead with the owner and end with
-- the id: a page is a range of one index, however many rows other tenants have. The indexes keyed
-- on created_at made a list either walk the primary key past other tenants' rows or sort all of
-- the owner's rows (measured in bench/scale.sh).
CREATE INDEX attempt_app_id_id_idx ON attempt (app_id, id);
CREATE INDEX attempt_endpoint_id_id_idx ON attempt (endpoint_id, id);
CREATE INDEX attempt_message_id_id_idx ON attempt (message_id, id);
CREATE INDEX delivery_endpoint_id_message_id_idx ON delivery (endpoint_id, message_id);
DROP INDEX attempt_app_id_created_at_idx;
DROP INDEX attempt_endpoint_id_created_at_idx;
DROP INDEX attempt_message_id_created_at_idx;
