//! Delivery attempts and the message ↔ endpoint view of deliveries: attempts by endpoint or by
//! message, one attempt, expunging its response, the endpoints a message went to, the messages an
//! endpoint got, and resending a message to an endpoint.

use super::auth::Caller;
use super::endpoint::{EndpointOut, visible_endpoint};
use super::error::ApiError;
use super::extract::Checks;
use super::message::{MessageOut, event_types, query_time, visible_message};
use super::page::{ListOut, ListQuery, timestamp};
use actix_web::{HttpRequest, HttpResponse, web};
use herald::clock::now;
use herald::context::Context;
use herald::db::attempt::{AttemptFilter, AttemptRow, expunge_response, find_attempt, list_attempts};
use herald::db::delivery::{DeliveryRow, deliveries_of_endpoint, deliveries_of_message, schedule_manual};
use herald::db::endpoint::endpoints_by_ids;
use herald::db::message::{MessageFilter, messages_by_ids};
use herald::db::page::{Order, Page};
use herald::model::status::{DeliveryStatus, MessageStatus};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/{app_id}/attempt/endpoint/{endpoint_id}", web::get().to(by_endpoint))
        .route("/app/{app_id}/attempt/msg/{msg_id}", web::get().to(by_message))
        .route("/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", web::get().to(get))
        .route("/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content", web::delete().to(expunge))
        .route("/app/{app_id}/msg/{msg_id}/endpoint", web::get().to(endpoints_of_message))
        .route("/app/{app_id}/endpoint/{endpoint_id}/msg", web::get().to(messages_of_endpoint))
        .route("/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", web::post().to(resend));
}

const STATUS_RULE: &str = "must be 0, 1, 2 or 3";

/// What Svix's listings take as a status filter: a `MessageStatus` code.
fn status_filter(code: Option<i16>) -> Result<Option<MessageStatus>, ApiError> {
    code.map(MessageStatus::try_from).transpose().map_err(|_| ApiError::field(&["query", "status"], STATUS_RULE))
}

fn attempt_out(row: AttemptRow) -> Value {
    json!({
        "id": row.id,
        "msgId": row.message_id,
        "endpointId": row.endpoint_id,
        "url": row.url,
        "status": row.status,
        "statusText": row.status.text(),
        "responseStatusCode": row.response_status_code,
        "response": row.response,
        "responseDurationMs": row.response_duration_ms,
        "triggerType": row.trigger_type,
        "timestamp": timestamp(row.created_at),
    })
}

/// The filters Svix's attempt and delivery listings take besides pagination.
#[derive(Debug, Deserialize)]
struct Filters {
    status: Option<i16>,
    status_code_class: Option<i32>,
    channel: Option<String>,
    endpoint_id: Option<String>,
    before: Option<String>,
    after: Option<String>,
    with_content: Option<bool>,
}

impl Filters {
    fn messages(&self, req: &HttpRequest) -> Result<MessageFilter, ApiError> {
        Ok(MessageFilter {
            channel: self.channel.clone(),
            event_types: event_types(req),
            before: query_time(&self.before, "before")?,
            after: query_time(&self.after, "after")?,
        })
    }

    fn attempts(&self, req: &HttpRequest) -> Result<AttemptFilter, ApiError> {
        let status = self.status.map(MessageStatus::try_from).transpose();
        Checks::default()
            .check(status.is_ok(), &["query", "status"], STATUS_RULE)
            .check(
                self.status_code_class.is_none_or(|c| [0, 100, 200, 300, 400, 500].contains(&c)),
                &["query", "status_code_class"],
                "must be 0, 100, 200, 300, 400 or 500",
            )
            .finish()?;
        let status = status.ok().flatten();
        let messages = self.messages(req)?;
        Ok(AttemptFilter {
            status,
            status_code_class: self.status_code_class,
            before: messages.before,
            after: messages.after,
            messages: MessageFilter { before: None, after: None, ..messages },
            ..Default::default()
        })
    }
}

async fn list(
    context: &Context,
    app_id: &str,
    filter: AttemptFilter,
    page: &ListQuery,
    with_content: bool,
) -> Result<HttpResponse, ApiError> {
    let largest = context.config.with(|c| c.delivery.max_response_bytes);
    let page = list_attempts(&context.db, app_id, &filter, &page.page_of_bodies(Order::Descending, largest)).await?;
    Ok(HttpResponse::Ok().json(ListOut::from_page(page, |row| {
        let mut out = attempt_out(row);
        if !with_content {
            out["response"] = json!("");
        }
        out
    })))
}

async fn by_endpoint(
    req: HttpRequest,
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    page: web::Query<ListQuery>,
    query: web::Query<Filters>,
) -> Result<HttpResponse, ApiError> {
    let filter = query.attempts(&req)?;
    let endpoint = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    let filter = AttemptFilter { endpoint_id: Some(endpoint.id), ..filter };
    list(&context, &endpoint.app_id, filter, &page, query.with_content.unwrap_or(true)).await
}

async fn by_message(
    req: HttpRequest,
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    page: web::Query<ListQuery>,
    query: web::Query<Filters>,
) -> Result<HttpResponse, ApiError> {
    let filter = query.attempts(&req)?;
    let message = visible_message(&context, &caller, &path.0, &path.1).await?;
    let filter = AttemptFilter { message_id: Some(message.id), endpoint_id: query.endpoint_id.clone(), ..filter };
    list(&context, &message.app_id, filter, &page, query.with_content.unwrap_or(true)).await
}

async fn get(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let message = visible_message(&context, &caller, &path.0, &path.1).await?;
    let row = find_attempt(&context.db, &message.id, &path.2).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(attempt_out(row)))
}

async fn expunge(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let message = visible_message(&context, &caller, &path.0, &path.1).await?;
    let row = find_attempt(&context.db, &message.id, &path.2).await?.ok_or(ApiError::NotFound)?;
    expunge_response(&context.db, &row.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

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
    let ids: Vec<String> = deliveries.data.iter().map(|d| d.endpoint_id.clone()).collect();
    let endpoints: HashMap<String, _> =
        endpoints_by_ids(&context.db, &ids).await?.into_iter().map(|e| (e.id.clone(), e)).collect();
    // An endpoint deleted meanwhile took its delivery with it: it is left out.
    let out = list_of(deliveries, |d| endpoints.get(&d.endpoint_id).map(|e| json!(EndpointOut::from(e.clone()))));
    Ok(HttpResponse::Ok().json(out))
}

/// The list response for a page of deliveries, each shown as `show` has it with its delivery
/// state added.
fn list_of(page: Page<DeliveryRow>, show: impl Fn(&DeliveryRow) -> Option<Value>) -> ListOut<Value> {
    ListOut {
        data: page.data.iter().filter_map(|d| show(d).map(|v| with_delivery(v, d))).collect(),
        done: page.done,
        iterator: page.iterator,
        prev_iterator: page.prev_iterator,
    }
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
    let ids: Vec<String> = deliveries.data.iter().map(|d| d.message_id.clone()).collect();
    let messages: HashMap<String, _> =
        messages_by_ids(&context.db, &ids).await?.into_iter().map(|m| (m.id.clone(), m)).collect();
    let with_content = content.with_content.unwrap_or(true);
    let out =
        list_of(deliveries, |d| messages.get(&d.message_id).map(|m| json!(MessageOut::new(m.clone(), with_content))));
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
