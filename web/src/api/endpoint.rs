//! `/api/v1/app/{app_id}/endpoint`: endpoints — list, create, get, update (PUT creates when
//! missing), patch, delete; the signing secret (get, rotate with a grace period); custom headers;
//! delivery stats.

use super::application::visible_app;
use super::auth::Caller;
use super::error::ApiError;
use super::extract::{Checks, OptionalJson, present, valid_name};
use super::page::{ListOut, ListQuery, timestamp};
use actix_web::{HttpResponse, web};
use herald::clock::now;
use herald::context::Context;
use herald::db::JsonText;
use herald::db::endpoint::{
    EndpointChanges, EndpointRow, change_endpoint, delete_endpoint, delivery_counts, find_endpoint, insert_endpoint,
    list_endpoints,
};
use herald::db::json_text::Names;
use herald::db::page::Order;
use herald::model::ids::{is_id, new_id, prefix};
use herald::model::secret;
use herald::model::status::DeliveryStatus;
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

fn text_of(list: Option<Vec<String>>) -> Option<JsonText<Names>> {
    list.map(JsonText)
}

impl From<EndpointRow> for EndpointOut {
    fn from(row: EndpointRow) -> Self {
        EndpointOut {
            event_types: row.filter_types.map(JsonText::into_inner),
            channels: row.channels.map(JsonText::into_inner),
            metadata: row.metadata.into_inner(),
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

/// An endpoint URL as stored: absolute http(s) with a host, in the URL standard's serialisation
/// (scheme and host lower-cased, default port dropped, path escaped), so every backend stores
/// and returns the same text. White space and control characters anywhere (CR, LF, tab, NUL, a
/// leading space) are refused rather than silently dropped, as a URL cannot hold them.
fn normalized_url(text: &str) -> Option<String> {
    if text.len() > 65536 || text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    let url = url::Url::parse(text).ok()?;
    let usable = matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty());
    usable.then(|| url.to_string())
}

/// The `url` field, normalised, or a 422 naming it.
fn url_field(text: &str) -> Result<String, ApiError> {
    normalized_url(text).ok_or_else(|| {
        ApiError::field(&["body", "url"], "must be an absolute http or https URL, without spaces or control characters")
    })
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
        .check(
            fields.url.is_none_or(|u| normalized_url(u).is_some()),
            &["body", "url"],
            "must be an absolute http or https URL, without spaces or control characters",
        )
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
        headers: JsonText::default(),
        secret: sealed,
        previous_secrets: JsonText::default(),
        metadata: JsonText(body.metadata.unwrap_or_default()),
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
    let mut body = body.into_inner();
    check_in(&body)?;
    body.url = url_field(&body.url)?;
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

/// How often a change is worked out again on a fresher copy of the endpoint when other changes
/// keep landing first.
const CHANGE_TRIES: usize = 16;

/// Changes the caller's endpoint: `change` works out what to write from the endpoint as it is
/// now, and it is written only if nothing changed the endpoint meanwhile (its version), else
/// worked out again on the newer copy. So concurrent changes never lose one another and every
/// change bumps the version. Returns the endpoint after the change and what `change` returned.
async fn change<T>(
    context: &Context,
    caller: &Caller,
    (app, endpoint): (&str, &str),
    mut change: impl FnMut(&EndpointRow) -> Result<(EndpointChanges, T), ApiError>,
) -> Result<(EndpointRow, T), ApiError> {
    for _ in 0..CHANGE_TRIES {
        let row = visible_endpoint(context, caller, app, endpoint).await?;
        let (mut changes, made) = change(&row)?;
        changes.updated_at = Some(now());
        if change_endpoint(&context.db, &row.id, row.version, &changes).await? {
            let changed = find_endpoint(&context.db, &row.app_id, &row.id).await?.ok_or(ApiError::NotFound)?;
            return Ok((changed, made));
        }
    }
    // A 503: nothing was changed, and an Idempotency-Key keeps no answer for it.
    Err(ApiError::Unavailable("the endpoint kept changing under this request".into()))
}

/// What a re-enabling sets besides: the failure clock starts over.
fn enabling(row: &EndpointRow, disabled: Option<bool>) -> Option<Option<chrono::NaiveDateTime>> {
    (row.disabled && disabled == Some(false)).then_some(None)
}

/// The columns a full update (PUT) sets.
fn full_update(row: &EndpointRow, body: &EndpointIn) -> EndpointChanges {
    EndpointChanges {
        url: Some(body.url.clone()),
        uid: Some(body.uid.clone()),
        description: Some(body.description.clone()),
        disabled: Some(body.disabled),
        first_failure_at: enabling(row, Some(body.disabled)),
        rate_limit: Some(body.throttle_rate.map(|t| t as i32)),
        filter_types: Some(text_of(body.event_types.clone())),
        channels: Some(text_of(body.channels.clone())),
        metadata: Some(JsonText(body.metadata.clone().unwrap_or_default())),
        ..EndpointChanges::default()
    }
}

async fn update(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<EndpointIn>,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner();
    check_in(&body)?;
    body.url = url_field(&body.url)?;
    let app = visible_app(&context, &caller, &path.0).await?;
    match find_endpoint(&context.db, &app.id, &path.1).await? {
        Some(_) => {
            let (row, ()) =
                change(&context, &caller, (&path.0, &path.1), |row| Ok((full_update(row, &body), ()))).await?;
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
    let url = body.url.as_deref().map(url_field).transpose()?;
    let (row, ()) = change(&context, &caller, (&path.0, &path.1), |row| {
        let changes = EndpointChanges {
            url: url.clone(),
            uid: body.uid.clone(),
            description: body.description.clone(),
            disabled: body.disabled,
            first_failure_at: enabling(row, body.disabled),
            rate_limit: body.throttle_rate.map(|t| t.map(|t| t as i32)),
            filter_types: body.event_types.clone().map(text_of),
            channels: body.channels.clone().map(text_of),
            metadata: body.metadata.clone().map(JsonText),
            ..EndpointChanges::default()
        };
        Ok((changes, ()))
    })
    .await?;
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
/// Rotated-out secrets that still sign during their grace period, at most (the newest are kept).
const MAX_PREVIOUS_SECRETS: usize = 4;

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
    let (_, plain) = change(&context, &caller, (&path.0, &path.1), |row| {
        let at = now();
        let mut previous = row.previous_secrets.0.clone();
        // Expired secrets are dropped; the outgoing one signs alongside the new one until its
        // expiry. Only the newest few are kept, so rotating in a loop cannot grow the signature
        // header without bound.
        previous.retain(|p| p.live_at(at));
        if grace > 0 {
            let expires = at + chrono::Duration::seconds(grace as i64);
            previous.push(secret::PreviousSecret { secret: row.secret.clone(), expires_at: timestamp(expires) });
        }
        let surplus = previous.len().saturating_sub(MAX_PREVIOUS_SECRETS);
        previous.drain(..surplus);
        let plain = match &body.key {
            Some(given) => secret::normalized(given),
            None => secret::generate().ok_or_else(|| ApiError::Internal("random source failed".into()))?,
        };
        let changes = EndpointChanges {
            secret: Some(context.secrets.seal(&plain).map_err(|e| ApiError::Internal(e.to_string()))?),
            previous_secrets: Some(JsonText(previous)),
            ..EndpointChanges::default()
        };
        Ok((changes, plain))
    })
    .await?;
    // The document says 204; the official SDKs parse the new secret from the body, so send it.
    Ok(HttpResponse::Ok().json(json!({ "key": plain })))
}

/// Headers an endpoint may not set: those Herald sets itself, and hop-by-hop or encoding
/// headers that would change how the request travels rather than what it says.
const RESERVED_HEADERS: [&str; 19] = [
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "expect",
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
    json!({ "headers": *row.headers, "sensitive": [] })
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
    let headers = JsonText(body.headers.clone());
    change(&context, &caller, (&path.0, &path.1), |_| {
        Ok((EndpointChanges { headers: Some(headers.clone()), ..EndpointChanges::default() }, ()))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn patch_headers(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<HeadersPatchIn>,
) -> Result<HttpResponse, ApiError> {
    check_headers(body.headers.iter().map(|(k, v)| (k, v.as_ref())))?;
    change(&context, &caller, (&path.0, &path.1), |row| {
        let mut headers = row.headers.0.clone();
        for (name, value) in &body.headers {
            match value {
                Some(value) => headers.insert(name.clone(), value.clone()),
                None => headers.remove(name),
            };
        }
        Ok((EndpointChanges { headers: Some(JsonText(headers)), ..EndpointChanges::default() }, ()))
    })
    .await?;
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

/// `EventExampleIn`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExampleIn {
    event_type: String,
}

/// The example payload for an event type: the first `examples` entry of its newest schema, or a
/// generic body when it has none.
fn example_payload(event_type: Option<&herald::db::event_type::EventTypeRow>) -> String {
    // The newest version is the greatest key.
    event_type
        .and_then(|e| e.schemas.as_ref())
        .and_then(|s| s.values().next_back())
        .and_then(|schema| schema.get("examples").and_then(|e| e.get(0)).filter(|e| e.is_object()).cloned())
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
