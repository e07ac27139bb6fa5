-- Herald's initial data model (PostgreSQL).
--
-- Conventions shared by the three backends (postgres, mysql, sqlite), so that one diesel
-- schema.rs fits all of them:
--   * Ids are application-generated, prefixed, time-sortable strings (`app_…`, `ep_…`, `msg_…`),
--     never database sequences.
--   * Timestamps are TIMESTAMP (without time zone, microsecond precision) and always hold UTC.
--   * JSON values are stored as TEXT; the application (de)serialises them.
--   * Small enumerations are SMALLINT codes, documented beside each column.
--   * A parent that owns its children deletes them with ON DELETE CASCADE.
-- Length limits on VARCHAR columns follow the Svix API (uid, event type name, event id: 256;
-- channels: 128) and are the same on every backend, so a value one backend accepts the others do too.

-- An application: one customer of the Herald user, owning endpoints and messages.
-- Created first because api_token refers to it.
CREATE TABLE application (
    id          VARCHAR(64)  NOT NULL,
    org_id      VARCHAR(64)  NOT NULL,
    uid         VARCHAR(256),
    name        TEXT         NOT NULL,
    rate_limit  INTEGER,
    metadata    TEXT         NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP    NOT NULL,
    updated_at  TIMESTAMP    NOT NULL,
    CONSTRAINT application_pkey PRIMARY KEY (id),
    -- NULL uids never collide: an application without a uid is simply not addressable by one.
    CONSTRAINT application_org_id_uid_key UNIQUE (org_id, uid)
);
-- Paginated listing of an organisation's applications (ids are time-sortable).
CREATE INDEX application_org_id_id_idx ON application (org_id, id);

-- API tokens. Only the SHA-256 of a token is stored; the token itself is shown once.
CREATE TABLE api_token (
    id            VARCHAR(64)  NOT NULL,
    org_id        VARCHAR(64)  NOT NULL,
    name          TEXT         NOT NULL,
    -- Lower-case hex SHA-256 of the full token.
    token_hash    VARCHAR(64)  NOT NULL,
    -- Set for app-portal tokens, which are scoped to one application; NULL for org-wide tokens.
    app_id        VARCHAR(64),
    created_at    TIMESTAMP    NOT NULL,
    expires_at    TIMESTAMP,
    revoked_at    TIMESTAMP,
    last_used_at  TIMESTAMP,
    CONSTRAINT api_token_pkey PRIMARY KEY (id),
    CONSTRAINT api_token_token_hash_key UNIQUE (token_hash),
    -- A portal token dies with the application it was scoped to.
    CONSTRAINT api_token_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES application (id) ON DELETE CASCADE
);
CREATE INDEX api_token_org_id_idx ON api_token (org_id);
-- Lets the cascade from application find its portal tokens without a scan.
CREATE INDEX api_token_app_id_idx ON api_token (app_id);

-- The catalogue of event types an organisation sends.
CREATE TABLE event_type (
    id            VARCHAR(64)   NOT NULL,
    org_id        VARCHAR(64)   NOT NULL,
    name          VARCHAR(256)  NOT NULL,
    description   TEXT          NOT NULL,
    -- JSON object: schema version -> JSON Schema.
    schemas       TEXT,
    archived      BOOLEAN       NOT NULL DEFAULT FALSE,
    deprecated    BOOLEAN       NOT NULL DEFAULT FALSE,
    feature_flag  VARCHAR(256),
    group_name    VARCHAR(256),
    created_at    TIMESTAMP     NOT NULL,
    updated_at    TIMESTAMP     NOT NULL,
    CONSTRAINT event_type_pkey PRIMARY KEY (id),
    -- Also serves as the (org_id, name) index for lookups by name and listing in name order,
    -- so no separate index is created.
    CONSTRAINT event_type_org_id_name_key UNIQUE (org_id, name)
);

-- A receiver URL of one application.
CREATE TABLE endpoint (
    id                VARCHAR(64)   NOT NULL,
    app_id            VARCHAR(64)   NOT NULL,
    uid               VARCHAR(256),
    url               TEXT          NOT NULL,
    description       TEXT          NOT NULL DEFAULT '',
    disabled          BOOLEAN       NOT NULL DEFAULT FALSE,
    -- Messages per second; NULL = unlimited.
    rate_limit        INTEGER,
    -- JSON array of event type names; NULL = every event type.
    filter_types      TEXT,
    -- JSON array of channels; NULL = every channel.
    channels          TEXT,
    -- JSON object of extra HTTP headers sent with every delivery.
    headers           TEXT          NOT NULL DEFAULT '{}',
    -- Signing secret, encrypted at rest, base64.
    secret            TEXT          NOT NULL,
    -- JSON array of {encrypted secret, expiry}: rotated-out secrets still signing during their grace period.
    previous_secrets  TEXT          NOT NULL DEFAULT '[]',
    -- JSON array of retry delays in seconds; NULL = the configured default schedule.
    retry_schedule    TEXT,
    metadata          TEXT          NOT NULL DEFAULT '{}',
    version           INTEGER       NOT NULL DEFAULT 1,
    -- Start of the current unbroken run of failures (auto-disable); NULL after any success.
    first_failure_at  TIMESTAMP,
    created_at        TIMESTAMP     NOT NULL,
    updated_at        TIMESTAMP     NOT NULL,
    CONSTRAINT endpoint_pkey PRIMARY KEY (id),
    CONSTRAINT endpoint_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES application (id) ON DELETE CASCADE,
    CONSTRAINT endpoint_app_id_uid_key UNIQUE (app_id, uid)
);
-- Paginated listing of an application's endpoints; also indexes the foreign key.
CREATE INDEX endpoint_app_id_id_idx ON endpoint (app_id, id);

-- A message sent to an application; fanned out to its matching endpoints.
CREATE TABLE message (
    id             VARCHAR(64)   NOT NULL,
    app_id         VARCHAR(64)   NOT NULL,
    org_id         VARCHAR(64)   NOT NULL,
    event_type     VARCHAR(256)  NOT NULL,
    -- Caller-supplied idempotency id (Svix `eventId`).
    event_id       VARCHAR(256),
    -- JSON arrays.
    channels       TEXT,
    tags           TEXT,
    -- JSON payload as received; NULL once expunged.
    payload        TEXT,
    created_at     TIMESTAMP     NOT NULL,
    -- When payload retention ends.
    expires_at     TIMESTAMP,
    -- Outbox marker: NULL until the message has been fanned out into delivery rows.
    dispatched_at  TIMESTAMP,
    CONSTRAINT message_pkey PRIMARY KEY (id),
    CONSTRAINT message_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES application (id) ON DELETE CASCADE,
    CONSTRAINT message_app_id_event_id_key UNIQUE (app_id, event_id)
);
-- Paginated listing of an application's messages; also indexes the foreign key.
CREATE INDEX message_app_id_id_idx ON message (app_id, id);
-- Listing filtered by event type (`event_types=`). Keyed on id rather than created_at because the
-- list is ordered and paged by id (the iterator is an id), and ids are time-sortable, so the
-- `before`/`after` filters can be turned into id bounds and walk the same index.
CREATE INDEX message_app_id_event_type_id_idx ON message (app_id, event_type, id);
-- The sweeper: `dispatched_at IS NULL AND created_at < now - grace`.
CREATE INDEX message_dispatched_at_created_at_idx ON message (dispatched_at, created_at);
-- Payload expunging: `expires_at < now AND payload IS NOT NULL`, without scanning every message.
CREATE INDEX message_expires_at_idx ON message (expires_at);

-- The delivery state machine: one row per (message, endpoint).
CREATE TABLE delivery (
    id                VARCHAR(64)  NOT NULL,
    message_id        VARCHAR(64)  NOT NULL,
    endpoint_id       VARCHAR(64)  NOT NULL,
    app_id            VARCHAR(64)  NOT NULL,
    -- 0 pending, 1 sending, 2 succeeded, 3 failed (will retry), 4 exhausted.
    status            SMALLINT     NOT NULL DEFAULT 0,
    attempt_count     INTEGER      NOT NULL DEFAULT 0,
    next_attempt_at   TIMESTAMP    NOT NULL,
    -- Worker holding the lease while status = 1 (sending), and when that lease lapses.
    lease_owner       VARCHAR(64),
    lease_expires_at  TIMESTAMP,
    -- 0 scheduled, 1 manual.
    trigger_kind      SMALLINT     NOT NULL DEFAULT 0,
    created_at        TIMESTAMP    NOT NULL,
    updated_at        TIMESTAMP    NOT NULL,
    CONSTRAINT delivery_pkey PRIMARY KEY (id),
    CONSTRAINT delivery_message_id_fkey FOREIGN KEY (message_id)
        REFERENCES message (id) ON DELETE CASCADE,
    CONSTRAINT delivery_endpoint_id_fkey FOREIGN KEY (endpoint_id)
        REFERENCES endpoint (id) ON DELETE CASCADE,
    -- Fan-out is idempotent: a re-dispatched message cannot create a second delivery.
    -- Also indexes the message_id foreign key.
    CONSTRAINT delivery_message_id_endpoint_id_key UNIQUE (message_id, endpoint_id)
);
-- Claiming due work: `status IN (0, 3) AND next_attempt_at <= now`, and expired leases
-- (`status = 1 AND lease_expires_at <= now`: few rows, found through the status prefix).
CREATE INDEX delivery_status_next_attempt_at_idx ON delivery (status, next_attempt_at);
-- Per-endpoint views; also indexes the endpoint_id foreign key.
CREATE INDEX delivery_endpoint_id_created_at_idx ON delivery (endpoint_id, created_at);

-- One HTTP call to an endpoint: the history shown by the attempts API.
CREATE TABLE attempt (
    id                    VARCHAR(64)  NOT NULL,
    message_id            VARCHAR(64)  NOT NULL,
    endpoint_id           VARCHAR(64)  NOT NULL,
    app_id                VARCHAR(64)  NOT NULL,
    -- The delivery this attempt was made for, if any. Deliberately not a foreign key: attempts
    -- are the history and live as long as their message and endpoint, so finished delivery rows
    -- can be pruned without touching them.
    delivery_id           VARCHAR(64),
    -- The URL actually called (the endpoint's URL may change later).
    url                   TEXT         NOT NULL,
    -- Svix MessageStatus: 0 success, 1 pending, 2 fail, 3 sending.
    status                SMALLINT     NOT NULL,
    -- 0 when no HTTP response was received (connect error, timeout, blocked by SSRF policy).
    response_status_code  INTEGER      NOT NULL,
    -- Response body, capped by the application.
    response              TEXT         NOT NULL DEFAULT '',
    response_duration_ms  BIGINT       NOT NULL,
    -- Svix MessageAttemptTriggerType: 0 scheduled, 1 manual.
    trigger_type          SMALLINT     NOT NULL,
    created_at            TIMESTAMP    NOT NULL,
    CONSTRAINT attempt_pkey PRIMARY KEY (id),
    CONSTRAINT attempt_message_id_fkey FOREIGN KEY (message_id)
        REFERENCES message (id) ON DELETE CASCADE,
    CONSTRAINT attempt_endpoint_id_fkey FOREIGN KEY (endpoint_id)
        REFERENCES endpoint (id) ON DELETE CASCADE
);
-- Attempts of one message, one endpoint, one application, newest first; the first two also
-- index the foreign keys.
CREATE INDEX attempt_message_id_created_at_idx ON attempt (message_id, created_at);
CREATE INDEX attempt_endpoint_id_created_at_idx ON attempt (endpoint_id, created_at);
CREATE INDEX attempt_app_id_created_at_idx ON attempt (app_id, created_at);

-- Responses remembered for the Idempotency-Key header.
CREATE TABLE idempotency_key (
    -- Hex SHA-256 of (token id, Idempotency-Key header).
    key_hash          VARCHAR(64)  NOT NULL,
    org_id            VARCHAR(64)  NOT NULL,
    -- 0 in progress, 1 done.
    state             SMALLINT     NOT NULL DEFAULT 0,
    -- The stored response, replayed for a repeated request once state = 1.
    response_status   INTEGER,
    response_body     TEXT,
    -- JSON object.
    response_headers  TEXT,
    created_at        TIMESTAMP    NOT NULL,
    expires_at        TIMESTAMP    NOT NULL,
    CONSTRAINT idempotency_key_pkey PRIMARY KEY (key_hash)
);
-- Pruning expired keys.
CREATE INDEX idempotency_key_expires_at_idx ON idempotency_key (expires_at);

-- Fixed-window counter per endpoint, shared by all workers for per-endpoint rate limiting.
CREATE TABLE endpoint_rate (
    endpoint_id   VARCHAR(64)  NOT NULL,
    window_start  TIMESTAMP    NOT NULL,
    count         INTEGER      NOT NULL DEFAULT 0,
    CONSTRAINT endpoint_rate_pkey PRIMARY KEY (endpoint_id),
    CONSTRAINT endpoint_rate_endpoint_id_fkey FOREIGN KEY (endpoint_id)
        REFERENCES endpoint (id) ON DELETE CASCADE
);
