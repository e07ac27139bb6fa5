//! The statements of pruning, one batch each. A batch picks at most `limit` rows through an index
//! (a range of time-sortable ids, or of a timestamp that has its own index), never scanning a
//! table, then changes just those rows in one short statement that checks the condition again,
//! so a row that changed in between (a message resent, a key claimed) is left alone. Batches from
//! several processes at once are safe: two that pick the same rows change them once.

use super::maintenance::RESPONSE_BODIES;
use super::schema::{api_token, attempt, delivery, endpoint_rate, idempotency_key, maintenance, message};
use super::{Database, DbError};
use crate::model::ids::{AttemptId, MessageId};
use crate::model::status::{DeliveryStatus, KeyState};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Rows looked at (at most the limit; fewer means the job has nothing more).
    pub picked: usize,
    /// Rows deleted or emptied.
    pub changed: usize,
    /// The last key looked at, for jobs that walk a table in key order.
    pub last: Option<String>,
}

fn batch(picked: &[String], changed: usize) -> Batch {
    Batch { picked: picked.len(), changed, last: picked.last().cloned() }
}

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Deletes messages after `after` (a message id, empty for the start) made before `before` (the
/// first id made at the cutoff), walking the primary key, with their deliveries and attempts (by
/// cascade), except those not yet fanned out or with a delivery still under way. Walking, rather
/// than taking the oldest each time, matters: messages kept back (retrying longer than the
/// retention) would otherwise be picked again by every batch and could stop the job for good.
pub async fn delete_messages(db: &Database, after: &str, before: &MessageId, limit: usize) -> Result<Batch, DbError> {
    let candidates = message::table
        .select(message::id)
        .filter(message::id.gt(after))
        .filter(message::id.lt(before))
        .order(message::id.asc())
        .limit(limit_of(limit));
    let picked: Vec<String> = crate::with_conn_retrying!(db, c => candidates.load(c).await)?;
    if picked.is_empty() {
        return Ok(Batch::default());
    }
    // Both lookups go through the (message_id, endpoint_id) index, for these ids only.
    let under_way = delivery::table
        .select(delivery::message_id)
        .filter(delivery::message_id.eq_any(&picked))
        .filter(delivery::status.eq_any(DeliveryStatus::DUE));
    let target = message::table
        .filter(message::id.eq_any(&picked))
        .filter(message::dispatched_at.is_not_null())
        .filter(message::id.ne_all(under_way));
    let changed = crate::with_conn_retrying!(db, c => diesel::delete(target.clone()).execute(c).await)?;
    Ok(batch(&picked, changed))
}

/// Expunges the payloads of messages whose retention ended by `now`. The expiry is cleared with
/// the payload, so the index range of expiries in the past holds only what is left to do.
pub async fn expunge_payloads(db: &Database, now: NaiveDateTime, limit: usize) -> Result<Batch, DbError> {
    let due = message::table
        .select(message::id)
        .filter(message::expires_at.le(now))
        .order(message::expires_at.asc())
        .limit(limit_of(limit));
    let picked: Vec<String> = crate::with_conn_retrying!(db, c => due.load(c).await)?;
    if picked.is_empty() {
        return Ok(Batch::default());
    }
    let target = message::table.filter(message::id.eq_any(&picked)).filter(message::expires_at.le(now));
    let set = (message::payload.eq(None::<String>), message::expires_at.eq(None::<NaiveDateTime>));
    let changed =
        crate::with_conn_retrying!(db, c => diesel::update(target.clone()).set(set.clone()).execute(c).await)?;
    Ok(batch(&picked, changed))
}

/// Empties the response bodies of attempts after `after` (an attempt id, empty for the start)
/// and before `before`, walking the primary key; records how far it got in the same
/// transaction, so the next run starts there.
pub async fn empty_responses(db: &Database, after: &str, before: &AttemptId, limit: usize) -> Result<Batch, DbError> {
    let page = attempt::table
        .select(attempt::id)
        .filter(attempt::id.gt(after))
        .filter(attempt::id.lt(before))
        .order(attempt::id.asc())
        .limit(limit_of(limit));
    let picked: Vec<String> = crate::with_conn_retrying!(db, c => page.load(c).await)?;
    let Some(last) = picked.last() else {
        return Ok(Batch::default());
    };
    let target = attempt::table.filter(attempt::id.eq_any(&picked)).filter(attempt::response.ne(""));
    let progress =
        maintenance::table.filter(maintenance::name.eq(RESPONSE_BODIES)).filter(maintenance::resume_after.lt(last));
    let changed = crate::with_conn!(db, c => c
        .transaction(async |c| {
            let changed = diesel::update(target).set(attempt::response.eq("")).execute(c).await?;
            diesel::update(progress).set(maintenance::resume_after.eq(last)).execute(c).await?;
            Ok::<usize, diesel::result::Error>(changed)
        })
        .await)?;
    Ok(batch(&picked, changed))
}

/// Deletes deliveries whose retries ran out before `before` (their last attempt; an exhausted
/// delivery's `next_attempt_at` is when it ran out). Their attempts stay with the message.
pub async fn delete_exhausted(db: &Database, before: NaiveDateTime, limit: usize) -> Result<Batch, DbError> {
    let exhausted = || delivery::status.eq(DeliveryStatus::Exhausted).and(delivery::next_attempt_at.lt(before));
    let due = delivery::table
        .select(delivery::id)
        .filter(exhausted())
        .order(delivery::next_attempt_at.asc())
        .limit(limit_of(limit));
    let picked: Vec<String> = crate::with_conn_retrying!(db, c => due.load(c).await)?;
    if picked.is_empty() {
        return Ok(Batch::default());
    }
    let target = delivery::table.filter(delivery::id.eq_any(&picked)).filter(exhausted());
    let changed = crate::with_conn_retrying!(db, c => diesel::delete(target.clone()).execute(c).await)?;
    Ok(batch(&picked, changed))
}

/// Deletes idempotency keys that stopped being honoured before `before`, unless a request
/// still holds one (not done, and `now` is before its claim's end).
pub async fn delete_keys(
    db: &Database,
    before: NaiveDateTime,
    now: NaiveDateTime,
    limit: usize,
) -> Result<Batch, DbError> {
    let due = idempotency_key::table
        .select(idempotency_key::key_hash)
        .filter(idempotency_key::expires_at.lt(before))
        .order(idempotency_key::expires_at.asc())
        .limit(limit_of(limit));
    let picked: Vec<String> = crate::with_conn_retrying!(db, c => due.load(c).await)?;
    if picked.is_empty() {
        return Ok(Batch::default());
    }
    let target = idempotency_key::table
        .filter(idempotency_key::key_hash.eq_any(&picked))
        .filter(idempotency_key::expires_at.lt(before))
        .filter(idempotency_key::state.eq(KeyState::Done).or(idempotency_key::lease_until.lt(now)));
    let changed = crate::with_conn_retrying!(db, c => diesel::delete(target.clone()).execute(c).await)?;
    Ok(batch(&picked, changed))
}

/// Deletes rate-limit counters whose window started before `before`, walking the (small) table
/// in key order from `after`: a rate-limited endpoint's counter is made again when it next sends.
pub async fn delete_rate_windows(
    db: &Database,
    after: &str,
    before: NaiveDateTime,
    limit: usize,
) -> Result<Batch, DbError> {
    let page = endpoint_rate::table
        .select(endpoint_rate::endpoint_id)
        .filter(endpoint_rate::endpoint_id.gt(after))
        .order(endpoint_rate::endpoint_id.asc())
        .limit(limit_of(limit));
    let picked: Vec<String> = crate::with_conn_retrying!(db, c => page.load(c).await)?;
    if picked.is_empty() {
        return Ok(Batch::default());
    }
    let target = endpoint_rate::table
        .filter(endpoint_rate::endpoint_id.eq_any(&picked))
        .filter(endpoint_rate::window_start.lt(before));
    let changed = crate::with_conn_retrying!(db, c => diesel::delete(target.clone()).execute(c).await)?;
    Ok(batch(&picked, changed))
}

/// Deletes API tokens revoked or expired before `before`, walking the (small) table in key
/// order from `after`.
pub async fn delete_tokens(db: &Database, after: &str, before: NaiveDateTime, limit: usize) -> Result<Batch, DbError> {
    let page = api_token::table
        .select(api_token::id)
        .filter(api_token::id.gt(after))
        .order(api_token::id.asc())
        .limit(limit_of(limit));
    let picked: Vec<String> = crate::with_conn_retrying!(db, c => page.load(c).await)?;
    if picked.is_empty() {
        return Ok(Batch::default());
    }
    let target = api_token::table
        .filter(api_token::id.eq_any(&picked))
        .filter(api_token::revoked_at.lt(before).or(api_token::expires_at.lt(before)));
    let changed = crate::with_conn_retrying!(db, c => diesel::delete(target.clone()).execute(c).await)?;
    Ok(batch(&picked, changed))
}

/// How many rows each job would change now, for `--dry-run` and progress bars. Unlike the
/// batches these count whole ranges: for a one-off command, not for a timer.
pub mod count {
    use super::*;

    /// Messages [`delete_messages`] would delete.
    pub async fn messages(db: &Database, before: &MessageId) -> Result<u64, DbError> {
        let old = message::table.filter(message::id.lt(before)).filter(message::dispatched_at.is_not_null()).count();
        let under_way = || {
            delivery::table
                .filter(delivery::status.eq_any(DeliveryStatus::DUE))
                .filter(delivery::message_id.lt(before))
                .select(diesel::dsl::count(delivery::message_id).aggregate_distinct())
        };
        let old: i64 = crate::with_conn_retrying!(db, c => old.get_result(c).await)?;
        let under_way: i64 = crate::with_conn_retrying!(db, c => under_way().get_result(c).await)?;
        Ok(u64::try_from(old - under_way).unwrap_or(0))
    }

    /// Payloads [`expunge_payloads`] would expunge.
    pub async fn payloads(db: &Database, now: NaiveDateTime) -> Result<u64, DbError> {
        let q = message::table.filter(message::expires_at.le(now)).count();
        rows(crate::with_conn_retrying!(db, c => q.get_result(c).await)?)
    }

    /// Response bodies [`empty_responses`] would empty.
    pub async fn responses(db: &Database, after: &str, before: &AttemptId) -> Result<u64, DbError> {
        let q = attempt::table
            .filter(attempt::id.gt(after))
            .filter(attempt::id.lt(before))
            .filter(attempt::response.ne(""))
            .count();
        rows(crate::with_conn_retrying!(db, c => q.get_result(c).await)?)
    }

    /// Deliveries [`delete_exhausted`] would delete.
    pub async fn exhausted(db: &Database, before: NaiveDateTime) -> Result<u64, DbError> {
        let q = delivery::table
            .filter(delivery::status.eq(DeliveryStatus::Exhausted))
            .filter(delivery::next_attempt_at.lt(before))
            .count();
        rows(crate::with_conn_retrying!(db, c => q.get_result(c).await)?)
    }

    /// Keys [`delete_keys`] would delete.
    pub async fn keys(db: &Database, before: NaiveDateTime, now: NaiveDateTime) -> Result<u64, DbError> {
        let q = idempotency_key::table
            .filter(idempotency_key::expires_at.lt(before))
            .filter(idempotency_key::state.eq(KeyState::Done).or(idempotency_key::lease_until.lt(now)))
            .count();
        rows(crate::with_conn_retrying!(db, c => q.get_result(c).await)?)
    }

    /// Counters [`delete_rate_windows`] would delete.
    pub async fn rate_windows(db: &Database, before: NaiveDateTime) -> Result<u64, DbError> {
        let q = endpoint_rate::table.filter(endpoint_rate::window_start.lt(before)).count();
        rows(crate::with_conn_retrying!(db, c => q.get_result(c).await)?)
    }

    /// Tokens [`delete_tokens`] would delete.
    pub async fn tokens(db: &Database, before: NaiveDateTime) -> Result<u64, DbError> {
        let q = api_token::table.filter(api_token::revoked_at.lt(before).or(api_token::expires_at.lt(before))).count();
        rows(crate::with_conn_retrying!(db, c => q.get_result(c).await)?)
    }

    fn rows(n: i64) -> Result<u64, DbError> {
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
