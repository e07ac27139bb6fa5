-- Postgres only: autovacuum settings for delivery and message. SQLite reuses freed pages by
-- itself; nothing to do here (the statement keeps the migration non-empty).
SELECT 1;
