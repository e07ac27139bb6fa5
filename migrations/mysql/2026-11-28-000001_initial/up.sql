-- Herald's initial data model (MySQL 8 / MariaDB 10.6+).
--
-- Conventions shared by the three backends (postgres, mysql, sqlite), so that one diesel
-- schema.rs fits all of them:
--   * Ids are application-generated, prefixed, time-sortable strings (`app_…`, `ep_…`, `msg_…`),
--     never AUTO_INCREMENT.
--   * Timestamps are DATETIME(6) and always hold UTC. Not TIMESTAMP: that converts through the
--     session time zone, ends in 2038, and on some servers gains an implicit
--     ON UPDATE CURRENT_TIMESTAMP.
--   * JSON values are stored as text; the application (de)serialises them.
--   * Small enumerations are SMALLINT codes, documented beside each column.
--   * A parent that owns its children deletes them with ON DELETE CASCADE.
-- Length limits on VARCHAR columns follow the Svix API (uid, event type name, event id: 256) and
-- are the same on every backend, so a value one backend accepts the others do too.
--
-- MySQL specifics:
--   * Every table is InnoDB, utf8mb4 with the binary collation: ids, uids and names are
--     case-sensitive ('app_abc' and 'app_ABC' are different keys), as on the other backends.
--   * Index keys stay well under InnoDB's 3072-byte limit: VARCHAR(64) = 256 bytes and
--     VARCHAR(256) = 1024 bytes in utf8mb4. TEXT columns are never indexed.
--   * TEXT holds at most 64 KiB, so values that may be larger (message payloads, response bodies,
--     URLs of up to 65536 characters as Svix allows, JSON Schemas) are MEDIUMTEXT (16 MiB).
--   * Defaults on TEXT columns are written as expressions, `DEFAULT ('{}')`: MySQL 8.0.13+ accepts
--     only that form, MariaDB 10.2+ accepts both.
--   * DDL is not transactional here: if this migration fails half-way, drop the tables it created
--     before running it again.

-- An application: one customer of the Herald user, owning endpoints and messages.
-- Created first because api_token refers to it.
CREATE TABLE application (
    id          VARCHAR(64)  NOT NULL,
    org_id      VARCHAR(64)  NOT NULL,
    uid         VARCHAR(256) NULL,
    name        TEXT         NOT NULL,
    rate_limit  INT          NULL,
    metadata    TEXT         NOT NULL DEFAULT ('{}'),
    created_at  DATETIME(6)  NOT NULL,
    updated_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    -- NULL uids never collide: an application without a uid is simply not addressable by one.
    UNIQUE KEY application_org_id_uid_key (org_id, uid),
    -- Paginated listing of an organisation's applications (ids are time-sortable).
    KEY application_org_id_id_idx (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- API tokens. Only the SHA-256 of a token is stored; the token itself is shown once.
CREATE TABLE api_token (
    id            VARCHAR(64)  NOT NULL,
    org_id        VARCHAR(64)  NOT NULL,
    name          TEXT         NOT NULL,
    -- Lower-case hex SHA-256 of the full token.
    token_hash    VARCHAR(64)  NOT NULL,
    -- Set for app-portal tokens, which are scoped to one application; NULL for org-wide tokens.
    app_id        VARCHAR(64)  NULL,
    created_at    DATETIME(6)  NOT NULL,
    expires_at    DATETIME(6)  NULL,
    revoked_at    DATETIME(6)  NULL,
    last_used_at  DATETIME(6)  NULL,
    PRIMARY KEY (id),
    UNIQUE KEY api_token_token_hash_key (token_hash),
    KEY api_token_org_id_idx (org_id),
    KEY api_token_app_id_idx (app_id),
    -- A portal token dies with the application it was scoped to.
    CONSTRAINT api_token_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES application (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The catalogue of event types an organisation sends.
CREATE TABLE event_type (
    id            VARCHAR(64)   NOT NULL,
    org_id        VARCHAR(64)   NOT NULL,
    name          VARCHAR(256)  NOT NULL,
    description   TEXT          NOT NULL,
    -- JSON object: schema version -> JSON Schema. SCHEMAS is a reserved word in MySQL, hence
    -- the backquotes (diesel quotes every identifier, so queries need nothing special).
    `schemas`     MEDIUMTEXT    NULL,
    archived      BOOLEAN       NOT NULL DEFAULT FALSE,
    deprecated    BOOLEAN       NOT NULL DEFAULT FALSE,
    feature_flag  VARCHAR(256)  NULL,
    group_name    VARCHAR(256)  NULL,
    created_at    DATETIME(6)   NOT NULL,
    updated_at    DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    -- Also serves as the (org_id, name) index for lookups by name and listing in name order,
    -- so no separate index is created.
    UNIQUE KEY event_type_org_id_name_key (org_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A receiver URL of one application.
CREATE TABLE endpoint (
    id                VARCHAR(64)   NOT NULL,
    app_id            VARCHAR(64)   NOT NULL,
    uid               VARCHAR(256)  NULL,
    url               MEDIUMTEXT    NOT NULL,
    description       TEXT          NOT NULL DEFAULT (''),
    disabled          BOOLEAN       NOT NULL DEFAULT FALSE,
    -- Messages per second; NULL = unlimited.
    rate_limit        INT           NULL,
    -- JSON array of event type names; NULL = every event type.
    filter_types      TEXT          NULL,
    -- JSON array of channels; NULL = every channel.
    channels          TEXT          NULL,
    -- JSON object of extra HTTP headers sent with every delivery.
    headers           TEXT          NOT NULL DEFAULT ('{}'),
    -- Signing secret, encrypted at rest, base64.
    secret            TEXT          NOT NULL,
    -- JSON array of {encrypted secret, expiry}: rotated-out secrets still signing during their grace period.
    previous_secrets  TEXT          NOT NULL DEFAULT ('[]'),
    -- JSON array of retry delays in seconds; NULL = the configured default schedule.
    retry_schedule    TEXT          NULL,
    metadata          TEXT          NOT NULL DEFAULT ('{}'),
    version           INT           NOT NULL DEFAULT 1,
    -- Start of the current unbroken run of failures (auto-disable); NULL after any success.
    first_failure_at  DATETIME(6)   NULL,
    created_at        DATETIME(6)   NOT NULL,
    updated_at        DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY endpoint_app_id_uid_key (app_id, uid),
    -- Paginated listing of an application's endpoints.
    KEY endpoint_app_id_id_idx (app_id, id),
    CONSTRAINT endpoint_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES application (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A message sent to an application; fanned out to its matching endpoints.
CREATE TABLE message (
    id             VARCHAR(64)   NOT NULL,
    app_id         VARCHAR(64)   NOT NULL,
    org_id         VARCHAR(64)   NOT NULL,
    event_type     VARCHAR(256)  NOT NULL,
    -- Caller-supplied idempotency id (Svix `eventId`).
    event_id       VARCHAR(256)  NULL,
    -- JSON arrays.
    channels       TEXT          NULL,
    tags           TEXT          NULL,
    -- JSON payload as received (up to 1 MiB); NULL once expunged.
    payload        MEDIUMTEXT    NULL,
    created_at     DATETIME(6)   NOT NULL,
    -- When payload retention ends.
    expires_at     DATETIME(6)   NULL,
    -- Outbox marker: NULL until the message has been fanned out into delivery rows.
    dispatched_at  DATETIME(6)   NULL,
    PRIMARY KEY (id),
    UNIQUE KEY message_app_id_event_id_key (app_id, event_id),
    -- Paginated listing of an application's messages.
    KEY message_app_id_id_idx (app_id, id),
    -- Listing filtered by event type (`event_types=`). Keyed on id rather than created_at because
    -- the list is ordered and paged by id (the iterator is an id), and ids are time-sortable, so
    -- the `before`/`after` filters can be turned into id bounds and walk the same index.
    KEY message_app_id_event_type_id_idx (app_id, event_type, id),
    -- The sweeper: `dispatched_at IS NULL AND created_at < now - grace`.
    KEY message_dispatched_at_created_at_idx (dispatched_at, created_at),
    -- Payload expunging: `expires_at < now AND payload IS NOT NULL`, without scanning every message.
    KEY message_expires_at_idx (expires_at),
    CONSTRAINT message_app_id_fkey FOREIGN KEY (app_id)
        REFERENCES application (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The delivery state machine: one row per (message, endpoint).
CREATE TABLE delivery (
    id                VARCHAR(64)  NOT NULL,
    message_id        VARCHAR(64)  NOT NULL,
    endpoint_id       VARCHAR(64)  NOT NULL,
    app_id            VARCHAR(64)  NOT NULL,
    -- 0 pending, 1 sending, 2 succeeded, 3 failed (will retry), 4 exhausted.
    status            SMALLINT     NOT NULL DEFAULT 0,
    attempt_count     INT          NOT NULL DEFAULT 0,
    next_attempt_at   DATETIME(6)  NOT NULL,
    -- Worker holding the lease while status = 1 (sending), and when that lease lapses.
    lease_owner       VARCHAR(64)  NULL,
    lease_expires_at  DATETIME(6)  NULL,
    -- 0 scheduled, 1 manual.
    trigger_kind      SMALLINT     NOT NULL DEFAULT 0,
    created_at        DATETIME(6)  NOT NULL,
    updated_at        DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    -- Fan-out is idempotent: a re-dispatched message cannot create a second delivery.
    UNIQUE KEY delivery_message_id_endpoint_id_key (message_id, endpoint_id),
    -- Claiming due work: `status IN (0, 3) AND next_attempt_at <= now`, and expired leases
    -- (`status = 1 AND lease_expires_at <= now`: few rows, found through the status prefix).
    KEY delivery_status_next_attempt_at_idx (status, next_attempt_at),
    -- Per-endpoint views.
    KEY delivery_endpoint_id_created_at_idx (endpoint_id, created_at),
    CONSTRAINT delivery_message_id_fkey FOREIGN KEY (message_id)
        REFERENCES message (id) ON DELETE CASCADE,
    CONSTRAINT delivery_endpoint_id_fkey FOREIGN KEY (endpoint_id)
        REFERENCES endpoint (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One HTTP call to an endpoint: the history shown by the attempts API.
CREATE TABLE attempt (
    id                    VARCHAR(64)  NOT NULL,
    message_id            VARCHAR(64)  NOT NULL,
    endpoint_id           VARCHAR(64)  NOT NULL,
    app_id                VARCHAR(64)  NOT NULL,
    -- The delivery this attempt was made for, if any. Deliberately not a foreign key: attempts
    -- are the history and live as long as their message and endpoint, so finished delivery rows
    -- can be pruned without touching them.
    delivery_id           VARCHAR(64)  NULL,
    -- The URL actually called (the endpoint's URL may change later).
    url                   MEDIUMTEXT   NOT NULL,
    -- Svix MessageStatus: 0 success, 1 pending, 2 fail, 3 sending.
    status                SMALLINT     NOT NULL,
    -- 0 when no HTTP response was received (connect error, timeout, blocked by SSRF policy).
    response_status_code  INT          NOT NULL,
    -- Response body, capped by the application.
    response              MEDIUMTEXT   NOT NULL DEFAULT (''),
    response_duration_ms  BIGINT       NOT NULL,
    -- Svix MessageAttemptTriggerType: 0 scheduled, 1 manual.
    trigger_type          SMALLINT     NOT NULL,
    created_at            DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    -- Attempts of one message, one endpoint, one application, newest first.
    KEY attempt_message_id_created_at_idx (message_id, created_at),
    KEY attempt_endpoint_id_created_at_idx (endpoint_id, created_at),
    KEY attempt_app_id_created_at_idx (app_id, created_at),
    CONSTRAINT attempt_message_id_fkey FOREIGN KEY (message_id)
        REFERENCES message (id) ON DELETE CASCADE,
    CONSTRAINT attempt_endpoint_id_fkey FOREIGN KEY (endpoint_id)
        REFERENCES endpoint (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Responses remembered for the Idempotency-Key header.
CREATE TABLE idempotency_key (
    -- Hex SHA-256 of (token id, Idempotency-Key header).
    key_hash          VARCHAR(64)  NOT NULL,
    org_id            VARCHAR(64)  NOT NULL,
    -- 0 in progress, 1 done.
    state             SMALLINT     NOT NULL DEFAULT 0,
    -- The stored response, replayed for a repeated request once state = 1.
    response_status   INT          NULL,
    response_body     MEDIUMTEXT   NULL,
    -- JSON object.
    response_headers  TEXT         NULL,
    created_at        DATETIME(6)  NOT NULL,
    expires_at        DATETIME(6)  NOT NULL,
    PRIMARY KEY (key_hash),
    -- Pruning expired keys.
    KEY idempotency_key_expires_at_idx (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Fixed-window counter per endpoint, shared by all workers for per-endpoint rate limiting.
CREATE TABLE endpoint_rate (
    endpoint_id   VARCHAR(64)  NOT NULL,
    window_start  DATETIME(6)  NOT NULL,
    count         INT          NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint_id),
    CONSTRAINT endpoint_rate_endpoint_id_fkey FOREIGN KEY (endpoint_id)
        REFERENCES endpoint (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
