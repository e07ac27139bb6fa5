//! `/api/v1/app/{app_id}/endpoint`: endpoints, split by sub-resource — the endpoint itself
//! ([`crud`]), its signing secret ([`secrets`]), custom headers ([`headers`]), delivery stats
//! ([`stats`]), test events ([`example`]) and replaying what failed ([`recovery`]). What they
//! share lives here: the response shape, the visibility rule, and the compare-and-set change.

mod crud;
mod example;
mod headers;
mod recovery;
mod secrets;
mod stats;

use super::application::visible_app;
use super::auth::Caller;
use super::error::ApiError;
use super::page::timestamp;
use actix_web::web;
use herald::clock::now;
use herald::context::Context;
use herald::db::JsonText;
use herald::db::application::ApplicationRow;
use herald::db::endpoint::{EndpointChanges, EndpointRow, change_endpoint, find_endpoint};
use herald::db::json_text::CorruptJson;
use herald::model::ids::IdOrUid;
use herald::operational::{Disabled, EndpointRef, Event, Notice, Trigger};
use serde::Serialize;
use std::collections::BTreeMap;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let one = "/app/{app_id}/endpoint/{endpoint_id}";
    cfg.route("/app/{app_id}/endpoint", web::get().to(crud::list))
        .route("/app/{app_id}/endpoint", web::post().to(crud::create))
        .route(one, web::get().to(crud::get))
        .route(one, web::put().to(crud::update))
        .route(one, web::patch().to(crud::patch))
        .route(one, web::delete().to(crud::delete))
        .route(&format!("{one}/secret"), web::get().to(secrets::get_secret))
        .route(&format!("{one}/secret/rotate"), web::post().to(secrets::rotate_secret))
        .route(&format!("{one}/headers"), web::get().to(headers::get_headers))
        .route(&format!("{one}/headers"), web::put().to(headers::put_headers))
        .route(&format!("{one}/headers"), web::patch().to(headers::patch_headers))
        .route(&format!("{one}/stats"), web::get().to(stats::stats))
        .route(&format!("{one}/send-example"), web::post().to(example::send_example))
        .route(&format!("{one}/recover"), web::post().to(recovery::recover));
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
    /// Herald's addition: what disabled it (`automatic` or `manual`), while disabled and known.
    disabled_trigger: Option<Trigger>,
    /// Herald's addition: the start of its current run of failed deliveries, if failing.
    fail_since: Option<String>,
}

impl TryFrom<EndpointRow> for EndpointOut {
    type Error = ApiError;

    fn try_from(row: EndpointRow) -> Result<Self, ApiError> {
        let id = row.id.clone();
        let id = &id;
        let corrupt = |column: &'static str| move |e: CorruptJson| e.in_row("endpoint", id, column);
        let event_types = row.filter_types.map(JsonText::into_inner).transpose().map_err(corrupt("filter_types"))?;
        let channels = row.channels.map(JsonText::into_inner).transpose().map_err(corrupt("channels"))?;
        let metadata = row.metadata.into_inner().map_err(corrupt("metadata"))?;
        Ok(EndpointOut {
            event_types,
            channels,
            metadata,
            id: row.id.into(),
            uid: row.uid,
            url: row.url,
            description: row.description,
            disabled: row.disabled,
            throttle_rate: row.rate_limit,
            version: row.version,
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
            disabled_trigger: row.disabled_trigger.filter(|_| row.disabled),
            fail_since: row.first_failure_at.map(timestamp),
        })
    }
}

/// The caller's endpoint `{app_id}/{endpoint_id}`; 404 for anything it may not see.
pub async fn visible_endpoint(
    context: &Context,
    caller: &Caller,
    app: &str,
    endpoint: &str,
) -> Result<EndpointRow, ApiError> {
    let app = visible_app(context, caller, app).await?;
    find_endpoint(&context.db, &app.id, &IdOrUid::from(endpoint)).await?.ok_or(ApiError::NotFound)
}

/// How often a change is worked out again on a fresher copy of the endpoint when other changes
/// keep landing first.
const CHANGE_TRIES: usize = 16;

/// Whether a change of an endpoint is one operators hear about (`endpoint.updated`, and
/// `endpoint.disabled` when it disables the endpoint): the calls Svix reports, an update or a
/// patch, not a rotated secret or new headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reported {
    Yes,
    No,
}

/// The operational events of a call changing `before` (of application `app`) by `changes`.
fn change_notices(app: &ApplicationRow, before: &EndpointRow, changes: &EndpointChanges) -> Vec<Notice> {
    let after = EndpointRef {
        app_id: app.id.clone(),
        app_uid: app.uid.clone(),
        endpoint_id: before.id.clone(),
        endpoint_uid: changes.uid.clone().unwrap_or_else(|| before.uid.clone()),
    };
    let at = changes.updated_at.unwrap_or_else(now);
    let mut events = vec![Event::EndpointUpdated(after.clone())];
    if changes.disabled == Some(true) && !before.disabled {
        let fail_since = before.first_failure_at.map(herald::clock::rfc3339);
        events.push(Event::EndpointDisabled(Disabled { endpoint: after, fail_since, trigger: Trigger::Manual }));
    }
    events.iter().filter_map(|e| Notice::new(&app.org_id, e, at)).collect()
}

/// The endpoint as operational events name it.
fn endpoint_ref(app: &ApplicationRow, row: &EndpointRow) -> EndpointRef {
    EndpointRef {
        app_id: app.id.clone(),
        app_uid: app.uid.clone(),
        endpoint_id: row.id.clone(),
        endpoint_uid: row.uid.clone(),
    }
}

/// Changes the caller's endpoint: `change` works out what to write from the endpoint as it is
/// now, and it is written only if nothing changed the endpoint meanwhile (its version), else
/// worked out again on the newer copy. So concurrent changes never lose one another and every
/// change bumps the version. A `reported` change stores its operational events with it. Returns
/// the endpoint after the change and what `change` returned.
async fn change<T>(
    context: &Context,
    caller: &Caller,
    (app, endpoint): (&str, &str),
    reported: Reported,
    mut change: impl FnMut(&EndpointRow) -> Result<(EndpointChanges, T), ApiError>,
) -> Result<(EndpointRow, T), ApiError> {
    let app = visible_app(context, caller, app).await?;
    for _ in 0..CHANGE_TRIES {
        let row = find_endpoint(&context.db, &app.id, &IdOrUid::from(endpoint)).await?.ok_or(ApiError::NotFound)?;
        let (mut changes, made) = change(&row)?;
        changes.updated_at = Some(now());
        let notices = match reported {
            Reported::Yes => change_notices(&app, &row, &changes),
            Reported::No => Vec::new(),
        };
        if let Some(noticed) = change_endpoint(&context.db, &row.id, row.version, &changes, &notices).await? {
            context.announce_all(&noticed);
            let changed = find_endpoint(&context.db, &row.app_id, &IdOrUid::Id(row.id.clone()))
                .await?
                .ok_or(ApiError::NotFound)?;
            return Ok((changed, made));
        }
    }
    // A 503: nothing was changed, and an Idempotency-Key keeps no answer for it.
    Err(ApiError::Unavailable("the endpoint kept changing under this request".into()))
}
