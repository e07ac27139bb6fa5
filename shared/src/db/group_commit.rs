//! Group commit for publishes: concurrent message inserts share one transaction, so one durable
//! commit (one WAL flush, one fsync) answers many publishers. Each publisher is answered only
//! after the commit that holds its message; a lone publish is not made to wait for company: with
//! no other publish under way it is stored at once on the caller's own connection, as one
//! statement, so a quiet system's latency is unchanged.
//!
//! A few lanes take turns at the queue: while one commits, the publishes that arrive meanwhile
//! gather for the next. No timer holds anything back: a batch is whatever waited.

use super::message::{MessageRow, insert_message_for_app, visible_apps};
use super::{Database, DbError};
use crate::metrics::Metrics;
use crate::with_conn;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
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
            self.metrics.publish_batch_size.observe(1.0);
            return insert_message_for_app(own, org, app, only_app, row, None).await;
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
        metrics.publish_batch_size.observe(batch.len() as f64);
        commit(&db, &mut batch, &metrics).await;
    }
}

/// Stores `batch` and answers each publisher; empties `batch`.
async fn commit(db: &Database, batch: &mut Vec<Publish>, metrics: &Metrics) {
    if batch.len() == 1 {
        let p = batch.pop().expect("one publish");
        let stored = insert_message_for_app(db, &p.org, &p.app, p.only_app.as_deref(), &p.row, None).await;
        let _ = p.done.send(stored);
        return;
    }
    match insert_together(db, batch).await {
        Ok(found) => {
            for (p, found) in batch.drain(..).zip(found) {
                let _ = p.done.send(Ok(found));
            }
        }
        // One row's own fault (a used event id, a value the database cannot store) rolled the
        // whole batch back: store each on its own, so only that publisher hears of it.
        Err(DbError::Conflict(_) | DbError::UnstorableValue(_)) => {
            metrics.publish_batches_split.inc();
            for p in batch.drain(..) {
                let stored = insert_message_for_app(db, &p.org, &p.app, p.only_app.as_deref(), &p.row, None).await;
                let _ = p.done.send(stored);
            }
        }
        // The database failed the batch (unreachable, restarting): every publisher hears so, as
        // each would have alone; none was acknowledged.
        Err(e) => {
            for p in batch.drain(..) {
                let _ = p.done.send(Err(same_failure(&e)));
            }
        }
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
