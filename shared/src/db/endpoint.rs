//! Queries on endpoints, always within one application.

use super::json_text::{JsonText, Names, StringMap};
use super::operational::{Noticed, insert_notices};
use super::page::{Page, PageRequest};
use super::schema::{delivery, endpoint};
use super::walk::walk;
use super::{Database, DbError};
use crate::model::ids::{AppId, EndpointId, IdOrUid};
use crate::model::secret::PreviousSecret;
use crate::operational::{Disabled, EndpointRef, Event, Notice, Trigger};
use crate::with_conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_builder::AsQuery;
use diesel_async::{AsyncConnection, RunQueryDsl};

/// An endpoint as stored.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = endpoint)]
pub struct EndpointRow {
    /// `ep_…`
    pub id: EndpointId,
    /// Owning application.
    pub app_id: AppId,
    /// Caller-chosen unique name within the application.
    pub uid: Option<String>,
    /// Where deliveries go.
    pub url: String,
    /// For humans.
    pub description: String,
    /// Receives nothing while true.
    pub disabled: bool,
    /// Deliveries per second, if limited.
    pub rate_limit: Option<i32>,
    /// Event type names, if filtered.
    pub filter_types: Option<JsonText<Names>>,
    /// Channels, if filtered.
    pub channels: Option<JsonText<Names>>,
    /// Extra headers.
    pub headers: JsonText<StringMap>,
    /// The signing secret, sealed with the configured key.
    pub secret: String,
    /// Secrets still signing during their grace period.
    pub previous_secrets: JsonText<Vec<PreviousSecret>>,
    /// String values.
    pub metadata: JsonText<StringMap>,
    /// Bumped on every change.
    pub version: i32,
    /// Start of the current run of failures.
    pub first_failure_at: Option<NaiveDateTime>,
    /// Created.
    pub created_at: NaiveDateTime,
    /// Last changed.
    pub updated_at: NaiveDateTime,
    /// What disabled it, while disabled (none for endpoints disabled before this was kept).
    pub disabled_trigger: Option<Trigger>,
}

/// Stores a new endpoint and, in the same transaction, the `notices` telling operators about it;
/// [`DbError::Conflict`] when its uid is taken in the application.
pub async fn insert_endpoint(db: &Database, row: &EndpointRow, notices: &[Notice]) -> Result<Noticed, DbError> {
    let insert = diesel::insert_into(endpoint::table).values(row);
    if notices.is_empty() {
        with_conn!(db, c => insert.execute(c).await)?;
        return Ok(Noticed::default());
    }
    Ok(Noticed(with_conn!(db, c => c.transaction(async |c| {
        insert.execute(c).await?;
        Ok::<_, diesel::result::Error>(insert_notices!(c, notices))
    }).await)?))
}

/// The application's endpoint with this id or uid (the id wins a tie).
pub async fn find_endpoint(
    db: &Database,
    app_id: &AppId,
    which: &IdOrUid<EndpointId>,
) -> Result<Option<EndpointRow>, DbError> {
    let text = which.text();
    // Two fixed statements, not one built per call: each is prepared once per connection.
    let in_app = endpoint::table.filter(endpoint::app_id.eq(app_id));
    let mut rows: Vec<EndpointRow> = crate::with_conn_retrying!(db, c => match which {
        IdOrUid::Id(_) => in_app.filter(endpoint::id.eq(text).or(endpoint::uid.eq(text))).load(c).await,
        IdOrUid::Uid(_) => in_app.filter(endpoint::uid.eq(text)).load(c).await,
    })?;
    rows.sort_by_key(|r| r.id.as_str() != text);
    Ok(rows.into_iter().next())
}

/// A page of the application's endpoints, by id.
pub async fn list_endpoints(db: &Database, app_id: &AppId, page: &PageRequest) -> Result<Page<EndpointRow>, DbError> {
    let rows: Vec<EndpointRow> = crate::with_conn_retrying!(db, c => {
        let base = walk(endpoint::table, "endpoint_app_id_id_idx").as_query().filter(endpoint::app_id.eq(app_id)).into_boxed();
        crate::seek!(base, endpoint::id, page).load(c).await
    })?;
    Ok(Page::from_rows(rows, page, |r| r.id.to_string()))
}

/// Every enabled endpoint of these applications (for fan-out).
pub async fn enabled_endpoints(db: &Database, app_ids: &[&str]) -> Result<Vec<EndpointRow>, DbError> {
    let query = endpoint::table.filter(endpoint::app_id.eq_any(app_ids)).filter(endpoint::disabled.eq(false));
    Ok(crate::with_conn_retrying!(db, c => query.clone().load(c).await)?)
}

/// The columns one change of an endpoint sets; `None` leaves a column as it is (and, for a
/// nullable column, `Some(None)` empties it). A request writes only what it changes, so it never
/// writes back a column the worker set meanwhile (`disabled`, `first_failure_at`).
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = endpoint)]
pub struct EndpointChanges {
    /// New uid.
    pub uid: Option<Option<String>>,
    /// New URL.
    pub url: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// Disabled or enabled.
    pub disabled: Option<bool>,
    /// New rate limit.
    pub rate_limit: Option<Option<i32>>,
    /// New event-type filter.
    pub filter_types: Option<Option<JsonText<Names>>>,
    /// New channel filter.
    pub channels: Option<Option<JsonText<Names>>>,
    /// New custom headers.
    pub headers: Option<JsonText<StringMap>>,
    /// New sealed signing secret.
    pub secret: Option<String>,
    /// New list of previous secrets.
    pub previous_secrets: Option<JsonText<Vec<PreviousSecret>>>,
    /// New metadata.
    pub metadata: Option<JsonText<StringMap>>,
    /// Failure clock reset (a re-enabled endpoint starts over).
    pub first_failure_at: Option<Option<NaiveDateTime>>,
    /// What disabled it (`Some(None)` when enabled again).
    pub disabled_trigger: Option<Option<Trigger>>,
    /// When the change was made.
    pub updated_at: Option<NaiveDateTime>,
}

/// Applies `changes` to the endpoint only while it is still at `version` (a compare-and-set),
/// and bumps the version, storing `notices` with it: `Some` when applied, `None` when another
/// change came first (read the endpoint again and redo the change on what is there now).
pub async fn change_endpoint(
    db: &Database,
    id: &str,
    version: i32,
    changes: &EndpointChanges,
    notices: &[Notice],
) -> Result<Option<Noticed>, DbError> {
    let target = endpoint::table.filter(endpoint::id.eq(id)).filter(endpoint::version.eq(version));
    let update = diesel::update(target).set((changes, endpoint::version.eq(endpoint::version + 1)));
    if notices.is_empty() {
        return Ok((with_conn!(db, c => update.execute(c).await)? == 1).then(Noticed::default));
    }
    Ok(with_conn!(db, c => c.transaction(async |c| {
        if update.execute(c).await? == 0 {
            return Ok::<_, diesel::result::Error>(None);
        }
        Ok(Some(Noticed(insert_notices!(c, notices))))
    }).await)?)
}

/// Deletes an endpoint and, by cascade, its deliveries and attempts, storing `notices` with it;
/// `None` when there was no such endpoint.
pub async fn delete_endpoint(
    db: &Database,
    app_id: &AppId,
    id: &EndpointId,
    notices: &[Notice],
) -> Result<Option<Noticed>, DbError> {
    let target = endpoint::table.filter(endpoint::id.eq(id)).filter(endpoint::app_id.eq(app_id));
    Ok(with_conn!(db, c => c.transaction(async |c| {
        if diesel::delete(target).execute(c).await? == 0 {
            return Ok::<_, diesel::result::Error>(None);
        }
        Ok(Some(Noticed(insert_notices!(c, notices))))
    }).await)?)
}

/// How many of the endpoint's deliveries made in `since..until` (each end open when `None`) are
/// in each status code: a range of its (endpoint, created_at) index. Without a window, the plain
/// count by endpoint (a bound of 1970 to 9999 made Postgres plan it worse).
pub async fn delivery_counts(
    db: &Database,
    endpoint_id: &EndpointId,
    since: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
) -> Result<Vec<(crate::model::status::DeliveryStatus, i64)>, DbError> {
    let all = delivery::table.filter(delivery::endpoint_id.eq(endpoint_id));
    if since.is_none() && until.is_none() {
        let query = all.group_by(delivery::status).select((delivery::status, diesel::dsl::count_star()));
        return Ok(crate::with_conn_retrying!(db, c => query.load(c).await)?);
    }
    // Open ends as the widest times every backend stores (MySQL's DATETIME stops at year 9999).
    let far_future = chrono::NaiveDate::from_ymd_opt(9999, 12, 31).and_then(|d| d.and_hms_opt(0, 0, 0));
    let from = since.unwrap_or(chrono::DateTime::UNIX_EPOCH.naive_utc());
    let to = until.or(far_future).unwrap_or(NaiveDateTime::MAX);
    let query = all
        .filter(delivery::created_at.ge(from))
        .filter(delivery::created_at.lt(to))
        .group_by(delivery::status)
        .select((delivery::status, diesel::dsl::count_star()));
    Ok(crate::with_conn_retrying!(db, c => query.load(c).await)?)
}

/// The endpoints with these ids (in no particular order).
pub async fn endpoints_by_ids(db: &Database, ids: &[EndpointId]) -> Result<Vec<EndpointRow>, DbError> {
    let query = endpoint::table.filter(endpoint::id.eq_any(ids.to_vec()));
    Ok(crate::with_conn_retrying!(db, c => query.clone().load(c).await)?)
}

/// What noting a failure did to the endpoint.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FailureNoted {
    /// It was disabled now.
    pub disabled: bool,
    /// The `endpoint.disabled` event stored with that, if its organisation takes them.
    pub noticed: Noticed,
}

/// Notes a failed delivery: starts the endpoint's failure clock, and disables the endpoint once
/// it has only failed since `disable_before` or earlier, storing the `endpoint.disabled` event
/// in the same transaction.
pub async fn record_failure(
    db: &Database,
    id: &EndpointId,
    now: NaiveDateTime,
    disable_before: NaiveDateTime,
) -> Result<FailureNoted, DbError> {
    use super::schema::application;
    let start =
        diesel::update(endpoint::table.filter(endpoint::id.eq(id)).filter(endpoint::first_failure_at.is_null()))
            .set(endpoint::first_failure_at.eq(Some(now)));
    with_conn!(db, c => start.execute(c).await)?;
    let overdue = endpoint::table
        .filter(endpoint::id.eq(id))
        .filter(endpoint::disabled.eq(false))
        .filter(endpoint::first_failure_at.le(disable_before));
    let disable = diesel::update(overdue).set((
        endpoint::disabled.eq(true),
        endpoint::disabled_trigger.eq(Some(Trigger::Automatic)),
        endpoint::updated_at.eq(now),
        endpoint::version.eq(endpoint::version + 1),
    ));
    // What the event says, read in the transaction that disables.
    let about = endpoint::table.inner_join(application::table).filter(endpoint::id.eq(id)).select((
        application::org_id,
        application::id,
        application::uid,
        endpoint::uid,
        endpoint::first_failure_at,
    ));
    Ok(with_conn!(db, c => c.transaction(async |c| {
        if disable.execute(c).await? == 0 {
            return Ok::<_, diesel::result::Error>(FailureNoted::default());
        }
        let (org, app_id, app_uid, endpoint_uid, since) = about.first::<Described>(c).await?;
        let event = Event::EndpointDisabled(Disabled {
            endpoint: EndpointRef { app_id, app_uid, endpoint_id: id.clone(), endpoint_uid },
            fail_since: since.map(crate::clock::rfc3339),
            trigger: Trigger::Automatic,
        });
        let notices: Vec<Notice> = Notice::new(&org, &event, now).into_iter().collect();
        Ok(FailureNoted { disabled: true, noticed: Noticed(insert_notices!(c, &notices)) })
    }).await)?)
}

/// An endpoint as an event describes it: org, application id and uid, endpoint uid, and the
/// start of its failures.
type Described = (String, AppId, Option<String>, Option<String>, Option<NaiveDateTime>);

/// Notes a successful delivery: the endpoint's failure clock stops.
pub async fn record_success(db: &Database, id: &EndpointId) -> Result<(), DbError> {
    let target = endpoint::table.filter(endpoint::id.eq(id)).filter(endpoint::first_failure_at.is_not_null());
    with_conn!(db, c => diesel::update(target).set(endpoint::first_failure_at.eq(None::<NaiveDateTime>)).execute(c).await)?;
    Ok(())
}
