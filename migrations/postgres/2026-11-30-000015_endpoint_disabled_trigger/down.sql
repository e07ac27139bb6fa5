ALTER TABLE endpoint DROP COLUMN disabled_trigger;
