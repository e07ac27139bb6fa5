//! Diesel schema of Herald's database, shared by the Postgres, MySQL/MariaDB and SQLite backends.
//!
//! Written by hand to match `migrations/{postgres,mysql,sqlite}/*/up.sql` column for column, so
//! it uses only SQL types diesel maps on all three: ids are application-generated prefixed
//! strings (`Text`), timestamps are UTC `Timestamp`s, JSON is stored as `Text`, and enumerations
//! are `SmallInt` codes. A change to a migration must change this file the same way.

diesel::table! {
    /// API tokens: org-wide, or scoped to one application for the app portal; only the hash is kept.
    api_token (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        /// Lower-case hex SHA-256 of the token.
        token_hash -> Text,
        /// Set for app-portal tokens scoped to one application.
        app_id -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Applications: one customer of a Herald user, owning endpoints and messages.
    application (id) {
        id -> Text,
        org_id -> Text,
        uid -> Nullable<Text>,
        name -> Text,
        rate_limit -> Nullable<Integer>,
        /// JSON object.
        metadata -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Event types an organisation sends, with their JSON Schemas.
    event_type (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        description -> Text,
        /// JSON object: schema version to JSON Schema.
        schemas -> Nullable<Text>,
        archived -> Bool,
        deprecated -> Bool,
        feature_flag -> Nullable<Text>,
        group_name -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        /// Messages must match the newest schema.
        enforce_schema -> Bool,
    }
}

diesel::table! {
    /// Endpoints: the receiver URLs of an application, with their filters and signing secrets.
    endpoint (id) {
        id -> Text,
        app_id -> Text,
        uid -> Nullable<Text>,
        url -> Text,
        description -> Text,
        disabled -> Bool,
        /// Messages per second; `None` = unlimited.
        rate_limit -> Nullable<Integer>,
        /// JSON array of event type names; `None` = every event type.
        filter_types -> Nullable<Text>,
        /// JSON array of channels; `None` = every channel.
        channels -> Nullable<Text>,
        /// JSON object of extra HTTP headers.
        headers -> Text,
        /// Signing secret, encrypted at rest, base64.
        secret -> Text,
        /// JSON array of rotated-out secrets (encrypted) with their expiry.
        previous_secrets -> Text,
        /// JSON object.
        metadata -> Text,
        version -> Integer,
        /// Start of the current unbroken run of failures, for auto-disable.
        first_failure_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        /// What disabled it (`Trigger`), while disabled.
        disabled_trigger -> Nullable<SmallInt>,
    }
}

diesel::table! {
    /// Messages sent to an application; `dispatched_at` is the outbox marker.
    message (id) {
        id -> Text,
        app_id -> Text,
        org_id -> Text,
        event_type -> Text,
        event_id -> Nullable<Text>,
        /// JSON array.
        channels -> Nullable<Text>,
        /// JSON array.
        tags -> Nullable<Text>,
        /// JSON payload; `None` once expunged.
        payload -> Nullable<Text>,
        created_at -> Timestamp,
        /// When payload retention ends.
        expires_at -> Nullable<Timestamp>,
        /// `None` until the message has been fanned out into deliveries.
        dispatched_at -> Nullable<Timestamp>,
        /// W3C `traceparent` of the span that published it (tracing on).
        trace_context -> Nullable<Text>,
    }
}

diesel::table! {
    /// Deliveries: the retry state machine of one message to one endpoint.
    delivery (id) {
        id -> Text,
        message_id -> Text,
        endpoint_id -> Text,
        app_id -> Text,
        /// 0 pending, 1 sending, 2 succeeded, 3 failed (will retry), 4 exhausted.
        status -> SmallInt,
        attempt_count -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        /// 0 scheduled, 1 manual.
        trigger_kind -> SmallInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Attempts: one HTTP call to an endpoint and its outcome.
    attempt (id) {
        id -> Text,
        message_id -> Text,
        endpoint_id -> Text,
        app_id -> Text,
        delivery_id -> Nullable<Text>,
        url -> Text,
        /// Svix `MessageStatus`: 0 success, 1 pending, 2 fail, 3 sending.
        status -> SmallInt,
        /// 0 when no HTTP response was received.
        response_status_code -> Integer,
        /// Response body, capped.
        response -> Text,
        response_duration_ms -> BigInt,
        /// Svix `MessageAttemptTriggerType`: 0 scheduled, 1 manual.
        trigger_type -> SmallInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Responses remembered for requests carrying an `Idempotency-Key` header.
    idempotency_key (key_hash) {
        /// Hex SHA-256 of the token id and the key.
        key_hash -> Text,
        org_id -> Text,
        /// 0 in progress, 1 done.
        state -> SmallInt,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        /// JSON object.
        response_headers -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        /// Random id of the request holding the key.
        claim_id -> Text,
        /// The holder's claim lapses then unless renewed.
        lease_until -> Timestamp,
    }
}

diesel::table! {
    /// Per-endpoint fixed-window counters shared by all workers for rate limiting.
    endpoint_rate (endpoint_id) {
        endpoint_id -> Text,
        window_start -> Timestamp,
        count -> Integer,
    }
}

diesel::table! {
    /// Bookkeeping of maintenance jobs: a lease (so one process at a time runs a job) and how far
    /// a job walking a table in id order has got.
    maintenance (name) {
        name -> Text,
        holder -> Text,
        held_until -> Timestamp,
        resume_after -> Text,
    }
}

diesel::joinable!(api_token -> application (app_id));
diesel::joinable!(endpoint -> application (app_id));
diesel::joinable!(message -> application (app_id));
diesel::joinable!(delivery -> message (message_id));
diesel::joinable!(delivery -> endpoint (endpoint_id));
diesel::joinable!(attempt -> message (message_id));
diesel::joinable!(attempt -> endpoint (endpoint_id));
diesel::joinable!(endpoint_rate -> endpoint (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_token,
    application,
    event_type,
    endpoint,
    message,
    delivery,
    attempt,
    idempotency_key,
    endpoint_rate,
    maintenance,
);
