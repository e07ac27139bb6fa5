ALTER TABLE api_token ADD COLUMN last_used_at DATETIME(6) NULL;
ALTER TABLE endpoint ADD COLUMN retry_schedule TEXT NULL;
