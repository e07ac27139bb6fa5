-- Lists page by id (ids sort by creation time), so their indexes lead with the owner and end with
-- the id: a page is a range of one index, however many rows other tenants have (bench/scale.sh).
-- One index per migration, as on Postgres, where each is built concurrently.
CREATE INDEX attempt_app_id_id_idx ON attempt (app_id, id);
