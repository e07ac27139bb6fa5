//! `/api/v1/app`: applications — list, create (with `get_if_exists`), get, update (PUT, which
//! creates when missing), patch, delete.

use super::auth::Caller;
use super::error::ApiError;
use super::extract::{Checks, present};
use super::page::{ListOut, ListQuery, timestamp};
use actix_web::{HttpResponse, web};
use herald::clock::now;
use herald::context::Context;
use herald::db::JsonText;
use herald::db::application::{
    ApplicationRow, delete_application, find_application, insert_application, list_applications, update_application,
};
use herald::db::page::Order;
use herald::model::ids::{AppId, IdOrUid, is_id, prefix};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/app", web::get().to(list))
        .route("/app", web::post().to(create))
        .route("/app/{app_id}", web::get().to(get))
        .route("/app/{app_id}", web::put().to(update))
        .route("/app/{app_id}", web::patch().to(patch))
        .route("/app/{app_id}", web::delete().to(delete));
}

/// `ApplicationIn`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationIn {
    name: String,
    uid: Option<String>,
    #[serde(alias = "rateLimit")]
    throttle_rate: Option<u64>,
    metadata: Option<BTreeMap<String, String>>,
}

/// `ApplicationPatch`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationPatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    uid: Option<Option<String>>,
    #[serde(default, deserialize_with = "present", alias = "rateLimit")]
    throttle_rate: Option<Option<u64>>,
    metadata: Option<BTreeMap<String, String>>,
}

/// `ApplicationOut`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationOut {
    id: String,
    uid: Option<String>,
    name: String,
    throttle_rate: Option<i32>,
    metadata: BTreeMap<String, String>,
    created_at: String,
    updated_at: String,
}

impl TryFrom<ApplicationRow> for ApplicationOut {
    type Error = ApiError;

    fn try_from(row: ApplicationRow) -> Result<Self, ApiError> {
        Ok(ApplicationOut {
            metadata: row.metadata.into_inner().map_err(|e| e.in_row("application", &row.id, "metadata"))?,
            id: row.id.into(),
            uid: row.uid,
            name: row.name,
            throttle_rate: row.rate_limit,
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        })
    }
}

fn check_fields(name: Option<&str>, uid: Option<&str>, throttle: Option<u64>) -> Result<(), ApiError> {
    Checks::default()
        .check(name.is_none_or(|n| !n.trim().is_empty()), &["body", "name"], "must not be empty")
        .text(name, &["body", "name"])
        .name_field(uid, &["body", "uid"])
        .check(
            uid.is_none_or(|u| !is_id(u, prefix::APPLICATION)),
            &["body", "uid"],
            "must not look like an application id",
        )
        .check(
            throttle.is_none_or(|t| (1..=u16::MAX as u64).contains(&t)),
            &["body", "throttleRate"],
            "must be 1 to 65535",
        )
        .finish()
}

/// The caller's application addressed by id or uid; 404 for anything it may not see.
pub async fn visible_app(context: &Context, caller: &Caller, id_or_uid: &str) -> Result<ApplicationRow, ApiError> {
    let row =
        find_application(&context.db, &caller.org_id, &IdOrUid::from(id_or_uid)).await?.ok_or(ApiError::NotFound)?;
    if caller.can_see_app(&row.id) { Ok(row) } else { Err(ApiError::NotFound) }
}

/// The application a message names: found by id or uid, or (org tokens only) created from
/// `app_in` with the path as its uid when missing.
pub async fn create_or_find_app(
    context: &Context,
    caller: &Caller,
    id_or_uid: &str,
    app_in: &ApplicationIn,
) -> Result<ApplicationRow, ApiError> {
    match visible_app(context, caller, id_or_uid).await {
        Err(ApiError::NotFound) => {
            caller.require_org()?;
            let uid = app_in.uid.clone().unwrap_or_else(|| id_or_uid.to_owned());
            check_fields(Some(&app_in.name), Some(&uid), app_in.throttle_rate)?;
            let body = ApplicationIn { uid: Some(uid), ..app_in.clone() };
            let row = new_row(&caller.org_id, body);
            match insert_application(&context.db, &row).await {
                // Two messages racing to create the same application: the loser uses the winner's.
                Err(herald::db::DbError::Conflict(_)) => visible_app(context, caller, id_or_uid).await,
                Err(e) => Err(e.into()),
                Ok(()) => Ok(row),
            }
        }
        other => other,
    }
}

async fn list(
    context: web::Data<Context>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_org()?;
    let page = list_applications(&context.db, &caller.org_id, &query.page(Order::Ascending)).await?;
    Ok(HttpResponse::Ok().json(ListOut::from_page(page, ApplicationOut::try_from)?))
}

#[derive(Debug, Deserialize)]
struct CreateQuery {
    #[serde(default)]
    get_if_exists: bool,
}

fn new_row(org: &str, body: ApplicationIn) -> ApplicationRow {
    let at = now();
    ApplicationRow {
        id: AppId::generate(),
        org_id: org.to_owned(),
        uid: body.uid,
        name: body.name,
        rate_limit: body.throttle_rate.map(|t| t as i32),
        metadata: JsonText::new(body.metadata.unwrap_or_default()),
        created_at: at,
        updated_at: at,
    }
}

async fn create(
    context: web::Data<Context>,
    caller: Caller,
    query: web::Query<CreateQuery>,
    body: web::Json<ApplicationIn>,
) -> Result<HttpResponse, ApiError> {
    caller.require_org()?;
    let body = body.into_inner();
    check_fields(Some(&body.name), body.uid.as_deref(), body.throttle_rate)?;
    if query.get_if_exists
        && let Some(uid) = &body.uid
        && let Some(existing) = find_application(&context.db, &caller.org_id, &IdOrUid::from(uid.as_str())).await?
    {
        return Ok(HttpResponse::Ok().json(ApplicationOut::try_from(existing)?));
    }
    let row = new_row(&caller.org_id, body);
    insert_application(&context.db, &row).await?;
    Ok(HttpResponse::Created().json(ApplicationOut::try_from(row)?))
}

async fn get(context: web::Data<Context>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let row = visible_app(&context, &caller, &path).await?;
    Ok(HttpResponse::Ok().json(ApplicationOut::try_from(row)?))
}

async fn update(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<ApplicationIn>,
) -> Result<HttpResponse, ApiError> {
    // An application belongs to the sender: a portal token manages its endpoints, not its app.
    caller.require_org()?;
    let body = body.into_inner();
    check_fields(Some(&body.name), body.uid.as_deref(), body.throttle_rate)?;
    match find_application(&context.db, &caller.org_id, &IdOrUid::from(path.as_str())).await? {
        Some(mut row) if caller.can_see_app(&row.id) => {
            row.name = body.name;
            row.uid = body.uid;
            row.rate_limit = body.throttle_rate.map(|t| t as i32);
            row.metadata = JsonText::new(body.metadata.unwrap_or_default());
            row.updated_at = now();
            update_application(&context.db, &row).await?;
            Ok(HttpResponse::Ok().json(ApplicationOut::try_from(row)?))
        }
        Some(_) => Err(ApiError::NotFound),
        None => {
            // PUT on a missing application creates it, addressed by the path as its uid.
            if is_id(&path, prefix::APPLICATION) {
                return Err(ApiError::NotFound);
            }
            let mut body = body;
            body.uid = Some(body.uid.unwrap_or_else(|| path.clone()));
            check_fields(None, body.uid.as_deref(), None)?;
            let row = new_row(&caller.org_id, body);
            insert_application(&context.db, &row).await?;
            Ok(HttpResponse::Created().json(ApplicationOut::try_from(row)?))
        }
    }
}

async fn patch(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<ApplicationPatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require_org()?;
    let body = body.into_inner();
    let uid = body.uid.clone().flatten();
    let throttle = body.throttle_rate.flatten();
    check_fields(body.name.as_deref(), uid.as_deref(), throttle)?;
    let mut row = visible_app(&context, &caller, &path).await?;
    if let Some(name) = body.name {
        row.name = name;
    }
    if let Some(uid) = body.uid {
        row.uid = uid;
    }
    if let Some(throttle) = body.throttle_rate {
        row.rate_limit = throttle.map(|t| t as i32);
    }
    if let Some(metadata) = body.metadata {
        row.metadata = JsonText::new(metadata);
    }
    row.updated_at = now();
    update_application(&context.db, &row).await?;
    Ok(HttpResponse::Ok().json(ApplicationOut::try_from(row)?))
}

async fn delete(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_org()?;
    let row = visible_app(&context, &caller, &path).await?;
    delete_application(&context.db, &caller.org_id, &row.id).await?;
    Ok(HttpResponse::NoContent().finish())
}
