-- Two columns nothing ever wrote or read: a token's last use (a write per request to keep it, for
-- a figure nothing showed) and a per-endpoint retry schedule (the schedule is the worker's config).
ALTER TABLE api_token DROP COLUMN last_used_at;
ALTER TABLE endpoint DROP COLUMN retry_schedule;
