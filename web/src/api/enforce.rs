//! Event type schemas enforced on publish (a Herald extension): a message whose event type has
//! `enforceSchema` is accepted only when its payload matches the type's newest schema, else 422
//! naming each failing place in the payload. Each web process looks an event type up at most once
//! a second (the answer, schema or none, is cached), so other messages cost next to nothing.

use super::error::{ApiError, FieldError};
use herald::context::Context;
use herald::db::event_type::{EventTypeRow, find_event_type};
use herald::payload_schema::{PayloadSchema, SchemaError, schema_key};
use serde_json::value::RawValue;
use std::sync::Arc;

/// Most failing places one answer names.
const MAX_VIOLATIONS: usize = 10;

/// The event type's schema to enforce, if it asks for one; an error when it cannot be enforced
/// (told to whoever sets it, at `loc`).
pub fn enforced(row: &EventTypeRow, loc: &[&str]) -> Result<Option<PayloadSchema>, ApiError> {
    if !row.enforce_schema {
        return Ok(None);
    }
    let schemas = match &row.schemas {
        Some(stored) => stored.get().map_err(|e| e.in_row("event_type", &row.id, "schemas"))?,
        None => return Err(ApiError::field(loc, SchemaError::Missing.to_string())),
    };
    PayloadSchema::newest(schemas).map(Some).map_err(|e| ApiError::field(loc, e.to_string()))
}

/// Checks a payload about to be published as `event_type` by `org`.
pub async fn check_payload(context: &Context, org: &str, event_type: &str, payload: &RawValue) -> Result<(), ApiError> {
    let key = schema_key(org, event_type);
    let schema = match context.schemas.get(&key) {
        Some(cached) => cached,
        None => {
            let found = match find_event_type(&context.db, org, event_type).await? {
                // A schema stored before it could be checked, and broken: the sender's to fix.
                Some(row) => enforced(&row, &["body", "eventType"])?.map(Arc::new),
                None => None,
            };
            context.schemas.put(&key, found.clone());
            found
        }
    };
    let Some(schema) = schema else { return Ok(()) };
    let value: serde_json::Value =
        serde_json::from_str(payload.get()).map_err(|e| ApiError::field(&["body", "payload"], e.to_string()))?;
    let violations = schema.violations(&value, MAX_VIOLATIONS);
    if violations.is_empty() {
        return Ok(());
    }
    Err(ApiError::Validation(
        violations
            .into_iter()
            .map(|v| {
                let mut loc = vec!["body", "payload"];
                loc.extend(v.path.iter().map(String::as_str));
                let msg = format!("does not match schema version {} of {event_type}: {}", schema.version, v.message);
                FieldError::new(&loc, msg)
            })
            .collect(),
    ))
}
