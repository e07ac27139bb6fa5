//! How an endpoint's deliveries stand, counted by state: all of them, or those made in a window
//! (`since`, `until`, as in Svix's API). The count reads every delivery it counts, so its cost
//! grows with the window; a narrow one keeps it small on a busy endpoint.

use super::visible_endpoint;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::message::query_time;
use actix_web::{HttpResponse, web};
use herald::context::Context;
use herald::db::endpoint::delivery_counts;
use herald::model::status::DeliveryStatus;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
pub(super) struct Window {
    since: Option<String>,
    until: Option<String>,
}

pub(super) async fn stats(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    window: web::Query<Window>,
) -> Result<HttpResponse, ApiError> {
    let since = query_time(&window.since, "since")?;
    let until = query_time(&window.until, "until")?;
    let row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    let mut out = json!({ "success": 0, "fail": 0, "pending": 0, "sending": 0, "canceled": 0 });
    for (status, count) in delivery_counts(&context.db, &row.id, since, until).await? {
        let key = match status {
            DeliveryStatus::Pending | DeliveryStatus::Failed => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Succeeded => "success",
            DeliveryStatus::Exhausted => "fail",
        };
        out[key] = json!(out[key].as_i64().unwrap_or(0) + count);
    }
    Ok(HttpResponse::Ok().json(out))
}
