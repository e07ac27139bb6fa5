//! Pruning: removing what `retention.*` no longer keeps, job by job, one short batch at a time.
//! `herald-admin prune` and the workers' background pruning both drive a [`Pass`] per job; they
//! differ only in what they do between batches (a progress bar; renewing a lease).
//!
//! A pass holds no state that matters beyond the process: deleted rows are gone, expunged
//! payloads lose their expiry, and the one job that only empties rows (response bodies) records
//! how far it got in the database. So a pass killed at any instant resumes where it was when run
//! again, and two passes at once only do some work twice.

use crate::config::Retention;
use crate::db::prune::{self, Batch, count};
use crate::db::{Database, DbError, maintenance};
use crate::model::ids::{AttemptId, MessageId};
use chrono::NaiveDateTime;
use std::time::Duration;

/// One kind of row pruning removes or empties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// Messages past `retention.messages`, with their deliveries and attempts.
    Messages,
    /// Deliveries whose retries ran out, past `retention.exhausted_deliveries`.
    ExhaustedDeliveries,
    /// Message payloads whose own retention (`payloadRetentionPeriod`/`Hours`) ended.
    Payloads,
    /// Attempts' response bodies past `retention.response_bodies`.
    ResponseBodies,
    /// Idempotency keys past their expiry and `retention.idempotency_keys`.
    IdempotencyKeys,
    /// Rate-limit counters past `retention.rate_windows`.
    RateWindows,
    /// Revoked and expired API tokens past `retention.tokens`.
    Tokens,
}

impl Job {
    /// Every job, in the order a prune runs them: whole messages first, which leaves less for
    /// the jobs that only empty rows.
    pub const ALL: [Job; 7] = [
        Job::Messages,
        Job::ExhaustedDeliveries,
        Job::Payloads,
        Job::ResponseBodies,
        Job::IdempotencyKeys,
        Job::RateWindows,
        Job::Tokens,
    ];

    /// The job's name in output, logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Job::Messages => "messages",
            Job::ExhaustedDeliveries => "exhausted_deliveries",
            Job::Payloads => "payloads",
            Job::ResponseBodies => "response_bodies",
            Job::IdempotencyKeys => "idempotency_keys",
            Job::RateWindows => "rate_windows",
            Job::Tokens => "tokens",
        }
    }

    /// What happens to the rows it counts, for people.
    pub fn verb(self) -> &'static str {
        match self {
            Job::Payloads => "expunged",
            Job::ResponseBodies => "emptied",
            _ => "deleted",
        }
    }

    /// A job that walks its table in key order moves on by key; the others by removing what
    /// they picked.
    fn walks(self) -> bool {
        matches!(self, Job::Messages | Job::ResponseBodies | Job::RateWindows | Job::Tokens)
    }
}

/// The earliest time a cutoff falls back to: every backend stores it, and nothing is older.
const EPOCH: NaiveDateTime = chrono::DateTime::UNIX_EPOCH.naive_utc();

/// Where each job stops: computed once per prune from the retention in force and the time.
#[derive(Debug, Clone)]
pub struct Cutoffs {
    /// The time the prune started.
    pub now: NaiveDateTime,
    messages: MessageId,
    exhausted: NaiveDateTime,
    responses: AttemptId,
    keys: NaiveDateTime,
    rate_windows: NaiveDateTime,
    tokens: NaiveDateTime,
}

impl Cutoffs {
    /// The cutoffs `retention` sets at `now`.
    pub fn new(retention: &Retention, now: NaiveDateTime) -> Self {
        // A retention too long to subtract (config allows any duration) keeps everything.
        let ago = |age: Duration| {
            chrono::Duration::from_std(age).ok().and_then(|age| now.checked_sub_signed(age)).unwrap_or(EPOCH)
        };
        Cutoffs {
            now,
            messages: MessageId::first_at(ago(retention.messages)),
            exhausted: ago(retention.exhausted_deliveries),
            responses: AttemptId::first_at(ago(retention.response_bodies)),
            keys: ago(retention.idempotency_keys),
            rate_windows: ago(retention.rate_windows),
            tokens: ago(retention.tokens),
        }
    }
}

/// How many rows `job` would change now.
pub async fn count(db: &Database, job: Job, cut: &Cutoffs) -> Result<u64, DbError> {
    match job {
        Job::Messages => count::messages(db, &cut.messages).await,
        Job::ExhaustedDeliveries => count::exhausted(db, cut.exhausted).await,
        Job::Payloads => count::payloads(db, cut.now).await,
        Job::ResponseBodies => {
            let after = maintenance::resume_point(db, maintenance::RESPONSE_BODIES).await?;
            count::responses(db, &after, &cut.responses).await
        }
        Job::IdempotencyKeys => count::keys(db, cut.keys, cut.now).await,
        Job::RateWindows => count::rate_windows(db, cut.rate_windows).await,
        Job::Tokens => count::tokens(db, cut.tokens).await,
    }
}

/// One job's run through its rows, a batch per [`Pass::step`].
#[derive(Debug)]
pub struct Pass {
    job: Job,
    cut: Cutoffs,
    limit: usize,
    after: String,
    finished: bool,
    /// Rows changed so far.
    pub changed: u64,
}

impl Pass {
    /// A pass of `job` with batches of `limit` rows, resuming where the last one stopped.
    pub async fn start(db: &Database, job: Job, cut: &Cutoffs, limit: usize) -> Result<Pass, DbError> {
        let after = match job {
            Job::ResponseBodies => maintenance::resume_point(db, maintenance::RESPONSE_BODIES).await?,
            _ => String::new(),
        };
        Ok(Pass { job, cut: cut.clone(), limit: limit.max(1), after, finished: false, changed: 0 })
    }

    /// The job.
    pub fn job(&self) -> Job {
        self.job
    }

    /// Runs the next batch: how many rows it changed, or `None` once the job has nothing left.
    pub async fn step(&mut self, db: &Database) -> Result<Option<usize>, DbError> {
        if self.finished {
            return Ok(None);
        }
        let (cut, limit, after) = (&self.cut, self.limit, self.after.as_str());
        let batch: Batch = match self.job {
            Job::Messages => prune::delete_messages(db, after, &cut.messages, limit).await?,
            Job::ExhaustedDeliveries => prune::delete_exhausted(db, cut.exhausted, limit).await?,
            Job::Payloads => prune::expunge_payloads(db, cut.now, limit).await?,
            Job::ResponseBodies => prune::empty_responses(db, after, &cut.responses, limit).await?,
            Job::IdempotencyKeys => prune::delete_keys(db, cut.keys, cut.now, limit).await?,
            Job::RateWindows => prune::delete_rate_windows(db, after, cut.rate_windows, limit).await?,
            Job::Tokens => prune::delete_tokens(db, after, cut.tokens, limit).await?,
        };
        if let Some(last) = batch.last {
            self.after = last;
        }
        // A short batch is the end of the range. A full one that changed nothing is too, for a
        // job that moves on only by removing rows: what it picked is held back (a key still
        // claimed), and picking again would pick the same rows.
        self.finished = batch.picked < self.limit || (batch.changed == 0 && !self.job.walks());
        self.changed += batch.changed as u64;
        if batch.picked == 0 {
            return Ok(None);
        }
        Ok(Some(batch.changed))
    }
}
