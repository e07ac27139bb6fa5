//! The database queue: what workers fan out and deliver. Any number of workers run these at once;
//! deliveries are taken in batches with row locks that skip what another worker is taking, so
//! exactly one worker holds a delivery, and a worker that dies leaves a lease that expires and
//! lets another take the delivery over. Outcomes are written in batches, one transaction each.

use super::attempt::AttemptRow;
use super::delivery::DeliveryRow;
use super::message::MessageRow;
use super::operational::{Noticed, insert_notices};
use super::schema::{attempt, delivery, endpoint, message};
use super::{Conn, Database, DbError};
use crate::model::ids::{DeliveryId, EndpointId, MessageId};
use crate::model::status::{DeliveryStatus, TriggerType};
use crate::operational::Notice;
use crate::with_conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

/// Messages not yet fanned out that were created before `created_before`, oldest first.
pub async fn undispatched_messages(
    db: &Database,
    created_before: NaiveDateTime,
    limit: i64,
) -> Result<Vec<MessageRow>, DbError> {
    let query = message::table
        .filter(message::dispatched_at.is_null())
        .filter(message::created_at.le(created_before))
        .order(message::id.asc())
        .limit(limit);
    Ok(with_conn!(db, c => query.load(c).await)?)
}

/// The filter for deliveries that are due at `now`: waiting and past their time, or held by a
/// worker whose lease lapsed (a held delivery's `next_attempt_at` is the end of its lease). The
/// partial index `delivery_due_idx` has exactly this status list.
macro_rules! due_at {
    ($now:expr) => {
        delivery::status.eq_any(DeliveryStatus::DUE).and(delivery::next_attempt_at.le($now))
    };
}

/// The lease fields set when `owner` takes a delivery until `lease_until`.
macro_rules! lease_to {
    ($owner:expr, $lease_until:expr, $now:expr) => {
        (
            delivery::status.eq(DeliveryStatus::Sending),
            delivery::lease_owner.eq(Some($owner)),
            delivery::lease_expires_at.eq(Some($lease_until)),
            delivery::next_attempt_at.eq($lease_until),
            delivery::updated_at.eq($now),
        )
    };
}

/// The claim statement for Postgres (`$n` binds, rows another worker is locking skipped) and for
/// SQLite (`?` binds in order: the same value again where it is used twice), made once.
static CLAIM_POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let sql = claim_sql(" FOR UPDATE SKIP LOCKED");
    (1..=4).fold(sql, |sql, n| sql.replace(&format!("{{{n}}}"), &format!("${n}")))
});
static CLAIM_SQLITE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| (1..=4).fold(claim_sql(""), |sql, n| sql.replace(&format!("{{{n}}}"), "?")));

/// The statement that takes due deliveries, with `{n}` standing for bind parameter n (1: owner,
/// 2: lease end, 3: now, 4: how many) and `{lock}` for the row-lock clause. The status numbers
/// come from [`DeliveryStatus`].
fn claim_sql(lock: &str) -> String {
    format!(
        "UPDATE delivery \
         SET status = {sending}, lease_owner = {{1}}, lease_expires_at = {{2}}, next_attempt_at = {{2}}, \
         updated_at = {{3}} \
         WHERE id IN (SELECT id FROM delivery WHERE status IN ({due}) AND next_attempt_at <= {{3}} \
         ORDER BY next_attempt_at LIMIT {{4}}{lock}) RETURNING *",
        sending = DeliveryStatus::Sending.code(),
        due = due_codes(),
    )
}

/// The due states' numbers as an SQL list (`0, 1, 3`), for the statements written as text.
fn due_codes() -> String {
    DeliveryStatus::DUE.iter().map(|s| s.code().to_string()).collect::<Vec<_>>().join(", ")
}

/// Takes up to `limit` due deliveries for `owner` until `lease_until`, oldest due first, in one
/// statement: rows another worker is taking at the same moment are skipped, not waited for
/// (`FOR UPDATE SKIP LOCKED` on Postgres and MySQL/MariaDB; SQLite has a single writer, so its
/// `UPDATE … RETURNING` is atomic by itself).
pub async fn claim_due(
    db: &Database,
    owner: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<DeliveryRow>, DbError> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    Ok(match db.get().await? {
        Conn::Postgres(mut c) => {
            diesel::sql_query(CLAIM_POSTGRES.as_str())
                .bind::<Text, _>(owner)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(&mut c)
                .await?
        }
        Conn::Sqlite(mut c) => {
            // Positional `?` binds: the same values in the order they appear.
            diesel::sql_query(CLAIM_SQLITE.as_str())
                .bind::<Text, _>(owner)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(&mut c)
                .await?
        }
        // MySQL has no UPDATE … RETURNING: lock, update and read back in one transaction.
        Conn::Mysql(mut c) => {
            c.transaction(async |c| {
                let ids: Vec<String> = delivery::table
                    .select(delivery::id)
                    .filter(due_at!(now))
                    .order(delivery::next_attempt_at.asc())
                    .limit(limit)
                    .for_update()
                    .skip_locked()
                    .load(c)
                    .await?;
                if ids.is_empty() {
                    return Ok::<_, diesel::result::Error>(Vec::new());
                }
                diesel::update(delivery::table.filter(delivery::id.eq_any(&ids)))
                    .set(lease_to!(owner, lease_until, now))
                    .execute(c)
                    .await?;
                delivery::table.filter(delivery::id.eq_any(&ids)).load(c).await
            })
            .await?
        }
    })
}

/// Fans messages out in one transaction: inserts `rows`, skipping any (message, endpoint) pair
/// that has a delivery already (another worker fanned the same message out first), and marks the
/// messages dispatched. Returns the rows this call created.
///
/// Workers may fan out overlapping sets of messages at once (a dispatch job and the sweep, or two
/// jobs naming the same message), each listing them in its own order. So that two such fan-outs
/// wait for one another instead of each holding a row the other needs (a deadlock, which the
/// database breaks by failing one of them), each takes its locks in one order: the messages
/// first, by id (the mark), then the deliveries, by (message, endpoint). Marking first matters
/// on MySQL, whose foreign-key check share-locks each message a delivery names: marking after
/// would need to turn those shared locks exclusive while another fan-out holds them too.
pub async fn fan_out(
    db: &Database,
    rows: &[DeliveryRow],
    message_ids: &[MessageId],
    at: NaiveDateTime,
) -> Result<Vec<DeliveryRow>, DbError> {
    let mut ordered: Vec<&DeliveryRow> = rows.iter().collect();
    ordered.sort_unstable_by(|a, b| (&a.message_id, &a.endpoint_id).cmp(&(&b.message_id, &b.endpoint_id)));
    let rows = ordered;
    let mut message_ids = message_ids.to_vec();
    message_ids.sort_unstable();
    let message_ids = &message_ids;
    let marked = || {
        let target = message::table.filter(message::id.eq_any(message_ids)).filter(message::dispatched_at.is_null());
        diesel::update(target).set(message::dispatched_at.eq(Some(at)))
    };
    let created: Vec<DeliveryId> = match db.get().await? {
        Conn::Postgres(mut c) => {
            c.transaction(async |c| {
                marked().execute(c).await?;
                if rows.is_empty() {
                    return Ok::<_, diesel::result::Error>(Vec::new());
                }
                let insert = diesel::insert_into(delivery::table).values(rows.clone()).on_conflict_do_nothing();
                insert.returning(delivery::id).get_results(c).await
            })
            .await?
        }
        // No INSERT … RETURNING: read back which of the new ids exist.
        Conn::Mysql(mut c) => {
            c.transaction(async |c| {
                let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
                marked().execute(c).await?;
                if !rows.is_empty() {
                    diesel::insert_or_ignore_into(delivery::table).values(rows.clone()).execute(c).await?;
                }
                delivery::table.filter(delivery::id.eq_any(&ids)).select(delivery::id).load(c).await
            })
            .await?
        }
        // One row per statement through the async wrapper.
        Conn::Sqlite(mut c) => {
            c.transaction(async |c| {
                marked().execute(c).await?;
                let mut created = Vec::new();
                for row in &rows {
                    let insert = diesel::insert_or_ignore_into(delivery::table).values(*row);
                    created.extend(insert.returning(delivery::id).get_result::<DeliveryId>(c).await.optional()?);
                }
                Ok::<_, diesel::result::Error>(created)
            })
            .await?
        }
    };
    let created: std::collections::HashSet<&DeliveryId> = created.iter().collect();
    Ok(rows.into_iter().filter(|r| created.contains(&r.id)).cloned().collect())
}

/// How an attempt (or a decision not to attempt) leaves a delivery.
#[derive(Debug, Clone)]
pub struct Finish {
    /// The delivery.
    pub id: DeliveryId,
    /// Its new status.
    pub status: DeliveryStatus,
    /// Attempts made, this one included.
    pub attempt_count: i32,
    /// When the next attempt is due (now when there is none).
    pub next_attempt_at: NaiveDateTime,
}

/// What storing a batch of outcomes wrote.
#[derive(Debug, Default)]
pub struct BatchStored {
    /// Deliveries updated (those `owner` still held).
    pub updated: usize,
    /// Operational events stored, to announce to the workers.
    pub noticed: Noticed,
}

/// Stores a batch of attempts and the deliveries' new states in one transaction, each delivery
/// only while `owner` still holds it, with the operational events (`notices`, by the delivery
/// whose outcome each reports) of the deliveries it updates: an outcome a lapsed lease kept from
/// being stored reports nothing.
///
/// An endpoint or message deleted while its delivery was in flight takes the delivery with it,
/// and its attempt has nothing left to belong to: the foreign key refuses it. That attempt is
/// dropped and the rest of the batch stored, rather than the whole batch failing and every other
/// delivery in it being sent again once its lease lapses.
pub async fn record_batch(
    db: &Database,
    owner: &str,
    attempts: &[AttemptRow],
    finishes: &[Finish],
    notices: &[(DeliveryId, Notice)],
    now: NaiveDateTime,
) -> Result<BatchStored, DbError> {
    use diesel::result::{DatabaseErrorKind, Error};
    match write_outcomes(db, owner, attempts, finishes, notices, now).await {
        Err(DbError::Query(Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _))) => {
            let attempts = still_owned(db, attempts).await?;
            write_outcomes(db, owner, &attempts, finishes, notices, now).await
        }
        other => other,
    }
}

/// The attempts whose message and endpoint still exist.
async fn still_owned(db: &Database, attempts: &[AttemptRow]) -> Result<Vec<AttemptRow>, DbError> {
    let message_ids: Vec<&MessageId> = attempts.iter().map(|a| &a.message_id).collect();
    let endpoint_ids: Vec<&EndpointId> = attempts.iter().map(|a| &a.endpoint_id).collect();
    let messages = message::table.filter(message::id.eq_any(message_ids)).select(message::id);
    let endpoints = endpoint::table.filter(endpoint::id.eq_any(endpoint_ids)).select(endpoint::id);
    let (messages, endpoints): (Vec<MessageId>, Vec<EndpointId>) = with_conn!(db, c => {
        (messages.clone().load(c).await?, endpoints.clone().load(c).await?)
    });
    Ok(attempts
        .iter()
        .filter(|a| messages.contains(&a.message_id) && endpoints.contains(&a.endpoint_id))
        .cloned()
        .collect())
}

async fn write_outcomes(
    db: &Database,
    owner: &str,
    attempts: &[AttemptRow],
    finishes: &[Finish],
    notices: &[(DeliveryId, Notice)],
    now: NaiveDateTime,
) -> Result<BatchStored, DbError> {
    let held = || delivery::status.eq(DeliveryStatus::Sending).and(delivery::lease_owner.eq(owner));
    let released = || {
        (
            delivery::lease_owner.eq(None::<String>),
            delivery::lease_expires_at.eq(None::<NaiveDateTime>),
            delivery::trigger_kind.eq(TriggerType::Scheduled),
            delivery::updated_at.eq(now),
        )
    };
    // Successes on a first try, the usual case, become one statement.
    let (simple, other): (Vec<&Finish>, Vec<&Finish>) =
        finishes.iter().partition(|f| f.status == DeliveryStatus::Succeeded && f.attempt_count == 1);
    let simple: Vec<&str> = simple.iter().map(|f| f.id.as_str()).collect();
    // One transaction per backend; `$insert` stores the attempts (SQLite takes one row per
    // statement through the async wrapper, the others one statement for all).
    macro_rules! transact {
        ($c:ident, $insert:expr) => {
            $c.transaction(async |$c| {
                $insert;
                let (mut updated, mut noticed) = (0, Vec::new());
                if !simple.is_empty() {
                    let target = delivery::table.filter(delivery::id.eq_any(&simple)).filter(held());
                    let first_try = (delivery::status.eq(DeliveryStatus::Succeeded), delivery::attempt_count.eq(1));
                    let set = (first_try, delivery::next_attempt_at.eq(now), released());
                    updated += diesel::update(target).set(set).execute($c).await?;
                }
                for f in &other {
                    let target = delivery::table.filter(delivery::id.eq(&f.id)).filter(held());
                    let outcome = (delivery::status.eq(f.status), delivery::attempt_count.eq(f.attempt_count));
                    let set = (outcome, delivery::next_attempt_at.eq(f.next_attempt_at), released());
                    let stored = diesel::update(target).set(set).execute($c).await?;
                    updated += stored;
                    if stored > 0 {
                        let reported = notices.iter().filter(|(id, _)| *id == f.id).map(|(_, n)| n);
                        noticed.extend(insert_notices!($c, reported));
                    }
                }
                Ok::<_, diesel::result::Error>(BatchStored { updated, noticed: Noticed(noticed) })
            })
            .await?
        };
    }
    let all_at_once = !attempts.is_empty();
    Ok(match db.get().await? {
        Conn::Postgres(mut c) => {
            let c = &mut *c;
            transact!(
                c,
                if all_at_once {
                    diesel::insert_into(attempt::table).values(attempts).execute(c).await?;
                }
            )
        }
        Conn::Mysql(mut c) => {
            let c = &mut *c;
            transact!(
                c,
                if all_at_once {
                    diesel::insert_into(attempt::table).values(attempts).execute(c).await?;
                }
            )
        }
        Conn::Sqlite(mut c) => {
            let c = &mut *c;
            transact!(
                c,
                for row in attempts {
                    diesel::insert_into(attempt::table).values(row).execute(c).await?;
                }
            )
        }
    })
}

/// Hands back deliveries `owner` holds but never attempted (it is stopping): due again at `now`,
/// for any worker, in the state they were taken in (waiting for a first try, or for a retry).
/// Returns how many. Without this they would wait for their leases to lapse.
pub async fn release(db: &Database, owner: &str, ids: &[DeliveryId], now: NaiveDateTime) -> Result<usize, DbError> {
    let held = || {
        delivery::table
            .filter(delivery::id.eq_any(ids))
            .filter(delivery::status.eq(DeliveryStatus::Sending))
            .filter(delivery::lease_owner.eq(owner))
    };
    let back = |to: DeliveryStatus| {
        (
            delivery::status.eq(to),
            delivery::lease_owner.eq(None::<String>),
            delivery::lease_expires_at.eq(None::<NaiveDateTime>),
            delivery::next_attempt_at.eq(now),
            delivery::updated_at.eq(now),
        )
    };
    Ok(with_conn!(db, c => {
        let first = diesel::update(held().filter(delivery::attempt_count.eq(0))).set(back(DeliveryStatus::Pending));
        let retry = diesel::update(held().filter(delivery::attempt_count.gt(0))).set(back(DeliveryStatus::Failed));
        first.execute(c).await? + retry.execute(c).await?
    }))
}

/// One row of `SELECT COUNT(*) AS n`.
#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// How many deliveries are due now and not being made (the queue's lag), counting no further
/// than `cap`: the count reads at most `cap` entries of the due index, so its cost stays the same
/// however large a backlog grows (past the cap, the answer is the cap).
pub async fn count_due(db: &Database, now: NaiveDateTime, cap: i64) -> Result<i64, DbError> {
    use diesel::sql_types::{BigInt, Timestamp};
    let (at, limit) = if db.backend() == super::Backend::Postgres { ("$1", "$2") } else { ("?", "?") };
    let sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM delivery WHERE status IN ({}) \
         AND next_attempt_at <= {at} LIMIT {limit}) AS due",
        due_codes()
    );
    let rows: Vec<Counted> = with_conn!(db, c => {
        diesel::sql_query(sql.as_str()).bind::<Timestamp, _>(now).bind::<BigInt, _>(cap).load(c).await
    })?;
    Ok(<[Counted]>::first(&rows).map_or(0, |r| r.n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration(backend: &str, name: &str) -> String {
        let path = format!("{}/../migrations/{backend}/{name}/up.sql", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The partial index the claim reads was written with numbers: they must be the due states.
    #[test]
    fn the_due_index_of_each_backend_lists_the_due_states() {
        let predicate = format!("WHERE status IN ({})", due_codes());
        for backend in ["postgres", "sqlite"] {
            let sql = migration(backend, "2026-11-28-000003_due_index_and_announcements");
            assert!(sql.contains(&predicate), "{backend}: no `{predicate}` in the due index");
        }
        let held = format!("WHERE status = {} AND lease_expires_at", DeliveryStatus::Sending.code());
        for backend in ["postgres", "sqlite", "mysql"] {
            let sql = migration(backend, "2026-11-28-000003_due_index_and_announcements");
            assert!(sql.contains(&held), "{backend}: leases moved for another state than sending");
        }
    }

    #[test]
    fn the_wake_up_trigger_fires_on_a_reset_to_pending() {
        let pending = DeliveryStatus::Pending.code();
        let sql = migration("postgres", "2026-11-28-000002_work_wakeups");
        assert!(sql.contains(&format!("NEW.status = {pending} AND OLD.status <> {pending}")), "{sql}");
    }

    #[test]
    fn the_claim_statement_takes_the_due_states_and_holds_them() {
        let sql = claim_sql("");
        assert!(sql.contains("SET status = 1,"), "{sql}");
        assert!(sql.contains("WHERE status IN (0, 1, 3)"), "{sql}");
        assert!(!sql.contains("{lock}") && sql.contains("{4})"), "{sql}");
    }
}
