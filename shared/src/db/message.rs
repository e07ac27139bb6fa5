//! Queries on messages. A new message is the outbox record: `dispatched_at` stays empty until a
//! worker has fanned it out, so a crash between the insert and any queue publish loses nothing.

use super::idempotency::{KeyClaim, StoredResponse, completion};
use super::json_text::{JsonText, Names};
use super::page::{Page, PageRequest};
use super::schema::message;
use super::walk::{Columns, walk};
use super::{Database, DbError};
use crate::model::ids::{AppId, IdOrUid, MessageId};
use crate::with_conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_builder::AsQuery;
use diesel_async::{AsyncConnection, RunQueryDsl};

/// A message as stored.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = message)]
pub struct MessageRow {
    /// `msg_…`
    pub id: MessageId,
    /// Owning application.
    pub app_id: AppId,
    /// Owning organisation.
    pub org_id: String,
    /// Event type name.
    pub event_type: String,
    /// Caller-chosen id, unique per application.
    pub event_id: Option<String>,
    /// Channels.
    pub channels: Option<JsonText<Names>>,
    /// Tags.
    pub tags: Option<JsonText<Names>>,
    /// JSON payload; `None` once expunged.
    pub payload: Option<String>,
    /// Created.
    pub created_at: NaiveDateTime,
    /// When the payload may be removed.
    pub expires_at: Option<NaiveDateTime>,
    /// When a worker fanned it out.
    pub dispatched_at: Option<NaiveDateTime>,
    /// The publishing span's `traceparent`, when tracing was on.
    pub trace_context: Option<String>,
}

/// Completes `key` (a [`KeyedBy`]) on `c` inside a transaction: `Err(KeyTakenOver)`, which rolls
/// the transaction back, when the claim was lost to another request.
macro_rules! complete_key {
    ($c:expr, $key:expr) => {
        match $key {
            Some((held, response)) => match completion!(held, response).execute($c).await? {
                0 => Err(DbError::KeyTakenOver),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    };
}

/// The `Idempotency-Key` a message's creation completes, with the response to store for it: the
/// message and the key's completion commit in one transaction, so a key stores one message
/// whatever crashes when.
pub type KeyedBy<'a> = Option<(&'a KeyClaim, StoredResponse<'a>)>;

/// Stores a new message (completing `key` in the same transaction); [`DbError::Conflict`] when
/// its event id was used before in the app.
pub async fn insert_message(db: &Database, row: &MessageRow, key: KeyedBy<'_>) -> Result<(), DbError> {
    if key.is_none() {
        with_conn!(db, c => diesel::insert_into(message::table).values(row).execute(c).await)?;
        return Ok(());
    }
    with_conn!(db, c => c.transaction(async |c| {
        diesel::insert_into(message::table).values(row).execute(c).await?;
        complete_key!(c, key)
    }).await)
}

/// The application's message with this id or event id (the id wins a tie).
pub async fn find_message(
    db: &Database,
    app_id: &AppId,
    which: &IdOrUid<MessageId>,
) -> Result<Option<MessageRow>, DbError> {
    let text = which.text();
    // Two fixed statements, each prepared once per connection and each one index lookup (an
    // `id = ? OR event_id = ?` is a scan of the application's messages on some backends): the
    // id first, since it wins a tie, then the event id.
    let in_app = message::table.filter(message::app_id.eq(app_id));
    if let IdOrUid::Id(_) = which {
        let by_id = in_app.filter(message::id.eq(text));
        let found: Option<MessageRow> = crate::with_conn_retrying!(db, c => by_id.first(c).await.optional())?;
        if found.is_some() {
            return Ok(found);
        }
    }
    let by_event_id = in_app.filter(message::event_id.eq(text));
    Ok(crate::with_conn_retrying!(db, c => by_event_id.first(c).await.optional())?)
}

/// Filters of a message listing.
#[derive(Debug, Default, Clone)]
pub struct MessageFilter {
    /// Only messages sent on this channel.
    pub channel: Option<String>,
    /// Only these event types.
    pub event_types: Vec<String>,
    /// Created strictly before.
    pub before: Option<NaiveDateTime>,
    /// Created strictly after.
    pub after: Option<NaiveDateTime>,
}

impl MessageFilter {
    /// Whether it leaves out any message at all.
    pub fn narrows(&self) -> bool {
        self.channel.is_some() || !self.event_types.is_empty() || self.before.is_some() || self.after.is_some()
    }

    /// The `LIKE` pattern that finds the channel in the stored JSON list, if one is asked for.
    pub fn channel_pattern(&self) -> Option<String> {
        // `_` is common in channel names and a LIKE wildcard: escape it (and `%`) with `!`, which
        // no channel name contains and which needs no quoting in any backend's SQL.
        let escaped = |c: &str| c.replace('!', "!!").replace('%', "!%").replace('_', "!_");
        self.channel.as_ref().map(|c| format!("%\"{}\"%", escaped(c)))
    }
}

/// Narrows a boxed query on the message table (`$query`) to the messages `$filter`
/// (a `&MessageFilter`) matches: the one place a message filter becomes SQL, for the message
/// list itself and for the subqueries of the attempt and delivery lists. Expanded per backend.
macro_rules! matching_messages {
    ($query:expr, $filter:expr) => {{
        use $crate::db::schema::message;
        let filter: &$crate::db::message::MessageFilter = $filter;
        let mut query = $query;
        if let Some(pattern) = filter.channel_pattern() {
            query = query.filter(message::channels.like(pattern).escape('!'));
        }
        if !filter.event_types.is_empty() {
            query = query.filter(message::event_type.eq_any(filter.event_types.clone()));
        }
        // A time bound is also an id bound (ids sort by creation time), which the indexes that
        // end with the id can seek to; the exact bound on created_at stays.
        if let Some(t) = filter.before {
            let (at, id) = (message::created_at, message::id);
            query = query
                .filter(at.lt(t))
                .filter(id.lt($crate::model::ids::MessageId::first_at(t + $crate::db::message::ID_CLOCK_SLACK)));
        }
        if let Some(t) = filter.after {
            let (at, id) = (message::created_at, message::id);
            query = query
                .filter(at.gt(t))
                .filter(id.ge($crate::model::ids::MessageId::first_at(t - $crate::db::message::ID_CLOCK_SLACK)));
        }
        query
    }};
}

/// How far a row's id time may be from its `created_at`: both are read from the clock when the
/// row is made, an instant apart (a monotonic id generator may run a little ahead). Time bounds
/// widened by this much become id bounds that never leave out a row the time bound keeps.
pub const ID_CLOCK_SLACK: chrono::Duration = chrono::Duration::seconds(1);
pub(crate) use matching_messages;

/// A page of the application's messages, newest first unless asked otherwise.
pub async fn list_messages(
    db: &Database,
    app_id: &AppId,
    filter: &MessageFilter,
    with_payload: bool,
    page: &PageRequest,
) -> Result<Page<MessageRow>, DbError> {
    use diesel::sql_types::{Nullable, Text};
    // Without the payload, the column is not read at all: NULL stands in for it.
    let payload = diesel::dsl::sql::<Nullable<Text>>(if with_payload { "payload" } else { "NULL" });
    // One event type is a range of the (app, event type, id) index; several are read off the
    // (app, id) index newest first, skipping the other types.
    let index = match filter.event_types.len() {
        1 => "message_app_id_event_type_id_idx",
        _ => "message_app_id_id_idx",
    };
    let rows: Vec<MessageRow> = crate::with_conn_retrying!(db, c => {
        let mut q = walk(message::table, index)
            .as_query()
            .select(Columns((
                message::id,
                message::app_id,
                message::org_id,
                message::event_type,
                message::event_id,
                message::channels,
                message::tags,
                payload.clone(),
                message::created_at,
                message::expires_at,
                message::dispatched_at,
                message::trace_context,
            )))
            .filter(message::app_id.eq(app_id))
            .into_boxed();
        q = matching_messages!(q, filter);
        crate::seek!(q, message::id, page).load(c).await
    })?;
    Ok(Page::from_rows(rows, page, |r| r.id.to_string()))
}

/// Removes a message's payload (the record and its attempts stay), and with it the payload's
/// expiry: nothing is left to expire.
pub async fn expunge_payload(db: &Database, id: &MessageId) -> Result<bool, DbError> {
    let target = message::table.filter(message::id.eq(id));
    let set = (message::payload.eq(None::<String>), message::expires_at.eq(None::<NaiveDateTime>));
    Ok(crate::with_conn_retrying!(db, c => diesel::update(target).set(set.clone()).execute(c).await)? > 0)
}

/// The messages with these ids (in no particular order).
pub async fn messages_by_ids(db: &Database, ids: &[MessageId]) -> Result<Vec<MessageRow>, DbError> {
    let query = message::table.filter(message::id.eq_any(ids.to_vec()));
    Ok(crate::with_conn_retrying!(db, c => query.clone().load(c).await)?)
}

/// Inserts `$row` (a `&MessageRow`) as a message of the application `$apps` finds (a query on
/// the application table that matches at most one row), the lookup and the insert one statement
/// on connection `$c`: evaluates to the rows inserted, 0 when it finds none. `$row.app_id` is
/// not read.
macro_rules! insert_for_found_app {
    ($c:expr, $apps:expr, $row:expr) => {{
        use diesel::sql_types::{Nullable, Text, Timestamp};
        use $crate::db::schema::{application, message};
        let row: &$crate::db::message::MessageRow = $row;
        let source = $apps.select((
            row.id.as_str().into_sql::<Text>(),
            application::id,
            row.org_id.as_str().into_sql::<Text>(),
            row.event_type.as_str().into_sql::<Text>(),
            row.event_id.as_deref().into_sql::<Nullable<Text>>(),
            row.channels.as_ref().into_sql::<Nullable<Text>>(),
            row.tags.as_ref().into_sql::<Nullable<Text>>(),
            row.payload.as_deref().into_sql::<Nullable<Text>>(),
            row.created_at.into_sql::<Timestamp>(),
            row.expires_at.into_sql::<Nullable<Timestamp>>(),
            row.trace_context.as_deref().into_sql::<Nullable<Text>>(),
        ));
        diesel::insert_into(message::table)
            .values(source)
            .into_columns((
                message::id,
                message::app_id,
                message::org_id,
                message::event_type,
                message::event_id,
                message::channels,
                message::tags,
                message::payload,
                message::created_at,
                message::expires_at,
                message::trace_context,
            ))
            .execute($c)
            .await
    }};
}
pub(crate) use insert_for_found_app;

/// The org's application `app` (id or uid), when visible: `only_app`, when set, narrows to one
/// application (app-portal tokens). A query to select from, for [`insert_for_found_app!`].
macro_rules! visible_apps {
    ($org:expr, $app:expr, $only_app:expr) => {{
        use $crate::db::schema::application;
        let (org, app, only_app): (&str, &str, Option<&str>) = ($org, $app, $only_app);
        let scope = only_app.unwrap_or(app);
        application::table
            .filter(application::org_id.eq(org))
            .filter(application::id.eq(app).or(application::uid.eq(app)))
            .filter(application::id.eq(scope).or(only_app.is_none().into_sql::<diesel::sql_types::Bool>()))
    }};
}
pub(crate) use visible_apps;

/// Stores a new message for the org's application `app` (id or uid) in one statement, the
/// application lookup included (and completes `key` in the same transaction): `false` when no
/// such application is visible (`only_app`, when set, narrows to one application, for app-portal
/// tokens). `row.app_id` is ignored.
pub async fn insert_message_for_app(
    db: &Database,
    org: &str,
    app: &str,
    only_app: Option<&str>,
    row: &MessageRow,
    key: KeyedBy<'_>,
) -> Result<bool, DbError> {
    let apps = visible_apps!(org, app, only_app);
    macro_rules! insert_for_app {
        ($c:expr) => {
            insert_for_found_app!($c, apps.clone(), row)
        };
    }
    // The hot path, without a key: one statement, no transaction around it.
    if key.is_none() {
        return Ok(with_conn!(db, c => insert_for_app!(c))? > 0);
    }
    with_conn!(db, c => c.transaction(async |c| {
        if insert_for_app!(c)? == 0 {
            return Ok(false);
        }
        complete_key!(c, key).map(|()| true)
    }).await)
}
