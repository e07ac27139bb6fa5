//! The endpoint itself: list, create, get, update (PUT creates when missing), patch, delete.

use super::{EndpointOut, Reported, change, endpoint_ref, visible_endpoint};
use crate::api::application::visible_app;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::extract::{Checks, present, valid_name};
use crate::api::page::{ListOut, ListQuery};
use actix_web::{HttpResponse, web};
use herald::clock::now;
use herald::context::Context;
use herald::db::JsonText;
use herald::db::application::ApplicationRow;
use herald::db::endpoint::{
    EndpointChanges, EndpointRow, delete_endpoint, find_endpoint, insert_endpoint, list_endpoints,
};
use herald::db::json_text::Names;
use herald::db::page::Order;
use herald::model::ids::{AppId, EndpointId, IdOrUid, is_id, prefix};
use herald::model::secret;
use herald::operational::{Event, Notice, Trigger};
use serde::Deserialize;
use std::collections::BTreeMap;

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

fn text_of(list: Option<Vec<String>>) -> Option<JsonText<Names>> {
    list.map(JsonText::new)
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

pub(super) async fn list(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let app = visible_app(&context, &caller, &path).await?;
    let page = list_endpoints(&context.db, &app.id, &query.page(Order::Ascending)).await?;
    Ok(HttpResponse::Ok().json(ListOut::from_page(page, EndpointOut::try_from)?))
}

fn new_row(context: &Context, app_id: &AppId, body: EndpointIn) -> Result<EndpointRow, ApiError> {
    let plain = match body.secret {
        Some(given) => secret::normalized(&given),
        None => secret::generate().ok_or_else(|| ApiError::Internal("random source failed".into()))?,
    };
    let sealed = context.secrets.seal(&plain).map_err(|e| ApiError::Internal(e.to_string()))?;
    let at = now();
    Ok(EndpointRow {
        id: EndpointId::generate(),
        app_id: app_id.clone(),
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
        metadata: JsonText::new(body.metadata.unwrap_or_default()),
        version: 1,
        first_failure_at: None,
        created_at: at,
        updated_at: at,
        disabled_trigger: body.disabled.then_some(Trigger::Manual),
    })
}

pub(super) async fn create(
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
    store_new(&context, &app, &row).await?;
    Ok(HttpResponse::Created().json(EndpointOut::try_from(row)?))
}

/// Stores a new endpoint of `app` with its `endpoint.created` event.
async fn store_new(context: &Context, app: &ApplicationRow, row: &EndpointRow) -> Result<(), ApiError> {
    let created = Event::EndpointCreated(endpoint_ref(app, row));
    let notices: Vec<Notice> = Notice::new(&app.org_id, &created, row.created_at).into_iter().collect();
    let noticed = insert_endpoint(&context.db, row, &notices).await?;
    context.announce_all(&noticed);
    Ok(())
}

pub(super) async fn get(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    Ok(HttpResponse::Ok().json(EndpointOut::try_from(row)?))
}

/// What a re-enabling sets besides: the failure clock starts over.
fn enabling(row: &EndpointRow, disabled: Option<bool>) -> Option<Option<chrono::NaiveDateTime>> {
    (row.disabled && disabled == Some(false)).then_some(None)
}

/// What disabled the endpoint, when a call changes whether it is: the call itself, or nothing
/// once it is enabled again.
fn disabling(row: &EndpointRow, disabled: Option<bool>) -> Option<Option<Trigger>> {
    match disabled {
        Some(true) if !row.disabled => Some(Some(Trigger::Manual)),
        Some(false) if row.disabled => Some(None),
        _ => None,
    }
}

/// The columns a full update (PUT) sets.
fn full_update(row: &EndpointRow, body: &EndpointIn) -> EndpointChanges {
    EndpointChanges {
        url: Some(body.url.clone()),
        uid: Some(body.uid.clone()),
        description: Some(body.description.clone()),
        disabled: Some(body.disabled),
        first_failure_at: enabling(row, Some(body.disabled)),
        disabled_trigger: disabling(row, Some(body.disabled)),
        rate_limit: Some(body.throttle_rate.map(|t| t as i32)),
        filter_types: Some(text_of(body.event_types.clone())),
        channels: Some(text_of(body.channels.clone())),
        metadata: Some(JsonText::new(body.metadata.clone().unwrap_or_default())),
        ..EndpointChanges::default()
    }
}

pub(super) async fn update(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<EndpointIn>,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner();
    check_in(&body)?;
    body.url = url_field(&body.url)?;
    let app = visible_app(&context, &caller, &path.0).await?;
    match find_endpoint(&context.db, &app.id, &IdOrUid::from(path.1.as_str())).await? {
        Some(_) => {
            let (row, ()) =
                change(&context, &caller, (&path.0, &path.1), Reported::Yes, |row| Ok((full_update(row, &body), ())))
                    .await?;
            Ok(HttpResponse::Ok().json(EndpointOut::try_from(row)?))
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
            store_new(&context, &app, &row).await?;
            Ok(HttpResponse::Created().json(EndpointOut::try_from(row)?))
        }
    }
}

pub(super) async fn patch(
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
    let (row, ()) = change(&context, &caller, (&path.0, &path.1), Reported::Yes, |row| {
        let changes = EndpointChanges {
            url: url.clone(),
            uid: body.uid.clone(),
            description: body.description.clone(),
            disabled: body.disabled,
            first_failure_at: enabling(row, body.disabled),
            disabled_trigger: disabling(row, body.disabled),
            rate_limit: body.throttle_rate.map(|t| t.map(|t| t as i32)),
            filter_types: body.event_types.clone().map(text_of),
            channels: body.channels.clone().map(text_of),
            metadata: body.metadata.clone().map(JsonText::new),
            ..EndpointChanges::default()
        };
        Ok((changes, ()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(EndpointOut::try_from(row)?))
}

pub(super) async fn delete(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let app = visible_app(&context, &caller, &path.0).await?;
    let row = find_endpoint(&context.db, &app.id, &IdOrUid::from(path.1.as_str())).await?.ok_or(ApiError::NotFound)?;
    let deleted = Event::EndpointDeleted(endpoint_ref(&app, &row));
    let notices: Vec<Notice> = Notice::new(&app.org_id, &deleted, now()).into_iter().collect();
    // Deleted meanwhile by another call: that call reported it.
    if let Some(noticed) = delete_endpoint(&context.db, &row.app_id, &row.id, &notices).await? {
        context.announce_all(&noticed);
    }
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_stored_in_the_url_standards_form() {
        assert_eq!(normalized_url("HTTPS://Example.COM:443/a b").as_deref(), None, "a space is refused");
        assert_eq!(normalized_url("HTTPS://Example.COM:443/hook").as_deref(), Some("https://example.com/hook"));
        assert_eq!(normalized_url("http://h/").as_deref(), Some("http://h/"));
    }

    #[test]
    fn only_absolute_http_urls_with_a_host_are_endpoints() {
        for bad in ["ftp://h/", "/relative", "http://", "mailto:a@b", "http://h/\n", " http://h/"] {
            assert_eq!(normalized_url(bad), None, "{bad:?}");
        }
    }
}
