//! Group commit for publishes: concurrent message inserts share one transaction, so one durable
//! commit (one WAL flush, one fsync) answers many publishers. Each publisher is answered only
//! after the commit that holds its message; a lone publish is not made to wait for company: with
//! no other publish under way it is stored at once on the caller's own connection, as one
//! statement, so a quiet system's latency is unchanged.
//!
//! A few lanes take turns at the queue: while one commits, the publishes that arrive meanwhile
//! gather for the next. No timer holds anything back: a batch is whatever waited.

use super::message::{MessageRow, insert_message_for_app, messages_by_ids, visible_apps};
use super::{Database, DbError};
use crate::metrics::Metrics;
use crate::model::ids::MessageId;
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Mutex, mpsc, oneshot};

/// How many batches may be committing at once (each on its own connection).
const LANES: usize = 4;
/// The most publishes one transaction holds: bounds a transaction's length and the rows a
/// conflict makes the batch retry one by one.
const MAX_BATCH: usize = 64;
/// Publishes waiting for a lane; beyond this, callers wait to enqueue (back-pressure, not memory).
const QUEUE: usize = 1024;

/// One publish waiting for its commit.
struct Publish {
    org: String,
    app: String,
    only_app: Option<String>,
    row: MessageRow,
    done: oneshot::Sender<Result<bool, DbError>>,
}

/// Inserts messages for [`insert_message_for_app`]'s callers, committing concurrent ones
/// together.
pub struct GroupCommit {
    queue: mpsc::Sender<Publish>,
    /// Publishes under way, by either path.
    under_way: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

/// Counts one publish under way for as long as it lives (also when its caller gives up).
struct UnderWay(Arc<AtomicUsize>);

impl UnderWay {
    /// Counts one more; also says whether it was the only one.
    fn enter(count: &Arc<AtomicUsize>) -> (UnderWay, bool) {
        let alone = count.fetch_add(1, Ordering::AcqRel) == 0;
        (UnderWay(count.clone()), alone)
    }
}

impl Drop for UnderWay {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl GroupCommit {
    /// Starts the lanes on `db` (a durable pool: the point is to share its commits).
    pub fn start(db: Database, metrics: Arc<Metrics>) -> GroupCommit {
        let (queue, waiting) = mpsc::channel(QUEUE);
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..LANES {
            tokio::spawn(lane(db.clone(), waiting.clone(), metrics.clone()));
        }
        GroupCommit { queue, under_way: Arc::default(), metrics }
    }

    /// Like [`insert_message_for_app`] without an idempotency key: `false` when no such
    /// application is visible. Answers once the message is durably committed. `own` is the
    /// caller's pool, for a publish with no other under way.
    pub async fn insert(
        &self,
        own: &Database,
        org: &str,
        app: &str,
        only_app: Option<&str>,
        row: &MessageRow,
    ) -> Result<bool, DbError> {
        let (_counted, alone) = UnderWay::enter(&self.under_way);
        if alone {
            let stored = insert_message_for_app(own, org, app, only_app, row, None).await;
            if stored.is_ok() {
                self.metrics.publish_batch_size.observe(1.0);
            }
            return stored;
        }
        let (done, answer) = oneshot::channel();
        let publish = Publish {
            org: org.to_owned(),
            app: app.to_owned(),
            only_app: only_app.map(str::to_owned),
            row: row.clone(),
            done,
        };
        self.queue.send(publish).await.map_err(|_| DbError::Pool("the publish lanes have stopped".into()))?;
        answer.await.map_err(|_| DbError::Pool("a publish lane stopped before answering".into()))?
    }
}

/// Takes whatever publishes are waiting (at least one, at most [`MAX_BATCH`]) and commits them.
async fn lane(db: Database, waiting: Arc<Mutex<mpsc::Receiver<Publish>>>, metrics: Arc<Metrics>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            // One lane at a time gathers; the others are committing or waiting their turn.
            let mut queue = waiting.lock().await;
            if queue.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        }
        // A publisher that gave up (its request dropped) is not answered, so it is not stored:
        // it would never be announced, and its client, told nothing, may publish it again.
        batch.retain(|p| !p.done.is_closed());
        // One order for every batch (event ids first), so two batches that hold the same event
        // ids wait on each other's unique keys in turn, never in a cycle.
        batch.sort_unstable_by(|a, b| (&a.org, &a.app, &a.row.event_id).cmp(&(&b.org, &b.app, &b.row.event_id)));
        commit(&db, &mut batch, &metrics).await;
    }
}

/// Stores `batch` and answers each publisher; empties `batch`.
async fn commit(db: &Database, batch: &mut Vec<Publish>, metrics: &Metrics) {
    if batch.len() <= 1 {
        alone(db, batch, metrics).await;
        return;
    }
    match insert_together(db, batch).await {
        Ok(found) => {
            metrics.publish_batch_size.observe(batch.len() as f64);
            for (p, found) in batch.drain(..).zip(found) {
                let _ = p.done.send(Ok(found));
            }
        }
        // One row's own fault (a used event id, a value the database cannot store) rolled the
        // whole batch back, and so would a deadlock with another writer: store each on its own,
        // so only that publisher hears of it.
        Err(e) if refused_by_a_row(&e) => {
            metrics.publish_batches_split.inc();
            alone(db, batch, metrics).await;
        }
        // The connection failed under the batch: if it failed after the commit was sent, the
        // messages may be stored. Those found are acknowledged; the others hear of the failure.
        Err(e @ (DbError::Unavailable(_) | DbError::Timeout(_))) => {
            let ids: Vec<MessageId> = batch.iter().map(|p| p.row.id.clone()).collect();
            let stored: HashSet<MessageId> = match messages_by_ids(db, &ids).await {
                Ok(rows) => rows.into_iter().map(|r| r.id).collect(),
                Err(_) => HashSet::new(),
            };
            for p in batch.drain(..) {
                let answer = if stored.contains(&p.row.id) { Ok(true) } else { Err(same_failure(&e)) };
                let _ = p.done.send(answer);
            }
        }
        // Anything else failed the batch before it could commit: every publisher hears so.
        Err(e) => {
            for p in batch.drain(..) {
                let _ = p.done.send(Err(same_failure(&e)));
            }
        }
    }
}

/// Stores each publish of `batch` on its own, as one statement, and answers it; empties `batch`.
async fn alone(db: &Database, batch: &mut Vec<Publish>, metrics: &Metrics) {
    for p in batch.drain(..) {
        let stored = insert_message_for_app(db, &p.org, &p.app, p.only_app.as_deref(), &p.row, None).await;
        if stored.is_ok() {
            metrics.publish_batch_size.observe(1.0);
        }
        let _ = p.done.send(stored);
    }
}

/// Whether a batch failed for one of its rows or for its timing rather than for the database.
fn refused_by_a_row(e: &DbError) -> bool {
    match e {
        DbError::Conflict(_) | DbError::UnstorableValue(_) => true,
        // Postgres 40P01 and MySQL 1213 both say "deadlock"; diesel has no kind for it.
        DbError::Query(error) => error.to_string().to_ascii_lowercase().contains("deadlock"),
        _ => false,
    }
}

/// An error of the same kind as `e`, for each publisher of a failed batch (diesel's errors
/// cannot be cloned): what each caller answers depends only on the kind.
fn same_failure(e: &DbError) -> DbError {
    match e {
        DbError::Pool(reason) => DbError::Pool(reason.clone()),
        DbError::Unavailable(reason) => DbError::Unavailable(reason.clone()),
        DbError::Timeout(after) => DbError::Timeout(*after),
        other => DbError::Query(diesel::result::Error::QueryBuilderError(other.to_string().into())),
    }
}

/// Inserts every publish of `batch` in one transaction: for each, whether its application was
/// found (and so the message stored).
async fn insert_together(db: &Database, batch: &[Publish]) -> Result<Vec<bool>, DbError> {
    with_conn!(db, c => c.transaction(async |c| {
        let mut found = Vec::with_capacity(batch.len());
        for p in batch {
            let apps = visible_apps!(&p.org, &p.app, p.only_app.as_deref());
            found.push(crate::db::message::insert_for_found_app!(c, apps, &p.row)? > 0);
        }
        Ok::<_, DbError>(found)
    }).await)
}
