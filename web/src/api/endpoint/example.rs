//! Sending an endpoint a test event of a chosen type.

use super::visible_endpoint;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::extract::{Checks, valid_name};
use actix_web::{HttpResponse, web};
use herald::clock::now;
use herald::context::Context;
use serde::Deserialize;
use serde_json::json;

/// `EventExampleIn`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExampleIn {
    event_type: String,
}

/// The example payload for an event type: the first `examples` entry of its newest schema, or a
/// generic body when it has none.
fn example_payload(event_type: Option<&herald::db::event_type::EventTypeRow>) -> Result<String, ApiError> {
    let schemas = match event_type.and_then(|e| e.schemas.as_ref().map(|s| (e, s))) {
        Some((row, stored)) => Some(stored.get().map_err(|e| e.in_row("event_type", &row.id, "schemas"))?),
        None => None,
    };
    // The newest version is the greatest key.
    Ok(schemas
        .and_then(|s| s.values().next_back())
        .and_then(|schema| schema.get("examples").and_then(|e| e.get(0)).filter(|e| e.is_object()).cloned())
        .unwrap_or_else(|| json!({ "message": "This is an example event" }))
        .to_string())
}

pub(super) async fn send_example(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<ExampleIn>,
) -> Result<HttpResponse, ApiError> {
    Checks::default()
        .check(valid_name(&body.event_type, 256), &["body", "eventType"], "must be an event type name")
        .finish()?;
    let endpoint = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    let event_type = herald::db::event_type::find_event_type(&context.db, &caller.org_id, &body.event_type).await?;
    let at = now();
    let row = herald::db::message::MessageRow {
        id: herald::model::ids::MessageId::generate(),
        app_id: endpoint.app_id.clone(),
        org_id: caller.org_id.clone(),
        event_type: body.into_inner().event_type,
        event_id: None,
        channels: None,
        tags: None,
        payload: Some(example_payload(event_type.as_ref())?),
        created_at: at,
        expires_at: Some(at + chrono::Duration::days(90)),
        // Marked dispatched: the example goes to this endpoint only, never through fan-out.
        dispatched_at: Some(at),
        trace_context: None,
    };
    herald::db::message::insert_message(&context.db, &row, None).await?;
    herald::db::delivery::schedule_manual(&context.db, &row.id, &endpoint.id, &endpoint.app_id, at).await?;
    Ok(HttpResponse::Ok().json(crate::api::message::MessageOut::new(row, true)?))
}
