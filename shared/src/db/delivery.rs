//! Queries on deliveries: one row per (message, endpoint), the unit of work the worker claims.

use super::page::{Page, PageRequest};
use super::schema::{delivery, message};
use super::walk::walk;
use super::{Database, DbError};
use crate::model::ids::{AppId, DeliveryId, EndpointId, MessageId};
use crate::model::status::{DeliveryStatus, TriggerType};
use crate::with_conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_builder::AsQuery;
use diesel_async::RunQueryDsl;

/// A delivery as stored.
#[derive(Debug, Clone, Queryable, QueryableByName, Insertable)]
#[diesel(table_name = delivery)]
pub struct DeliveryRow {
    /// `dlv_…`
    pub id: DeliveryId,
    /// The message.
    pub message_id: MessageId,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// The application.
    pub app_id: AppId,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempt_count: i32,
    /// When the next attempt is due.
    pub next_attempt_at: NaiveDateTime,
    /// Worker holding the claim.
    pub lease_owner: Option<String>,
    /// When the claim lapses.
    pub lease_expires_at: Option<NaiveDateTime>,
    /// What started it.
    pub trigger_kind: TriggerType,
    /// Created.
    pub created_at: NaiveDateTime,
    /// Last changed.
    pub updated_at: NaiveDateTime,
}

/// Makes (message, endpoint) due now, by hand: a new delivery, or the existing one reset to
/// pending with its attempts starting over. Returns the delivery id.
pub async fn schedule_manual(
    db: &Database,
    message_id: &MessageId,
    endpoint_id: &EndpointId,
    app_id: &AppId,
    at: NaiveDateTime,
) -> Result<DeliveryId, DbError> {
    let existing = delivery::table
        .filter(delivery::message_id.eq(message_id))
        .filter(delivery::endpoint_id.eq(endpoint_id))
        .select(delivery::id);
    for _ in 0..2 {
        let found: Option<DeliveryId> = with_conn!(db, c => existing.first(c).await.optional())?;
        if let Some(id) = found {
            let reset = diesel::update(delivery::table.filter(delivery::id.eq(&id))).set((
                delivery::status.eq(DeliveryStatus::Pending),
                delivery::attempt_count.eq(0),
                delivery::next_attempt_at.eq(at),
                delivery::lease_owner.eq(None::<String>),
                delivery::lease_expires_at.eq(None::<NaiveDateTime>),
                delivery::trigger_kind.eq(TriggerType::Manual),
                delivery::updated_at.eq(at),
            ));
            with_conn!(db, c => reset.execute(c).await)?;
            return Ok(id);
        }
        let row = DeliveryRow {
            id: DeliveryId::generate(),
            message_id: message_id.clone(),
            endpoint_id: endpoint_id.clone(),
            app_id: app_id.clone(),
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            next_attempt_at: at,
            lease_owner: None,
            lease_expires_at: None,
            trigger_kind: TriggerType::Manual,
            created_at: at,
            updated_at: at,
        };
        // A concurrent fan-out may insert the same pair first; then reset that one instead.
        match with_conn!(db, c => diesel::insert_into(delivery::table).values(&row).execute(c).await) {
            Ok(_) => return Ok(row.id),
            Err(e) => match DbError::from(e) {
                DbError::Conflict(_) => continue,
                other => return Err(other),
            },
        }
    }
    Err(DbError::Conflict("delivery changed concurrently".into()))
}

/// Resets the endpoint's failed and exhausted deliveries of messages created in `[since, until)`
/// to be attempted again now. Returns how many.
pub async fn recover_failed(
    db: &Database,
    endpoint_id: &EndpointId,
    since: NaiveDateTime,
    until: NaiveDateTime,
    at: NaiveDateTime,
) -> Result<usize, DbError> {
    let in_range =
        message::table.filter(message::created_at.ge(since)).filter(message::created_at.lt(until)).select(message::id);
    let target = delivery::table
        .filter(delivery::endpoint_id.eq(endpoint_id))
        .filter(delivery::status.eq_any([DeliveryStatus::Failed, DeliveryStatus::Exhausted]))
        .filter(delivery::message_id.eq_any(in_range));
    let reset = diesel::update(target).set((
        delivery::status.eq(DeliveryStatus::Pending),
        delivery::attempt_count.eq(0),
        delivery::next_attempt_at.eq(at),
        delivery::trigger_kind.eq(TriggerType::Manual),
        delivery::updated_at.eq(at),
    ));
    Ok(with_conn!(db, c => reset.execute(c).await)?)
}

/// A page of one message's deliveries (one per endpoint it went to), keyed by endpoint id.
pub async fn deliveries_of_message(
    db: &Database,
    message_id: &MessageId,
    page: &PageRequest,
) -> Result<Page<DeliveryRow>, DbError> {
    let rows: Vec<DeliveryRow> = crate::with_conn_retrying!(db, c => {
        let base = walk(delivery::table, "delivery_message_id_endpoint_id_key")
            .as_query()
            .filter(delivery::message_id.eq(message_id))
            .into_boxed();
        crate::seek!(base, delivery::endpoint_id, page).load(c).await
    })?;
    Ok(Page::from_rows(rows, page, |r| r.endpoint_id.to_string()))
}

/// A page of one endpoint's deliveries, keyed by message id (newest message first unless asked
/// otherwise); only deliveries in `statuses` (all when empty) of messages matching `messages`.
pub async fn deliveries_of_endpoint(
    db: &Database,
    endpoint_id: &EndpointId,
    statuses: &[DeliveryStatus],
    messages: &super::message::MessageFilter,
    page: &PageRequest,
) -> Result<Page<DeliveryRow>, DbError> {
    let statuses = statuses.to_vec();
    let rows: Vec<DeliveryRow> = crate::with_conn_retrying!(db, c => {
        let mut q = walk(delivery::table, "delivery_endpoint_id_message_id_idx")
            .as_query()
            .filter(delivery::endpoint_id.eq(endpoint_id))
            .into_boxed();
        if !statuses.is_empty() {
            q = q.filter(delivery::status.eq_any(statuses.clone()));
        }
        if messages.narrows() {
            let all = message::table.select(message::id).into_boxed();
            q = q.filter(delivery::message_id.eq_any(super::message::matching_messages!(all, messages)));
        }
        crate::seek!(q, delivery::message_id, page).load(c).await
    })?;
    Ok(Page::from_rows(rows, page, |r| r.message_id.to_string()))
}
