//! Queries on event types, named per organisation.

use super::json_text::{JsonText, Schemas};
use super::page::{Page, PageRequest};
use super::schema::event_type;
use super::walk::walk;
use super::{Database, DbError};
use crate::with_conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_builder::AsQuery;
use diesel_async::RunQueryDsl;

/// An event type as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = event_type, treat_none_as_null = true)]
pub struct EventTypeRow {
    /// `evtype_…`
    pub id: String,
    /// Owning organisation.
    pub org_id: String,
    /// The name messages carry (`user.signup`).
    pub name: String,
    /// For humans.
    pub description: String,
    /// Version → JSON Schema.
    pub schemas: Option<JsonText<Schemas>>,
    /// Deleted but kept.
    pub archived: bool,
    /// Still accepted, discouraged.
    pub deprecated: bool,
    /// Only visible to portal tokens with this flag.
    pub feature_flag: Option<String>,
    /// Grouping in the portal.
    pub group_name: Option<String>,
    /// Created.
    pub created_at: NaiveDateTime,
    /// Last changed.
    pub updated_at: NaiveDateTime,
    /// Whether messages must match the newest schema to be accepted.
    pub enforce_schema: bool,
}

/// Stores a new event type; [`DbError::Conflict`] when the name is taken.
pub async fn insert_event_type(db: &Database, row: &EventTypeRow) -> Result<(), DbError> {
    with_conn!(db, c => diesel::insert_into(event_type::table).values(row).execute(c).await)?;
    Ok(())
}

/// The org's event type with this name.
pub async fn find_event_type(db: &Database, org: &str, name: &str) -> Result<Option<EventTypeRow>, DbError> {
    let query = event_type::table.filter(event_type::org_id.eq(org)).filter(event_type::name.eq(name));
    Ok(crate::with_conn_retrying!(db, c => query.first(c).await.optional())?)
}

/// A page of the org's event types, ordered by name.
pub async fn list_event_types(
    db: &Database,
    org: &str,
    include_archived: bool,
    page: &PageRequest,
) -> Result<Page<EventTypeRow>, DbError> {
    let rows: Vec<EventTypeRow> = crate::with_conn_retrying!(db, c => {
        let base = walk(event_type::table, "event_type_org_id_name_key")
            .as_query()
            .filter(event_type::org_id.eq(org))
            .filter(event_type::archived.eq(false).or(include_archived.into_sql::<diesel::sql_types::Bool>()))
            .into_boxed();
        crate::seek!(base, event_type::name, page).load(c).await
    })?;
    Ok(Page::from_rows(rows, page, |r| r.name.to_string()))
}

/// Saves every field of an existing event type.
pub async fn update_event_type(db: &Database, row: &EventTypeRow) -> Result<(), DbError> {
    let target = event_type::table.filter(event_type::id.eq(&row.id));
    with_conn!(db, c => diesel::update(target).set(row).execute(c).await)?;
    Ok(())
}

/// Deletes an event type for good (`expunge`).
pub async fn delete_event_type(db: &Database, id: &str) -> Result<bool, DbError> {
    Ok(with_conn!(db, c => diesel::delete(event_type::table.filter(event_type::id.eq(id))).execute(c).await)? > 0)
}
