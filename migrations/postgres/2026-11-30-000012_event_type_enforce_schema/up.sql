-- Whether messages of this event type must match its newest schema to be accepted (a Herald
-- extension to Svix's event types; off unless asked for).
ALTER TABLE event_type ADD COLUMN enforce_schema BOOLEAN NOT NULL DEFAULT FALSE;
