//! `/api/v1/event-type`: event types — list, create, get, update (PUT, creating when missing),
//! patch, delete (archives; `expunge=true` removes it for good).

use super::auth::Caller;
use super::error::ApiError;
use super::extract::{Checks, present, valid_name};
use super::page::{ListOut, ListQuery, timestamp};
use actix_web::{HttpResponse, web};
use herald::clock::now;
use herald::context::Context;
use herald::db::JsonText;
use herald::db::event_type::{
    EventTypeRow, delete_event_type, find_event_type, insert_event_type, list_event_types, update_event_type,
};
use herald::db::json_text::Schemas;
use herald::db::page::Order;
use herald::model::ids::{new_id, prefix};
use serde::{Deserialize, Serialize};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/event-type", web::get().to(list))
        .route("/event-type", web::post().to(create))
        .route("/event-type/{name}", web::get().to(get))
        .route("/event-type/{name}", web::put().to(update))
        .route("/event-type/{name}", web::patch().to(patch))
        .route("/event-type/{name}", web::delete().to(delete));
}

/// `EventTypeIn` (and `EventTypeUpdate`, which lacks the name).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeIn {
    name: Option<String>,
    description: String,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    deprecated: bool,
    feature_flag: Option<String>,
    group_name: Option<String>,
    schemas: Option<Schemas>,
    /// Herald's extension: messages must match the newest schema.
    #[serde(default)]
    enforce_schema: bool,
}

/// `EventTypePatch`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTypePatch {
    description: Option<String>,
    archived: Option<bool>,
    deprecated: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    feature_flag: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    group_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    schemas: Option<Option<Schemas>>,
    enforce_schema: Option<bool>,
}

/// `EventTypeOut`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeOut {
    name: String,
    description: String,
    archived: bool,
    deprecated: bool,
    feature_flag: Option<String>,
    group_name: Option<String>,
    schemas: Option<Schemas>,
    enforce_schema: bool,
    created_at: String,
    updated_at: String,
}

impl EventTypeOut {
    fn new(row: EventTypeRow, with_content: bool) -> Result<Self, ApiError> {
        let schemas = match row.schemas.filter(|_| with_content) {
            Some(stored) => Some(stored.into_inner().map_err(|e| e.in_row("event_type", &row.id, "schemas"))?),
            None => None,
        };
        Ok(EventTypeOut {
            schemas,
            name: row.name,
            description: row.description,
            archived: row.archived,
            deprecated: row.deprecated,
            feature_flag: row.feature_flag,
            group_name: row.group_name,
            enforce_schema: row.enforce_schema,
            created_at: timestamp(row.created_at),
            updated_at: timestamp(row.updated_at),
        })
    }
}

fn check(
    name: Option<&str>,
    description: Option<&str>,
    feature_flag: Option<&str>,
    group: Option<&str>,
) -> Result<(), ApiError> {
    Checks::default()
        .text(description, &["body", "description"])
        .check(
            name.is_none_or(|n| valid_name(n, 256)),
            &["body", "name"],
            "must be 1 to 256 characters of a-z, A-Z, 0-9, '-', '_' or '.'",
        )
        .name_field(feature_flag, &["body", "featureFlag"])
        .name_field(group, &["body", "groupName"])
        .finish()
}

fn schemas_text(schemas: Option<Schemas>) -> Option<JsonText<Schemas>> {
    schemas.map(JsonText::new)
}

#[derive(Debug, Deserialize)]
struct ListFilters {
    #[serde(default)]
    include_archived: bool,
    #[serde(default)]
    with_content: bool,
}

async fn list(
    context: web::Data<Context>,
    caller: Caller,
    query: web::Query<ListQuery>,
    filters: web::Query<ListFilters>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page(Order::Ascending);
    let page = list_event_types(&context.db, &caller.org_id, filters.include_archived, &page).await?;
    Ok(HttpResponse::Ok().json(ListOut::from_page(page, |row| EventTypeOut::new(row, filters.with_content))?))
}

fn new_row(org: &str, name: String, body: EventTypeIn) -> EventTypeRow {
    let at = now();
    EventTypeRow {
        id: new_id(prefix::EVENT_TYPE),
        org_id: org.to_owned(),
        name,
        description: body.description,
        schemas: schemas_text(body.schemas),
        archived: body.archived,
        deprecated: body.deprecated,
        feature_flag: body.feature_flag,
        group_name: body.group_name,
        created_at: at,
        updated_at: at,
        enforce_schema: body.enforce_schema,
    }
}

/// Forgets what this process cached of the event type, after changing it here.
fn forget(context: &Context, row: &EventTypeRow) {
    context.schemas.forget(&herald::payload_schema::schema_key(&row.org_id, &row.name));
}

/// An event type that enforces its schema must have one that compiles: refused at the write,
/// not at every publish.
fn check_enforceable(row: &EventTypeRow) -> Result<(), ApiError> {
    super::enforce::enforced(row, &["body", "enforceSchema"]).map(drop)
}

async fn create(
    context: web::Data<Context>,
    caller: Caller,
    body: web::Json<EventTypeIn>,
) -> Result<HttpResponse, ApiError> {
    caller.require_org()?;
    let mut body = body.into_inner();
    let name = body.name.take().ok_or_else(|| ApiError::field(&["body", "name"], "field required"))?;
    check(Some(&name), Some(&body.description), body.feature_flag.as_deref(), body.group_name.as_deref())?;
    let row = new_row(&caller.org_id, name, body);
    check_enforceable(&row)?;
    insert_event_type(&context.db, &row).await?;
    forget(&context, &row);
    Ok(HttpResponse::Created().json(EventTypeOut::new(row, true)?))
}

async fn get(context: web::Data<Context>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let row = find_event_type(&context.db, &caller.org_id, &path).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(EventTypeOut::new(row, true)?))
}

async fn update(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<EventTypeIn>,
) -> Result<HttpResponse, ApiError> {
    caller.require_org()?;
    let body = body.into_inner();
    check(Some(&path), Some(&body.description), body.feature_flag.as_deref(), body.group_name.as_deref())?;
    match find_event_type(&context.db, &caller.org_id, &path).await? {
        Some(mut row) => {
            row.description = body.description;
            row.archived = body.archived;
            row.deprecated = body.deprecated;
            row.feature_flag = body.feature_flag;
            row.group_name = body.group_name;
            row.schemas = schemas_text(body.schemas);
            row.enforce_schema = body.enforce_schema;
            row.updated_at = now();
            check_enforceable(&row)?;
            update_event_type(&context.db, &row).await?;
            forget(&context, &row);
            Ok(HttpResponse::Ok().json(EventTypeOut::new(row, true)?))
        }
        None => {
            let row = new_row(&caller.org_id, path.into_inner(), body);
            check_enforceable(&row)?;
            insert_event_type(&context.db, &row).await?;
            forget(&context, &row);
            Ok(HttpResponse::Created().json(EventTypeOut::new(row, true)?))
        }
    }
}

async fn patch(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<EventTypePatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require_org()?;
    let body = body.into_inner();
    check(
        None,
        body.description.as_deref(),
        body.feature_flag.clone().flatten().as_deref(),
        body.group_name.clone().flatten().as_deref(),
    )?;
    let mut row = find_event_type(&context.db, &caller.org_id, &path).await?.ok_or(ApiError::NotFound)?;
    if let Some(description) = body.description {
        row.description = description;
    }
    if let Some(archived) = body.archived {
        row.archived = archived;
    }
    if let Some(deprecated) = body.deprecated {
        row.deprecated = deprecated;
    }
    if let Some(flag) = body.feature_flag {
        row.feature_flag = flag;
    }
    if let Some(group) = body.group_name {
        row.group_name = group;
    }
    if let Some(schemas) = body.schemas {
        row.schemas = schemas_text(schemas);
    }
    if let Some(enforce) = body.enforce_schema {
        row.enforce_schema = enforce;
    }
    row.updated_at = now();
    check_enforceable(&row)?;
    update_event_type(&context.db, &row).await?;
    forget(&context, &row);
    Ok(HttpResponse::Ok().json(EventTypeOut::new(row, true)?))
}

#[derive(Debug, Deserialize)]
struct DeleteQuery {
    #[serde(default)]
    expunge: bool,
}

async fn delete(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_org()?;
    let mut row = find_event_type(&context.db, &caller.org_id, &path).await?.ok_or(ApiError::NotFound)?;
    if query.expunge {
        delete_event_type(&context.db, &row.id).await?;
    } else {
        row.archived = true;
        row.updated_at = now();
        update_event_type(&context.db, &row).await?;
    }
    forget(&context, &row);
    Ok(HttpResponse::NoContent().finish())
}
