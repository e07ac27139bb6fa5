-- Two columns no release since the first has read or written (schema.rs left them out): the
-- token's last use (tracking it would cost a write per request) and the per-endpoint retry
-- schedule (the schedule is `delivery.retry_schedule`).
ALTER TABLE api_token DROP COLUMN last_used_at;
ALTER TABLE endpoint DROP COLUMN retry_schedule;
