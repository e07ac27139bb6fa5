ALTER TABLE api_token ADD COLUMN last_used_at TIMESTAMP;
ALTER TABLE endpoint ADD COLUMN retry_schedule TEXT;
