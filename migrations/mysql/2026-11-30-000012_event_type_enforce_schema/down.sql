ALTER TABLE event_type DROP COLUMN enforce_schema;
