-- The attempt indexes keyed on created_at, replaced by the ones keyed on id (000006 to 000008);
-- nothing reads through them any more, and every attempt written paid for them.
--
-- Only once their replacements are valid: a CREATE INDEX CONCURRENTLY that failed or was killed
-- leaves an invalid index behind, which `IF NOT EXISTS` then keeps. Dropping the old ones then
-- would leave attempts without a usable index on message_id and endpoint_id.
DO $$
DECLARE
    missing TEXT;
BEGIN
    SELECT string_agg(wanted, ', ') INTO missing
    FROM unnest(ARRAY['attempt_app_id_id_idx', 'attempt_endpoint_id_id_idx', 'attempt_message_id_id_idx']) AS wanted
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname = wanted AND i.indisvalid
    );
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'index(es) % missing or invalid (an interrupted CREATE INDEX CONCURRENTLY): run herald-admin migrate down --steps 4 (which drops them) and migrate up again', missing;
    END IF;
END
$$;
-- The drop waits for readers of the table, and writers queue behind it meanwhile: give up after
-- a few seconds rather than hold inserts back (the migration fails and can simply be run again).
SET LOCAL lock_timeout = '5s';
DROP INDEX IF EXISTS attempt_app_id_created_at_idx, attempt_endpoint_id_created_at_idx, attempt_message_id_created_at_idx;
