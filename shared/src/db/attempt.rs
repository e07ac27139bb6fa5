//! Queries on delivery attempts: the log of every HTTP call a worker made.

use super::page::{Page, PageRequest};
use super::schema::{attempt, message};
use super::walk::walk;
use super::{Database, DbError};
use crate::model::ids::{AppId, AttemptId, DeliveryId, EndpointId, MessageId};
use crate::model::status::{MessageStatus, TriggerType};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_builder::AsQuery;
use diesel_async::RunQueryDsl;

/// An attempt as stored.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = attempt)]
pub struct AttemptRow {
    /// `atmpt_…`
    pub id: AttemptId,
    /// The message.
    pub message_id: MessageId,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// The application.
    pub app_id: AppId,
    /// The delivery it belongs to.
    pub delivery_id: Option<DeliveryId>,
    /// The URL called.
    pub url: String,
    /// How it went.
    pub status: MessageStatus,
    /// HTTP status received, 0 when none.
    pub response_status_code: i32,
    /// Start of the response body (capped); empty once expunged.
    pub response: String,
    /// How long the call took.
    pub response_duration_ms: i64,
    /// Scheduled (0) or manual (1).
    pub trigger_type: TriggerType,
    /// When it was made.
    pub created_at: NaiveDateTime,
}

/// Which attempts to list.
#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    /// Only this message's.
    pub message_id: Option<MessageId>,
    /// Only this endpoint's.
    pub endpoint_id: Option<EndpointId>,
    /// Only with this status.
    pub status: Option<MessageStatus>,
    /// Only responses in this class: 0 (none), 100, 200, 300, 400 or 500.
    pub status_code_class: Option<i32>,
    /// Made strictly before.
    pub before: Option<NaiveDateTime>,
    /// Made strictly after.
    pub after: Option<NaiveDateTime>,
    /// Only for messages matching this (channel, event types).
    pub messages: super::message::MessageFilter,
}

/// A page of an application's attempts, newest first by default.
pub async fn list_attempts(
    db: &Database,
    app_id: &AppId,
    filter: &AttemptFilter,
    page: &PageRequest,
) -> Result<Page<AttemptRow>, DbError> {
    let (message_id, endpoint_id, status) = (filter.message_id.clone(), filter.endpoint_id.clone(), filter.status);
    let (class, before, after) = (filter.status_code_class, filter.before, filter.after);
    let messages = &filter.messages;
    // The narrowest owner's index: a message's attempts, an endpoint's, or the application's.
    let index = match (&message_id, &endpoint_id) {
        (Some(_), _) => "attempt_message_id_id_idx",
        (None, Some(_)) => "attempt_endpoint_id_id_idx",
        (None, None) => "attempt_app_id_id_idx",
    };
    let rows: Vec<AttemptRow> = crate::with_conn_retrying!(db, c => {
        let mut q = walk(attempt::table, index).as_query().filter(attempt::app_id.eq(app_id)).into_boxed();
        if let Some(m) = &message_id {
            q = q.filter(attempt::message_id.eq(m.clone()));
        }
        if let Some(e) = &endpoint_id {
            q = q.filter(attempt::endpoint_id.eq(e.clone()));
        }
        if let Some(s) = status {
            q = q.filter(attempt::status.eq(s));
        }
        match class {
            Some(0) => q = q.filter(attempt::response_status_code.eq(0)),
            Some(c) => q = q.filter(attempt::response_status_code.ge(c)).filter(attempt::response_status_code.lt(c + 100)),
            None => {}
        }
        // As id bounds too, which the list indexes (ending with the id) seek to.
        if let Some(t) = before {
            let below = AttemptId::first_at(t + super::message::ID_CLOCK_SLACK);
            q = q.filter(attempt::created_at.lt(t)).filter(attempt::id.lt(below));
        }
        if let Some(t) = after {
            let from = AttemptId::first_at(t - super::message::ID_CLOCK_SLACK);
            q = q.filter(attempt::created_at.gt(t)).filter(attempt::id.ge(from));
        }
        if messages.narrows() {
            let all = message::table.select(message::id).filter(message::app_id.eq(app_id)).into_boxed();
            q = q.filter(attempt::message_id.eq_any(super::message::matching_messages!(all, messages)));
        }
        crate::seek!(q, attempt::id, page).load(c).await
    })?;
    Ok(Page::from_rows(rows, page, |r| r.id.to_string()))
}

/// One attempt of a message.
pub async fn find_attempt(db: &Database, message_id: &MessageId, id: &str) -> Result<Option<AttemptRow>, DbError> {
    let query = attempt::table.filter(attempt::message_id.eq(message_id)).filter(attempt::id.eq(id));
    Ok(crate::with_conn_retrying!(db, c => query.first(c).await.optional())?)
}

/// Removes an attempt's stored response body.
pub async fn expunge_response(db: &Database, id: &AttemptId) -> Result<bool, DbError> {
    let target = attempt::table.filter(attempt::id.eq(id));
    Ok(crate::with_conn_retrying!(db, c => diesel::update(target).set(attempt::response.eq("")).execute(c).await)? > 0)
}
