//! The worker's loop on the database queue: fan out new messages, take due deliveries in batches
//! (up to the free slots of `worker.concurrency`), and on a stop signal take no more work, hand
//! back what it holds but has not started, and let the attempts in flight finish and be stored
//! within `worker.shutdown_timeout`. Whatever is still running then keeps its lease until the
//! lease lapses, then any worker takes it over: nothing is lost either way.

use crate::dispatch::dispatch_round;
use crate::runner::Runner;
use herald::backoff::Backoff;
use herald::clock::now;
use herald::config::Transport;
use herald::context::Context;
use herald::db::DbError;
use herald::db::work::{claim_due, count_due};
use herald::lifecycle::StopSignal;
use herald::model::ids::new_id;
use slog::{error, info, warn};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

/// On the RabbitMQ transport, how long a message may wait for its dispatch job before the
/// database sweep fans it out instead.
const SWEEP_AFTER: chrono::Duration = chrono::Duration::seconds(5);
/// How often the queue's lag is counted for `/metrics`.
const LAG_EVERY: Duration = Duration::from_secs(1);
/// The lag is counted up to this many deliveries (past it, the gauge reads this): enough to say
/// "add workers", at a cost that does not grow with the backlog.
const LAG_CAP: i64 = 10_000;

/// First and longest wait before trying again while the database fails.
const RETRY: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// One round of the loop: fan out new messages, then take due deliveries for the slots free and
/// start them. Whether there was work; on failure, the step that failed. A failing fan-out does
/// not stop the deliveries already due from being taken.
async fn round(
    runner: &Runner,
    context: &Context,
    owner: &str,
    swept: chrono::NaiveDateTime,
    at: chrono::NaiveDateTime,
) -> Result<bool, (&'static str, DbError)> {
    let fanned = match dispatch_round(runner, context, swept, at).await {
        Ok(fanned) => {
            let done = fanned.messages_done;
            runner.start_fanned(fanned).await;
            Ok(done)
        }
        Err(e) => Err(("fan-out", e)),
    };
    let took = take_due(runner, context, owner, at).await;
    match (fanned, took) {
        (Ok(fanned), Ok(took)) => Ok(fanned > 0 || took),
        (Err(failed), _) | (_, Err(failed)) => Err(failed),
    }
}

/// Takes due deliveries for the slots free now and starts them; whether it took any.
async fn take_due(
    runner: &Runner,
    context: &Context,
    owner: &str,
    at: chrono::NaiveDateTime,
) -> Result<bool, (&'static str, DbError)> {
    let slots = runner.reserve(usize::MAX);
    if slots.is_empty() {
        return Ok(false);
    }
    let held = claim_due(&context.db, owner, at, runner.lease_until(at), slots.len() as i64)
        .await
        .map_err(|e| ("taking due deliveries", e))?;
    let took = !held.is_empty();
    // On failure the leases lapse and the deliveries are taken again.
    runner.start_claimed(held, slots).await.map_err(|e| ("loading what to deliver", e))?;
    Ok(took)
}

/// Runs until a stop signal has been handled.
pub async fn run(context: Context, mut stop: StopSignal) {
    let log = context.log.clone();
    let owner = new_id("wrk");
    // Building the client reads and parses the system's CA certificates (hundreds of files where
    // SSL_CERT_DIR is set): file work, kept off this thread, which also starts the health server.
    let (config, client_log) = (context.config.clone(), log.clone());
    let built = tokio::task::spawn_blocking(move || crate::client::build(&config, &client_log)).await;
    let client = match built.map_err(anyhow::Error::from).and_then(|r| r) {
        Ok(client) => client,
        Err(e) => {
            // Nothing can be delivered: stop, rather than look healthy and do nothing.
            error!(log, "cannot build the delivery client; exiting"; "error" => herald::error::chain(&*e));
            std::process::exit(1);
        }
    };
    let wake = Arc::new(Notify::new());
    let (outcomes, inbox) = mpsc::unbounded_channel();
    let starved = Arc::new(AtomicBool::new(false));
    actix_web::rt::spawn(crate::record::run(context.clone(), owner.clone(), inbox, wake.clone(), starved.clone()));
    let concurrency = context.config.with(|c| c.worker.concurrency);
    let runner = Runner::new(context.clone(), client, &owner, concurrency, outcomes, stop.clone());
    // Postgres announces new work; with a broker, dispatch jobs do that instead (and the
    // notifications would only make the loop look for work the consumer is already doing).
    let broker = context.transport == Transport::Broker;
    if context.db.backend() == herald::db::Backend::Postgres && !broker {
        let url = context.config.with(|c| c.database.url.clone());
        actix_web::rt::spawn(crate::wakeup::listen(url, wake.clone(), log.clone()));
    }
    // Kept alive for the whole loop.
    let _watcher = (context.db.backend() == herald::db::Backend::Sqlite).then(|| {
        let url = context.config.with(|c| c.database.url.clone());
        let path = herald::db::sqlite_path(url.split('?').next().unwrap_or_default());
        crate::wakeup::watch_sqlite(&path, wake.clone(), &log)
    });
    let consumer = broker.then(|| {
        actix_web::rt::spawn(crate::consume::consume(context.clone(), runner.clone(), wake.clone(), stop.clone()))
    });
    actix_web::rt::spawn(crate::prune::run(context.clone(), owner.clone(), stop.clone()));
    info!(log, "delivering from the database queue"; "worker" => &owner, "concurrency" => concurrency);
    let mut lag_measured = Instant::now() - LAG_EVERY;
    let mut backoff = Backoff::new(RETRY.0, RETRY.1);
    while !stop.is_stopping() {
        // worker.concurrency is live: a reload takes effect here, within one poll interval.
        if let Some((old, new)) = runner.resize(context.config.with(|c| c.worker.concurrency)) {
            info!(log, "worker concurrency changed"; "old" => old, "new" => new);
        }
        let at = now();
        if lag_measured.elapsed() >= LAG_EVERY {
            lag_measured = Instant::now();
            if let Ok(due) = count_due(&context.db, at, LAG_CAP).await {
                context.metrics.due.set(due);
            }
        }
        // With a broker, new messages arrive as dispatch jobs; the sweep only takes those whose
        // job was lost (a failed publish, a broker restart), i.e. left undispatched a while.
        let swept = if broker { at - SWEEP_AFTER } else { at };
        let busy = match round(&runner, &context, &owner, swept, at).await {
            Ok(busy) => {
                if let Some(recovered) = backoff.succeeded() {
                    info!(log, "database work going again"; "failed_rounds" => recovered.failures,
                        "after_ms" => recovered.lasted.as_millis() as u64);
                }
                busy
            }
            Err((step, e)) => {
                // Once per run of failures, then quiet: a database that is down (or a full disk)
                // must not make the worker spin or fill the log.
                let failed = backoff.failed();
                if failed.first {
                    warn!(log, "database work failing; backing off until it works again"; "step" => step,
                        "error" => e.to_string());
                }
                tokio::select! {
                    () = tokio::time::sleep(failed.wait) => {}
                    () = stop.wait() => {}
                }
                continue;
            }
        };
        // Set before looking at the slots, so a batch stored in between still wakes the loop.
        starved.store(true, Ordering::SeqCst);
        if !busy || runner.free() == 0 {
            // Idle, or every slot busy: wait for new work, freed slots (the recorder wakes this
            // loop when it frees some while `starved`), or the next poll.
            let idle = context.config.with(|c| c.worker.poll_interval);
            tokio::select! {
                () = tokio::time::sleep(idle) => {}
                () = wake.notified() => {}
                () = stop.wait() => {}
            }
        }
    }
    let timeout = context.config.with(|c| c.worker.shutdown_timeout);
    let deadline = tokio::time::Instant::now() + timeout;
    // The consumer may be fanning out a batch of jobs: let it store that and hand back what it
    // took, so that nothing it holds is left to a lapsing lease when the process exits.
    if let Some(consumer) = consumer {
        let _ = tokio::time::timeout_at(deadline, consumer).await;
    }
    info!(log, "stopping: finishing deliveries in flight"; "in_flight" => runner.in_flight(), "timeout_ms" => timeout.as_millis() as u64);
    if !runner.drain(deadline.saturating_duration_since(tokio::time::Instant::now())).await {
        warn!(log, "shutdown timeout passed; unfinished deliveries will be taken over when their leases lapse";
            "left" => runner.in_flight());
    }
}
