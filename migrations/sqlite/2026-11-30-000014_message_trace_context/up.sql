-- The W3C traceparent of the span that published the message, when tracing was on: each
-- delivery attempt's span is its child, whichever worker makes it, whenever.
ALTER TABLE message ADD COLUMN trace_context TEXT;
