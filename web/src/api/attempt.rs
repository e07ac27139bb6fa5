//! Delivery attempts: by endpoint or by message, one attempt, expunging its response. The
//! filters Svix's attempt and delivery listings share are read here.

use super::auth::Caller;
use super::endpoint::visible_endpoint;
use super::error::ApiError;
use super::extract::Checks;
use super::message::{message_filter, visible_message};
use super::page::{ListOut, ListQuery, timestamp};
use actix_web::{HttpRequest, HttpResponse, web};
use herald::context::Context;
use herald::db::attempt::{AttemptFilter, AttemptRow, expunge_response, find_attempt, list_attempts};
use herald::db::message::MessageFilter;
use herald::db::page::Order;
use herald::model::ids::EndpointId;
use herald::model::status::MessageStatus;
use serde::Deserialize;
use serde_json::{Value, json};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/{app_id}/attempt/endpoint/{endpoint_id}", web::get().to(by_endpoint))
        .route("/app/{app_id}/attempt/msg/{msg_id}", web::get().to(by_message))
        .route("/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", web::get().to(get))
        .route("/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content", web::delete().to(expunge));
}

const STATUS_RULE: &str = "must be 0, 1, 2 or 3";

/// What Svix's listings take as a status filter: a `MessageStatus` code.
pub(super) fn status_filter(code: Option<i16>) -> Result<Option<MessageStatus>, ApiError> {
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
pub(super) struct Filters {
    pub(super) status: Option<i16>,
    pub(super) status_code_class: Option<i32>,
    pub(super) channel: Option<String>,
    pub(super) endpoint_id: Option<String>,
    pub(super) before: Option<String>,
    pub(super) after: Option<String>,
    pub(super) with_content: Option<bool>,
}

impl Filters {
    pub(super) fn messages(&self, req: &HttpRequest) -> Result<MessageFilter, ApiError> {
        message_filter(req, &self.channel, &self.before, &self.after)
    }

    fn attempts(&self, req: &HttpRequest) -> Result<AttemptFilter, ApiError> {
        let status = status_filter(self.status);
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
    app_id: &herald::model::ids::AppId,
    filter: AttemptFilter,
    page: &ListQuery,
    with_content: bool,
) -> Result<HttpResponse, ApiError> {
    let largest = context.config.with(|c| c.delivery.max_response_bytes);
    let page = list_attempts(&context.db, app_id, &filter, &page.page_of_bodies(Order::Descending, largest)).await?;
    let out = ListOut::from_page(page, |row| {
        let mut out = attempt_out(row);
        if !with_content {
            out["response"] = json!("");
        }
        Ok::<_, ApiError>(out)
    })?;
    Ok(HttpResponse::Ok().json(out))
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
    let filter = AttemptFilter {
        message_id: Some(message.id),
        endpoint_id: query.endpoint_id.clone().map(EndpointId::from_unchecked),
        ..filter
    };
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
