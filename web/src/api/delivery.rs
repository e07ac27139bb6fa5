//! The message ↔ endpoint view of deliveries: the endpoints a message went to, the messages an
//! endpoint got (each with its delivery's state as Svix's `MessageStatus`), and resending a
//! message to an endpoint.

use super::attempt::{Filters, status_filter};
use super::auth::Caller;
use super::endpoint::{EndpointOut, visible_endpoint};
use super::error::ApiError;
use super::message::{MessageOut, visible_message};
use super::page::{ListOut, ListQuery, timestamp};
use actix_web::{HttpRequest, HttpResponse, web};
use herald::clock::now;
use herald::context::Context;
use herald::db::delivery::{DeliveryRow, deliveries_of_endpoint, deliveries_of_message, schedule_manual};
use herald::db::endpoint::endpoints_by_ids;
use herald::db::message::messages_by_ids;
use herald::db::page::{Order, Page};
use herald::model::ids::{EndpointId, MessageId};
use herald::model::status::DeliveryStatus;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/{app_id}/msg/{msg_id}/endpoint", web::get().to(endpoints_of_message))
        .route("/app/{app_id}/endpoint/{endpoint_id}/msg", web::get().to(messages_of_endpoint))
        .route("/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", web::post().to(resend));
}

/// A delivery view (`EndpointOut` or `MessageOut`) with its delivery's state added.
fn with_delivery(mut out: Value, delivery: &DeliveryRow) -> Value {
    let shown = delivery.status.message_status();
    out["status"] = json!(shown);
    out["statusText"] = json!(shown.text());
    let retrying = delivery.status.retrying();
    out["nextAttempt"] = if retrying { json!(timestamp(delivery.next_attempt_at)) } else { Value::Null };
    out
}
async fn endpoints_of_message(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    page: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let message = visible_message(&context, &caller, &path.0, &path.1).await?;
    let deliveries = deliveries_of_message(&context.db, &message.id, &page.page(Order::Ascending)).await?;
    let ids: Vec<EndpointId> = deliveries.data.iter().map(|d| d.endpoint_id.clone()).collect();
    let endpoints: HashMap<EndpointId, _> =
        endpoints_by_ids(&context.db, &ids).await?.into_iter().map(|e| (e.id.clone(), e)).collect();
    // An endpoint deleted meanwhile took its delivery with it: it is left out.
    let out = list_of(deliveries, |d| {
        endpoints.get(&d.endpoint_id).map(|e| EndpointOut::try_from(e.clone()).map(|out| json!(out))).transpose()
    })?;
    Ok(HttpResponse::Ok().json(out))
}

/// The list response for a page of deliveries, each shown as `show` has it with its delivery
/// state added.
fn list_of(
    page: Page<DeliveryRow>,
    show: impl Fn(&DeliveryRow) -> Result<Option<Value>, ApiError>,
) -> Result<ListOut<Value>, ApiError> {
    ListOut::from_page_filtered(page, |d| Ok(show(&d)?.map(|v| with_delivery(v, &d))))
}

async fn messages_of_endpoint(
    req: HttpRequest,
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    page: web::Query<ListQuery>,
    content: web::Query<Filters>,
) -> Result<HttpResponse, ApiError> {
    let messages = content.messages(&req)?;
    // Svix's message status, as the delivery states that show it.
    let statuses = status_filter(content.status)?.map_or(&[][..], DeliveryStatus::showing);
    let endpoint = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    let request = page.page_of_bodies(Order::Descending, context.config.with(|c| c.api.max_payload_bytes));
    let deliveries = deliveries_of_endpoint(&context.db, &endpoint.id, statuses, &messages, &request).await?;
    let ids: Vec<MessageId> = deliveries.data.iter().map(|d| d.message_id.clone()).collect();
    let messages: HashMap<MessageId, _> =
        messages_by_ids(&context.db, &ids).await?.into_iter().map(|m| (m.id.clone(), m)).collect();
    let with_content = content.with_content.unwrap_or(true);
    let out = list_of(deliveries, |d| {
        messages.get(&d.message_id).map(|m| MessageOut::new(m.clone(), with_content).map(|out| json!(out))).transpose()
    })?;
    Ok(HttpResponse::Ok().json(out))
}

async fn resend(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let message = visible_message(&context, &caller, &path.0, &path.1).await?;
    let endpoint = visible_endpoint(&context, &caller, &path.0, &path.2).await?;
    schedule_manual(&context.db, &message.id, &endpoint.id, &message.app_id, now()).await?;
    Ok(HttpResponse::Accepted().json(json!({})))
}
