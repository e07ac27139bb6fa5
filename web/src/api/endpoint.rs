//! `/api/v1/app/{app_id}/endpoint`: endpoints — list, create, get, update (PUT creates when
//! missing), patch, delete; the signing secret (get, rotate with a grace period); custom headers;
//! delivery stats.

use super::application::visible_app;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{Checks, OptionalJson, present, valid_name};
use super::page::{ListOut, ListQuery, now, timestamp};
use actix_web::{HttpResponse, web};
use herald::context::Context;
use herald::db::endpoint::{
    EndpointRow, delete_endpoint, delivery_counts, find_endpoint, insert_endpoint, list_endpoints, update_endpoint,
};
use herald::db::page::Order;
use herald::model::ids::{is_id, new_id, prefix};
use herald::model::secret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let one = "/app/{app_id}/endpoint/{endpoint_id}";
    cfg.route("/app/{app_id}/endpoint", web::get().to(list))
        .route("/app/{app_id}/endpoint", web::post().to(create))
        .route(one, web::get().to(get))
        .route(one, web::put().to(update))
        .route(one, web::patch().to(patch))
        .route(one, web::delete().to(delete))
        .route(&format!("{one}/secret"), web::get().to(get_secret))
        .route(&format!("{one}/secret/rotate"), web::post().to(rotate_secret))
        .route(&format!("{one}/headers"), web::get().to(get_headers))
        .route(&format!("{one}/headers"), web::put().to(put_headers))
        .route(&format!("{one}/headers"), web::patch().to(patch_headers))
        .route(&format!("{one}/stats"), web::get().to(stats))
        .route(&format!("{one}/send-example"), web::post().to(send_example))
        .route(&format!("{one}/recover"), web::post().to(recover));
}

/// `EndpointIn` / `EndpointUpdate`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointIn {
    url: String,
    uid: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    disabled: bool,
    #[serde(alias = "rateLimit")]
    throttle_rate: Option<u64>,
    #[serde(alias = "filterTypes")]
    event_types: Option<Vec<String>>,
    channels: Option<Vec<String>>,
    metadata: Option<BTreeMap<String, String>>,
    secret: Option<String>,
}

/// `EndpointPatch`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPatch {
    url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    uid: Option<Option<String>>,
    description: Option<String>,
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "present", alias = "rateLimit")]
    throttle_rate: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present", alias = "filterTypes")]
    event_types: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    channels: Option<Option<Vec<String>>>,
    metadata: Option<BTreeMap<String, String>>,
}

/// `EndpointOut`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOut {
    id: String,
    uid: Option<String>,
    url: String,
    description: String,
    disabled: bool,
    throttle_rate: Option<i32>,
    event_types: Option<Vec<String>>,
    channels: Option<Vec<String>>,
    metadata: BTreeMap<String, String>,
    version: i32,
    created_at: String,
    updated_at: String,
}

fn list_of(text: Option<&str>) -> Option<Vec<String>> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

fn text_of(list: Option<Vec<String>>) -> Option<String> {
    list.map(|l| json!(l).to_string())
}

impl From<EndpointRow> for EndpointOut {
    fn from(row: EndpointRow) -> Self {
        EndpointOut {
            event_types: list_of(row.filter_types.as_deref()),
            channels: list_of(row.channels.as_deref()),
            metadata: serde_json::from_str(&row.metadata).unwrap_or_default(),
            id: row.id,
            uid: row.uid,
            url: row.url,
            description: row.description,
            disabled: row.disabled,
            throttle_rate: row.rate_limit,
            version: row.version,
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        }
    }
}

/// Checks an endpoint URL: absolute http(s) with a host.
fn valid_url(text: &str) -> bool {
    text.len() <= 65536
        && url::Url::parse(text)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
}

struct Fields<'a> {
    url: Option<&'a str>,
    description: Option<&'a str>,
    uid: Option<&'a str>,
    throttle: Option<u64>,
    event_types: Option<&'a [String]>,
    channels: Option<&'a [String]>,
    secret: Option<&'a str>,
}

fn check(fields: Fields<'_>) -> Result<(), ApiError> {
    let distinct = |l: &[String]| l.iter().collect::<std::collections::HashSet<_>>().len() == l.len();
    let names_ok = |list: Option<&[String]>, max: usize| {
        list.is_none_or(|l| !l.is_empty() && distinct(l) && l.iter().all(|n| valid_name(n, max)))
    };
    Checks::default()
        .check(fields.url.is_none_or(valid_url), &["body", "url"], "must be an absolute http or https URL")
        .text(fields.description, &["body", "description"])
        .name_field(fields.uid, &["body", "uid"])
        .check(
            fields.uid.is_none_or(|u| !is_id(u, prefix::ENDPOINT)),
            &["body", "uid"],
            "must not look like an endpoint id",
        )
        .check(
            fields.throttle.is_none_or(|t| (1..=u16::MAX as u64).contains(&t)),
            &["body", "throttleRate"],
            "must be 1 to 65535",
        )
        .check(
            names_ok(fields.event_types, 256),
            &["body", "eventTypes"],
            "must be a non-empty list of distinct event type names",
        )
        .check(
            names_ok(fields.channels, 128) && fields.channels.is_none_or(|c| c.len() <= 10),
            &["body", "channels"],
            "must be 1 to 10 distinct channel names",
        )
        .check(
            fields.secret.is_none_or(secret::is_valid),
            &["body", "secret"],
            "must be whsec_ and 32 to 100 base64 characters",
        )
        .finish()
}

fn check_in(body: &EndpointIn) -> Result<(), ApiError> {
    check(Fields {
        url: Some(&body.url),
        description: Some(&body.description),
        uid: body.uid.as_deref(),
        throttle: body.throttle_rate,
        event_types: body.event_types.as_deref(),
        channels: body.channels.as_deref(),
        secret: body.secret.as_deref(),
    })
}

/// The caller's endpoint `{app_id}/{endpoint_id}`; 404 for anything it may not see.
pub async fn visible_endpoint(
    context: &Context,
    caller: &Caller,
    app: &str,
    endpoint: &str,
) -> Result<EndpointRow, ApiError> {
    let app = visible_app(context, caller, app).await?;
    find_endpoint(&context.db, &app.id, endpoint).await?.ok_or(ApiError::NotFound)
}

async fn list(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let app = visible_app(&context, &caller, &path).await?;
    let page = list_endpoints(&context.db, &app.id, &query.page(Order::Ascending)).await?;
    Ok(HttpResponse::Ok().json(ListOut::from_page(page, EndpointOut::from)))
}

fn new_row(context: &Context, app_id: &str, body: EndpointIn) -> Result<EndpointRow, ApiError> {
    let plain = match body.secret {
        Some(given) => secret::normalized(&given),
        None => secret::generate().ok_or_else(|| ApiError::Internal("random source failed".into()))?,
    };
    let sealed = context.secrets.seal(&plain).map_err(|e| ApiError::Internal(e.to_string()))?;
    let at = now();
    Ok(EndpointRow {
        id: new_id(prefix::ENDPOINT),
        app_id: app_id.to_owned(),
        uid: body.uid,
        url: body.url,
        description: body.description,
        disabled: body.disabled,
        rate_limit: body.throttle_rate.map(|t| t as i32),
        filter_types: text_of(body.event_types),
        channels: text_of(body.channels),
        headers: "{}".into(),
        secret: sealed,
        previous_secrets: "[]".into(),
        retry_schedule: None,
        metadata: json!(body.metadata.unwrap_or_default()).to_string(),
        version: 1,
        first_failure_at: None,
        created_at: at,
        updated_at: at,
    })
}

async fn create(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<EndpointIn>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    check_in(&body)?;
    let app = visible_app(&context, &caller, &path).await?;
    let row = new_row(&context, &app.id, body)?;
    insert_endpoint(&context.db, &row).await?;
    Ok(HttpResponse::Created().json(EndpointOut::from(row)))
}

async fn get(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    Ok(HttpResponse::Ok().json(EndpointOut::from(row)))
}

/// Applies the fields every full update sets. A re-enabled endpoint starts its failure clock over.
fn apply_update(row: &mut EndpointRow, body: EndpointIn) {
    if row.disabled && !body.disabled {
        row.first_failure_at = None;
    }
    row.url = body.url;
    row.uid = body.uid;
    row.description = body.description;
    row.disabled = body.disabled;
    row.rate_limit = body.throttle_rate.map(|t| t as i32);
    row.filter_types = text_of(body.event_types);
    row.channels = text_of(body.channels);
    row.metadata = json!(body.metadata.unwrap_or_default()).to_string();
    row.version += 1;
    row.updated_at = now();
}

async fn update(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<EndpointIn>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    check_in(&body)?;
    let app = visible_app(&context, &caller, &path.0).await?;
    match find_endpoint(&context.db, &app.id, &path.1).await? {
        Some(mut row) => {
            apply_update(&mut row, body);
            update_endpoint(&context.db, &row).await?;
            Ok(HttpResponse::Ok().json(EndpointOut::from(row)))
        }
        None if is_id(&path.1, prefix::ENDPOINT) => Err(ApiError::NotFound),
        None => {
            let mut body = body;
            body.uid = Some(body.uid.unwrap_or_else(|| path.1.clone()));
            check(Fields {
                url: None,
                description: None,
                uid: body.uid.as_deref(),
                throttle: None,
                event_types: None,
                channels: None,
                secret: None,
            })?;
            let row = new_row(&context, &app.id, body)?;
            insert_endpoint(&context.db, &row).await?;
            Ok(HttpResponse::Created().json(EndpointOut::from(row)))
        }
    }
}

async fn patch(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<EndpointPatch>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let event_types = body.event_types.clone().flatten();
    let channels = body.channels.clone().flatten();
    check(Fields {
        url: body.url.as_deref(),
        description: body.description.as_deref(),
        uid: body.uid.clone().flatten().as_deref(),
        throttle: body.throttle_rate.flatten(),
        event_types: event_types.as_deref(),
        channels: channels.as_deref(),
        secret: None,
    })?;
    let mut row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    if let Some(url) = body.url {
        row.url = url;
    }
    if let Some(uid) = body.uid {
        row.uid = uid;
    }
    if let Some(description) = body.description {
        row.description = description;
    }
    if let Some(disabled) = body.disabled {
        if row.disabled && !disabled {
            row.first_failure_at = None;
        }
        row.disabled = disabled;
    }
    if let Some(throttle) = body.throttle_rate {
        row.rate_limit = throttle.map(|t| t as i32);
    }
    if let Some(types) = body.event_types {
        row.filter_types = text_of(types);
    }
    if let Some(channels) = body.channels {
        row.channels = text_of(channels);
    }
    if let Some(metadata) = body.metadata {
        row.metadata = json!(metadata).to_string();
    }
    row.version += 1;
    row.updated_at = now();
    update_endpoint(&context.db, &row).await?;
    Ok(HttpResponse::Ok().json(EndpointOut::from(row)))
}

async fn delete(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    delete_endpoint(&context.db, &row.app_id, &row.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn get_secret(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    let key = context.secrets.open(&row.secret).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(json!({ "key": key })))
}

/// `EndpointSecretRotateIn`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotateIn {
    key: Option<String>,
    grace_period_seconds: Option<u64>,
}

/// Longest grace period Svix allows: a week.
const MAX_GRACE_SECONDS: u64 = 604_800;
/// Default grace period: a day.
const DEFAULT_GRACE_SECONDS: u64 = 86_400;

async fn rotate_secret(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: OptionalJson<RotateIn>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0.unwrap_or(RotateIn { key: None, grace_period_seconds: None });
    let grace = body.grace_period_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    Checks::default()
        .check(
            body.key.as_deref().is_none_or(secret::is_valid),
            &["body", "key"],
            "must be whsec_ and 32 to 100 base64 characters",
        )
        .check(grace <= MAX_GRACE_SECONDS, &["body", "gracePeriodSeconds"], "must be at most 604800")
        .finish()?;
    let mut row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    let at = now();
    let mut previous = secret::previous_secrets(&row.previous_secrets);
    // Expired secrets are dropped; the outgoing one signs alongside the new one until its expiry.
    previous.retain(|p| p.live_at(at));
    if grace > 0 {
        let expires = at + chrono::Duration::seconds(grace as i64);
        previous.push(secret::PreviousSecret { secret: row.secret.clone(), expires_at: timestamp(expires) });
    }
    let plain = match body.key {
        Some(given) => secret::normalized(&given),
        None => secret::generate().ok_or_else(|| ApiError::Internal("random source failed".into()))?,
    };
    row.secret = context.secrets.seal(&plain).map_err(|e| ApiError::Internal(e.to_string()))?;
    row.previous_secrets = serde_json::to_string(&previous).unwrap_or_else(|_| "[]".into());
    row.updated_at = at;
    update_endpoint(&context.db, &row).await?;
    // The document says 204; the official SDKs parse the new secret from the body, so send it.
    Ok(HttpResponse::Ok().json(json!({ "key": plain })))
}

/// Headers Herald sets itself; an endpoint may not override them.
const RESERVED_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
];

fn check_headers<'a>(names: impl Iterator<Item = (&'a String, Option<&'a String>)>) -> Result<(), ApiError> {
    let mut checks = Checks::default();
    for (name, value) in names {
        let lower = name.to_ascii_lowercase();
        let token =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let value_ok = value.is_none_or(|v| v.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)));
        let reserved =
            RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("svix-") || lower.starts_with("webhook-");
        checks.check(
            token && value_ok && !reserved,
            &["body", "headers", name],
            "not an allowed HTTP header name and value",
        );
    }
    checks.finish()
}

/// `EndpointHeadersIn`
#[derive(Debug, Deserialize)]
pub struct HeadersIn {
    headers: BTreeMap<String, String>,
}

/// `EndpointHeadersPatchIn` (a null value removes the header)
#[derive(Debug, Deserialize)]
pub struct HeadersPatchIn {
    headers: BTreeMap<String, Option<String>>,
}

fn headers_out(row: &EndpointRow) -> serde_json::Value {
    let headers: BTreeMap<String, String> = serde_json::from_str(&row.headers).unwrap_or_default();
    json!({ "headers": headers, "sensitive": [] })
}

async fn get_headers(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    Ok(HttpResponse::Ok().json(headers_out(&row)))
}

async fn put_headers(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<HeadersIn>,
) -> Result<HttpResponse, ApiError> {
    check_headers(body.headers.iter().map(|(k, v)| (k, Some(v))))?;
    let mut row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    row.headers = json!(body.headers).to_string();
    row.updated_at = now();
    update_endpoint(&context.db, &row).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn patch_headers(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<HeadersPatchIn>,
) -> Result<HttpResponse, ApiError> {
    check_headers(body.headers.iter().map(|(k, v)| (k, v.as_ref())))?;
    let mut row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    let mut headers: BTreeMap<String, String> = serde_json::from_str(&row.headers).unwrap_or_default();
    for (name, value) in body.into_inner().headers {
        match value {
            Some(value) => headers.insert(name, value),
            None => headers.remove(&name),
        };
    }
    row.headers = json!(headers).to_string();
    row.updated_at = now();
    update_endpoint(&context.db, &row).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn stats(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    let mut out = json!({ "success": 0, "fail": 0, "pending": 0, "sending": 0, "canceled": 0 });
    for (status, count) in delivery_counts(&context.db, &row.id).await? {
        // Delivery status codes: 0 pending, 1 sending, 2 succeeded, 3 failed (will retry), 4 exhausted.
        let key = match status {
            0 | 3 => "pending",
            1 => "sending",
            2 => "success",
            _ => "fail",
        };
        out[key] = json!(out[key].as_i64().unwrap_or(0) + count);
    }
    Ok(HttpResponse::Ok().json(out))
}

/// `EventExampleIn`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExampleIn {
    event_type: String,
}

/// The example payload for an event type: the first `examples` entry of its newest schema, or a
/// generic body when it has none.
fn example_payload(event_type: Option<&herald::db::event_type::EventTypeRow>) -> String {
    let schemas: Option<serde_json::Map<String, serde_json::Value>> =
        event_type.and_then(|e| e.schemas.as_deref()).and_then(|s| serde_json::from_str(s).ok());
    schemas
        .and_then(|s| s.into_iter().max_by(|a, b| a.0.cmp(&b.0)))
        .and_then(|(_, schema)| schema.get("examples").and_then(|e| e.get(0)).filter(|e| e.is_object()).cloned())
        .unwrap_or_else(|| json!({ "message": "This is an example event" }))
        .to_string()
}

async fn send_example(
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
        id: new_id(prefix::MESSAGE),
        app_id: endpoint.app_id.clone(),
        org_id: caller.org_id.clone(),
        event_type: body.into_inner().event_type,
        event_id: None,
        channels: None,
        tags: None,
        payload: Some(example_payload(event_type.as_ref())),
        created_at: at,
        expires_at: Some(at + chrono::Duration::days(90)),
        // Marked dispatched: the example goes to this endpoint only, never through fan-out.
        dispatched_at: Some(at),
    };
    herald::db::message::insert_message(&context.db, &row, None).await?;
    herald::db::delivery::schedule_manual(&context.db, &row.id, &endpoint.id, &endpoint.app_id, at).await?;
    Ok(HttpResponse::Ok().json(super::message::MessageOut::new(row, true)))
}

/// `RecoverIn`
#[derive(Debug, Deserialize)]
pub struct RecoverIn {
    since: String,
    until: Option<String>,
}

async fn recover(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<RecoverIn>,
) -> Result<HttpResponse, ApiError> {
    let parse = super::message::parse_time;
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
