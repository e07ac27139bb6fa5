ALTER TABLE message DROP COLUMN trace_context;
