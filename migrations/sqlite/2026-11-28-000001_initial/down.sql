-- Drops Herald's initial data model, children before parents.
DROP TABLE endpoint_rate;
DROP TABLE idempotency_key;
DROP TABLE attempt;
DROP TABLE delivery;
DROP TABLE message;
DROP TABLE endpoint;
DROP TABLE event_type;
DROP TABLE api_token;
DROP TABLE application;
