//! Queries on applications. Every lookup is scoped to an organisation: another org's id is
//! simply not found.

use super::json_text::{JsonText, StringMap};
use super::page::{Page, PageRequest};
use super::schema::application;
use super::walk::walk;
use super::{Database, DbError};
use crate::model::ids::{AppId, IdOrUid};
use crate::with_conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_builder::AsQuery;
use diesel_async::RunQueryDsl;

/// An application as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = application, treat_none_as_null = true)]
pub struct ApplicationRow {
    /// `app_…`
    pub id: AppId,
    /// Owning organisation.
    pub org_id: String,
    /// Caller-chosen unique name within the org.
    pub uid: Option<String>,
    /// Display name.
    pub name: String,
    /// Messages per second, if throttled.
    pub rate_limit: Option<i32>,
    /// String values.
    pub metadata: JsonText<StringMap>,
    /// Created.
    pub created_at: NaiveDateTime,
    /// Last changed.
    pub updated_at: NaiveDateTime,
}

/// Stores a new application; [`DbError::Conflict`] when its uid is taken.
pub async fn insert_application(db: &Database, row: &ApplicationRow) -> Result<(), DbError> {
    with_conn!(db, c => diesel::insert_into(application::table).values(row).execute(c).await)?;
    Ok(())
}

/// The org's application with this id or uid.
pub async fn find_application(
    db: &Database,
    org: &str,
    which: &IdOrUid<AppId>,
) -> Result<Option<ApplicationRow>, DbError> {
    let text = which.text();
    // Two fixed statements, not one built per call: each is prepared once per connection.
    let in_org = application::table.filter(application::org_id.eq(org));
    let mut rows: Vec<ApplicationRow> = crate::with_conn_retrying!(db, c => match which {
        IdOrUid::Id(_) => in_org.filter(application::id.eq(text).or(application::uid.eq(text))).load(c).await,
        IdOrUid::Uid(_) => in_org.filter(application::uid.eq(text)).load(c).await,
    })?;
    // An id and another application's uid could be equal; the id wins, as in Svix.
    rows.sort_by_key(|r| r.id.as_str() != text);
    Ok(rows.into_iter().next())
}

/// A page of the org's applications, ordered by id (creation time).
pub async fn list_applications(db: &Database, org: &str, page: &PageRequest) -> Result<Page<ApplicationRow>, DbError> {
    let rows: Vec<ApplicationRow> = crate::with_conn_retrying!(db, c => {
        let base = walk(application::table, "application_org_id_id_idx")
            .as_query()
            .filter(application::org_id.eq(org))
            .into_boxed();
        crate::seek!(base, application::id, page).load(c).await
    })?;
    Ok(Page::from_rows(rows, page, |r| r.id.to_string()))
}

/// Saves every field of an existing application; [`DbError::Conflict`] when the new uid is taken.
pub async fn update_application(db: &Database, row: &ApplicationRow) -> Result<(), DbError> {
    let target = application::table.filter(application::id.eq(&row.id)).filter(application::org_id.eq(&row.org_id));
    with_conn!(db, c => diesel::update(target).set(row).execute(c).await)?;
    Ok(())
}

/// Deletes an application and, by cascade, everything it owns.
pub async fn delete_application(db: &Database, org: &str, id: &AppId) -> Result<bool, DbError> {
    let target = application::table.filter(application::id.eq(id)).filter(application::org_id.eq(org));
    Ok(with_conn!(db, c => diesel::delete(target).execute(c).await)? > 0)
}
