//! The database queue: what workers fan out and deliver. Any number of workers run these at once;
//! a delivery is taken with a compare-and-set on its state, so exactly one worker holds it, and a
//! worker that dies leaves a lease that expires and lets another take the delivery over.

use super::delivery::{DeliveryRow, status};
use super::message::MessageRow;
use super::schema::{delivery, message};
use super::{Database, DbError};
use crate::with_conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// Messages not yet fanned out, oldest first.
pub async fn undispatched_messages(db: &Database, limit: i64) -> Result<Vec<MessageRow>, DbError> {
    let query = message::table.filter(message::dispatched_at.is_null()).order(message::id.asc()).limit(limit);
    Ok(with_conn!(db, c => query.load(c).await)?)
}

/// Records that a message has its deliveries.
pub async fn mark_dispatched(db: &Database, id: &str, at: NaiveDateTime) -> Result<(), DbError> {
    let target = message::table.filter(message::id.eq(id)).filter(message::dispatched_at.is_null());
    with_conn!(db, c => diesel::update(target).set(message::dispatched_at.eq(Some(at))).execute(c).await)?;
    Ok(())
}

/// Creates a delivery unless the (message, endpoint) pair has one already (another worker fanned
/// the same message out first).
pub async fn insert_delivery_once(db: &Database, row: &DeliveryRow) -> Result<(), DbError> {
    match with_conn!(db, c => diesel::insert_into(delivery::table).values(row).execute(c).await) {
        Ok(_) => Ok(()),
        Err(e) => match DbError::from(e) {
            DbError::Conflict(_) => Ok(()),
            other => Err(other),
        },
    }
}

/// Deliveries that are due: waiting and past their time, or held by a worker whose lease lapsed.
pub async fn due_deliveries(db: &Database, now: NaiveDateTime, limit: i64) -> Result<Vec<DeliveryRow>, DbError> {
    let waiting = delivery::status.eq_any([status::PENDING, status::FAILED]).and(delivery::next_attempt_at.le(now));
    let abandoned = delivery::status.eq(status::SENDING).and(delivery::lease_expires_at.le(now));
    let query = delivery::table.filter(waiting.or(abandoned)).order(delivery::next_attempt_at.asc()).limit(limit);
    Ok(with_conn!(db, c => query.load(c).await)?)
}

/// Takes a delivery seen in state `seen` for `owner` until `lease_until`: true when this worker
/// now holds it (nobody changed it since it was read).
pub async fn claim_delivery(
    db: &Database,
    seen: &DeliveryRow,
    owner: &str,
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let target = delivery::table
        .filter(delivery::id.eq(&seen.id))
        .filter(delivery::status.eq(seen.status))
        .filter(delivery::updated_at.eq(seen.updated_at));
    let claim = diesel::update(target).set((
        delivery::status.eq(status::SENDING),
        delivery::lease_owner.eq(Some(owner)),
        delivery::lease_expires_at.eq(Some(lease_until)),
        delivery::updated_at.eq(now),
    ));
    Ok(with_conn!(db, c => claim.execute(c).await)? == 1)
}

/// The outcome of an attempt, written only while `owner` still holds the delivery.
pub async fn finish_delivery(
    db: &Database,
    id: &str,
    owner: &str,
    new_status: i16,
    attempt_count: i32,
    next_attempt_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let target = delivery::table
        .filter(delivery::id.eq(id))
        .filter(delivery::status.eq(status::SENDING))
        .filter(delivery::lease_owner.eq(owner));
    let update = diesel::update(target).set((
        delivery::status.eq(new_status),
        delivery::attempt_count.eq(attempt_count),
        delivery::next_attempt_at.eq(next_attempt_at),
        delivery::lease_owner.eq(None::<String>),
        delivery::lease_expires_at.eq(None::<NaiveDateTime>),
        delivery::trigger_kind.eq(super::delivery::trigger::SCHEDULED),
        delivery::updated_at.eq(now),
    ));
    Ok(with_conn!(db, c => update.execute(c).await)? == 1)
}

/// How many deliveries are due now and not being made (the queue's lag).
pub async fn count_due(db: &Database, now: NaiveDateTime) -> Result<i64, DbError> {
    let waiting = delivery::status.eq_any([status::PENDING, status::FAILED]).and(delivery::next_attempt_at.le(now));
    let abandoned = delivery::status.eq(status::SENDING).and(delivery::lease_expires_at.le(now));
    Ok(with_conn!(db, c => delivery::table.filter(waiting.or(abandoned)).count().get_result(c).await)?)
}
