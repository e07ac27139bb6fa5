-- Wake-ups are a Postgres feature (LISTEN/NOTIFY); on this backend workers poll. The migration
-- exists so every backend has the same list of migrations.
SELECT 1;
