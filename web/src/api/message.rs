//! `/api/v1/app/{app_id}/msg`: messages — create (202; the message is stored and waits for a
//! worker to fan it out), list with filters, get by id or event id, expunge the payload.

use super::application::{ApplicationIn, create_or_find_app, visible_app};
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{Checks, valid_name};
use super::idempotency::KeyCompleted;
use super::page::{ListOut, ListQuery, timestamp};
use crate::api::traced::RequestTrace;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use herald::clock::now;
use herald::context::Context;
use herald::db::JsonText;
use herald::db::idempotency::{KeyClaim, StoredResponse};
use herald::db::message::{
    MessageFilter, MessageRow, expunge_payload, find_message, insert_message, insert_message_for_app, list_messages,
};
use herald::db::page::Order;
use herald::metrics::Point;
use herald::model::ids::{AppId, IdOrUid, MessageId};
use herald::telemetry::{self, attribute};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/app/{app_id}/msg", web::get().to(list))
        .route("/app/{app_id}/msg", web::post().to(create))
        .route("/app/{app_id}/msg/{msg_id}", web::get().to(get))
        .route("/app/{app_id}/msg/{msg_id}/content", web::delete().to(expunge));
}

/// `MessageIn`. The payload is kept as the caller's raw JSON text: never re-serialised, so what
/// receivers get (and what signatures cover) is byte for byte what was sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageIn {
    event_type: String,
    event_id: Option<String>,
    payload: Box<RawValue>,
    channels: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    payload_retention_period: Option<i64>,
    payload_retention_hours: Option<i64>,
    application: Option<ApplicationIn>,
}

/// `MessageOut`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageOut {
    id: String,
    event_type: String,
    event_id: Option<String>,
    channels: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    payload: Box<RawValue>,
    timestamp: String,
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".into()).unwrap_or_else(|_| unreachable!("{{}} is JSON"))
}

impl MessageOut {
    /// The response form of a row; without content, or once the payload's retention has ended
    /// (expunged, or due to be at the next prune), the payload is `{}` (as Svix answers).
    pub fn new(row: MessageRow, with_content: bool) -> Result<Self, ApiError> {
        let with_content = with_content && row.expires_at.is_none_or(|end| end > now());
        let id = row.id.clone();
        let id = &id;
        let corrupt =
            |column: &'static str| move |e: herald::db::json_text::CorruptJson| e.in_row("message", id, column);
        let channels = row.channels.map(JsonText::into_inner).transpose().map_err(corrupt("channels"))?;
        let tags = row.tags.map(JsonText::into_inner).transpose().map_err(corrupt("tags"))?;
        let payload = row
            .payload
            .filter(|_| with_content)
            .and_then(|p| RawValue::from_string(p).ok())
            .unwrap_or_else(empty_object);
        Ok(MessageOut {
            channels,
            tags,
            id: row.id.into(),
            event_type: row.event_type,
            event_id: row.event_id,
            payload,
            timestamp: timestamp(row.created_at),
        })
    }
}

/// Days a payload is kept by default, and the bounds Svix allows.
const RETENTION_DAYS: (i64, i64, i64) = (90, 5, 90);
/// The bounds Svix allows on `payloadRetentionHours` (up to the 90 days of the longest period).
const RETENTION_HOURS: (i64, i64) = (1, 2160);

#[derive(Debug, Deserialize)]
struct ContentQuery {
    with_content: Option<bool>,
}

fn check(body: &MessageIn, max_payload: usize) -> Result<(), ApiError> {
    if body.payload.get().len() > max_payload {
        return Err(ApiError::PayloadTooLarge(format!("The payload is larger than {max_payload} bytes")));
    }
    let (_, min, max) = RETENTION_DAYS;
    let distinct = |c: &Vec<String>| c.iter().collect::<std::collections::HashSet<_>>().len() == c.len();
    let channels_ok = body
        .channels
        .as_ref()
        .is_none_or(|c| !c.is_empty() && c.len() <= 5 && distinct(c) && c.iter().all(|n| valid_name(n, 128)));
    Checks::default()
        .check(
            valid_name(&body.event_type, 256),
            &["body", "eventType"],
            "must be 1 to 256 characters of a-z, A-Z, 0-9, '-', '_' or '.'",
        )
        .name_field(body.event_id.as_deref(), &["body", "eventId"])
        .check(body.payload.get().trim_start().starts_with('{'), &["body", "payload"], "must be a JSON object")
        .check(channels_ok, &["body", "channels"], "must be 1 to 5 distinct channel names")
        .check(
            body.payload_retention_period.is_none_or(|d| (min..=max).contains(&d)),
            &["body", "payloadRetentionPeriod"],
            "must be 5 to 90 days",
        )
        .check(
            body.payload_retention_hours.is_none_or(|h| (RETENTION_HOURS.0..=RETENTION_HOURS.1).contains(&h)),
            &["body", "payloadRetentionHours"],
            "must be 1 to 2160 hours",
        )
        .check(
            body.payload_retention_hours.is_none() || body.payload_retention_period.is_none(),
            &["body", "payloadRetentionHours"],
            "cannot be given with payloadRetentionPeriod",
        )
        .finish()
}

async fn create(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ContentQuery>,
    key: Option<web::ReqData<KeyClaim>>,
    trace: Option<web::ReqData<RequestTrace>>,
    body: web::Json<MessageIn>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    check(&body, context.config.with(|c| c.api.max_payload_bytes))?;
    super::enforce::check_payload(&context, &caller.org_id, &body.event_type, &body.payload).await?;
    let at = now();
    let retention = match (body.payload_retention_hours, body.payload_retention_period) {
        (Some(hours), _) => chrono::Duration::hours(hours),
        (None, days) => chrono::Duration::days(days.unwrap_or(RETENTION_DAYS.0)),
    };
    let id = MessageId::generate();
    // The publish's span, under the request's: its context is stored with the message, so every
    // attempt's span joins this trace.
    let publish = match (context.telemetry.tracer(), trace.as_deref()) {
        (Some(tracer), Some(trace)) => {
            let attributes = vec![
                KeyValue::new(attribute::ORG, caller.org_id.clone()),
                KeyValue::new(attribute::MESSAGE, id.to_string()),
                KeyValue::new(attribute::EVENT_TYPE, body.event_type.clone()),
            ];
            Some(telemetry::start(tracer, "publish", SpanKind::Producer, &trace.0, attributes))
        }
        _ => None,
    };
    let mut row = MessageRow {
        id,
        // Set by the insert, which finds the application in the same statement.
        app_id: AppId::from_unchecked(""),
        org_id: caller.org_id.clone(),
        event_type: body.event_type,
        event_id: body.event_id,
        channels: body.channels.map(JsonText::new),
        tags: body.tags.map(JsonText::new),
        payload: Some(body.payload.get().to_owned()),
        created_at: at,
        expires_at: Some(at + retention),
        dispatched_at: None,
        trace_context: publish.as_ref().and_then(telemetry::traceparent),
    };
    // The answer is made before the insert: with an Idempotency-Key it is stored in the same
    // transaction as the message, so a key yields one message whatever crashes when.
    let answer = serde_json::to_string(&MessageOut::new(row.clone(), query.with_content.unwrap_or(true))?)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let stored = StoredResponse { status: 202, body: &answer, content_type: "application/json" };
    let keyed = key.as_deref().map(|held| (held, stored));
    if let Some(app_in) = &body.application {
        // Svix creates the application in the same call when it is given and missing.
        row.app_id = create_or_find_app(&context, &caller, &path, app_in).await?.id;
        insert_message(&context.db, &row, keyed).await?;
    } else {
        // The hot path: the application lookup and the insert are one statement; without a key,
        // concurrent publishes share one commit.
        let (org, only_app) = (&caller.org_id, caller.app_id.as_deref());
        let found = match (&context.publishes, keyed) {
            (Some(publishes), None) => publishes.insert(&context.db, org, &path, only_app, &row).await?,
            _ => insert_message_for_app(&context.db, org, &path, only_app, &row, keyed).await?,
        };
        if !found {
            return Err(ApiError::NotFound);
        }
    }
    if let Some(publish) = &publish {
        // The hot path finds the application inside the insert: its id is known only when the
        // call created it.
        let app = if row.app_id.as_str().is_empty() {
            (attribute::APP_REF, path.as_str().to_owned())
        } else {
            (attribute::APP, row.app_id.to_string())
        };
        publish.span().set_attribute(KeyValue::new(app.0, app.1));
    }
    context.metrics.reached(Point::Stored, row.created_at);
    context.announce(&row.id);
    let completed = keyed.is_some();
    let mut response = HttpResponse::Accepted().content_type("application/json").body(answer);
    if completed {
        response.extensions_mut().insert(KeyCompleted);
    }
    Ok(response)
}

/// `?event_types=a&event_types=b` (the query reader takes no repeated keys, so read them here).
fn event_types(req: &HttpRequest) -> Vec<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k == "event_types" || k == "event_types[]")
        .map(|(_, v)| v.into_owned())
        .collect()
}

#[derive(Debug, Deserialize)]
struct ListFilters {
    channel: Option<String>,
    before: Option<String>,
    after: Option<String>,
    with_content: Option<bool>,
}

async fn list(
    req: HttpRequest,
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
    page: web::Query<ListQuery>,
    filters: web::Query<ListFilters>,
) -> Result<HttpResponse, ApiError> {
    let filter = message_filter(&req, &filters.channel, &filters.before, &filters.after)?;
    let app = visible_app(&context, &caller, &path).await?;
    let with_content = filters.with_content.unwrap_or(true);
    // Without content no payload is loaded, so nothing bounds the page but its limit.
    let largest = if with_content { context.config.with(|c| c.api.max_payload_bytes) } else { 0 };
    let request = page.page_of_bodies(Order::Descending, largest);
    let page = list_messages(&context.db, &app.id, &filter, with_content, &request).await?;
    Ok(HttpResponse::Ok().json(ListOut::from_page(page, |row| MessageOut::new(row, with_content))?))
}

/// The caller's message `{app_id}/{msg_id}` (id or event id); 404 for anything it may not see.
pub async fn visible_message(context: &Context, caller: &Caller, app: &str, msg: &str) -> Result<MessageRow, ApiError> {
    let app = visible_app(context, caller, app).await?;
    find_message(&context.db, &app.id, &IdOrUid::from(msg)).await?.ok_or(ApiError::NotFound)
}

async fn get(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    query: web::Query<ContentQuery>,
) -> Result<HttpResponse, ApiError> {
    let row = visible_message(&context, &caller, &path.0, &path.1).await?;
    Ok(HttpResponse::Ok().json(MessageOut::new(row, query.with_content.unwrap_or(true))?))
}

async fn expunge(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let row = visible_message(&context, &caller, &path.0, &path.1).await?;
    expunge_payload(&context.db, &row.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The message filter Svix's listings share, read from the query: a channel, event types
/// (repeatable), and RFC 3339 bounds on when the message was created.
pub fn message_filter(
    req: &HttpRequest,
    channel: &Option<String>,
    before: &Option<String>,
    after: &Option<String>,
) -> Result<MessageFilter, ApiError> {
    Ok(MessageFilter {
        channel: channel.clone(),
        event_types: event_types(req),
        before: query_time(before, "before")?,
        after: query_time(after, "after")?,
    })
}

/// An optional RFC 3339 query parameter; a malformed one is a 422 naming it.
pub fn query_time(text: &Option<String>, name: &str) -> Result<Option<NaiveDateTime>, ApiError> {
    match text {
        None => Ok(None),
        Some(text) => {
            parse_time(text).map(Some).ok_or_else(|| ApiError::field(&["query", name], "must be an RFC 3339 date-time"))
        }
    }
}

/// A timestamp parsed from the API's RFC 3339 form.
pub fn parse_time(text: &str) -> Option<NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.naive_utc())
}
