//! Replaying what failed to an endpoint since a chosen time.

use super::visible_endpoint;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::page::timestamp;
use actix_web::{HttpResponse, web};
use herald::clock::now;
use herald::context::Context;
use herald::model::ids::new_id;
use serde::Deserialize;
use serde_json::json;

/// `RecoverIn`
#[derive(Debug, Deserialize)]
pub struct RecoverIn {
    since: String,
    until: Option<String>,
}

pub(super) async fn recover(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<RecoverIn>,
) -> Result<HttpResponse, ApiError> {
    let parse = crate::api::message::parse_time;
    let since =
        parse(&body.since).ok_or_else(|| ApiError::field(&["body", "since"], "must be an RFC 3339 date-time"))?;
    let until = match &body.until {
        Some(text) => {
            parse(text).ok_or_else(|| ApiError::field(&["body", "until"], "must be an RFC 3339 date-time"))?
        }
        None => now() + chrono::Duration::seconds(1),
    };
    let endpoint = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    let at = now();
    herald::db::delivery::recover_failed(&context.db, &endpoint.id, since, until, at).await?;
    Ok(HttpResponse::Accepted().json(json!({
        "id": new_id("qtask"),
        // The reset is done by the time this answers; "running" is the only state Svix's schema has.
        "status": "running",
        "task": "endpoint.recover",
        "updatedAt": timestamp(at),
    })))
}
