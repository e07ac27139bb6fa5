-- Lists page by id (ids sort by creation time), so their indexes lead with the owner and end with
-- the id: a page is a range of one index, however many rows other tenants have. The indexes keyed
-- on created_at made a list either walk the primary key past other tenants' rows or sort all of
-- the owner's rows (measured in bench/scale.sh). Built CONCURRENTLY, so a large table keeps
-- taking writes meanwhile: one statement per migration, outside a transaction (metadata.toml).
CREATE INDEX CONCURRENTLY IF NOT EXISTS attempt_app_id_id_idx ON attempt (app_id, id);
