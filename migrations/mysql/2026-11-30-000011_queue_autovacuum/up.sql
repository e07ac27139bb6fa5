-- Postgres only: autovacuum settings for delivery and message. InnoDB purges old row versions
-- by itself; nothing to do here (the statement keeps the migration non-empty).
DO 0;
