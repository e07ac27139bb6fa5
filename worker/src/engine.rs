//! The worker's loop on the database queue: fan out new messages, take due deliveries, make the
//! attempts concurrently (up to `worker.concurrency`), and on a stop signal take no more work and
//! let the attempts in flight finish within `worker.shutdown_timeout`. Whatever is left keeps its
//! lease until the lease lapses, then any worker takes it over: nothing is lost either way.

use crate::deliver::{deliver, now};
use crate::dispatch::dispatch_round;
use herald::context::Context;
use herald::db::work::{claim_delivery, count_due, due_deliveries};
use herald::lifecycle::StopSignal;
use herald::model::ids::new_id;
use slog::{error, info, warn};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Extra time a lease lasts beyond the attempt timeout, for the bookkeeping around the call.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// How often the queue's lag is counted for `/metrics`.
const LAG_EVERY: Duration = Duration::from_secs(1);

/// Runs until a stop signal has been handled.
pub async fn run(context: Context, mut stop: StopSignal) {
    let log = context.log.clone();
    let owner = new_id("wrk");
    let client = match crate::client::build(&context.config) {
        Ok(client) => client,
        Err(e) => {
            error!(log, "cannot build the delivery client"; "error" => e.to_string());
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(context.config.with(|c| c.worker.concurrency)));
    let wake = Arc::new(tokio::sync::Notify::new());
    if context.db.backend() == herald::db::Backend::Postgres {
        let url = context.config.with(|c| c.database.url.clone());
        actix_web::rt::spawn(crate::wakeup::listen(url, wake.clone(), log.clone()));
    }
    if context.publisher.is_some() {
        actix_web::rt::spawn(crate::consume::consume(context.clone(), wake.clone(), stop.clone()));
    }
    let mut in_flight = JoinSet::new();
    info!(log, "delivering from the database queue"; "worker" => &owner);
    let mut lag_measured = std::time::Instant::now() - LAG_EVERY;
    while !stop.is_stopping() {
        let at = now();
        if lag_measured.elapsed() >= LAG_EVERY {
            lag_measured = std::time::Instant::now();
            if let Ok(due) = count_due(&context.db, at).await {
                context.metrics.due.set(due);
            }
        }
        let mut busy = match dispatch_round(&context, at).await {
            Ok(n) => n > 0,
            Err(e) => {
                warn!(log, "fan-out failed; retrying"; "error" => e.to_string());
                false
            }
        };
        let free = slots.available_permits();
        if free > 0 {
            let lease = context.config.with(|c| c.delivery.timeout) + LEASE_MARGIN;
            let lease_until = at + chrono::Duration::from_std(lease).unwrap_or_default();
            match due_deliveries(&context.db, at, free as i64).await {
                Ok(due) => {
                    for seen in due {
                        match claim_delivery(&context.db, &seen, &owner, lease_until, at).await {
                            Ok(true) => {
                                busy = true;
                                let Ok(permit) = slots.clone().acquire_owned().await else { break };
                                let (context, client, owner) = (context.clone(), client.clone(), owner.clone());
                                in_flight.spawn_local(async move {
                                    if let Err(e) = deliver(&context, &client, &owner, seen).await {
                                        warn!(context.log, "recording a delivery failed; its lease will lapse and it will be retried"; "error" => e.to_string());
                                    }
                                    drop(permit);
                                });
                            }
                            Ok(false) => {} // another worker took it first
                            Err(e) => warn!(log, "claim failed"; "error" => e.to_string()),
                        }
                    }
                }
                Err(e) => warn!(log, "looking for due deliveries failed; retrying"; "error" => e.to_string()),
            }
        }
        while in_flight.try_join_next().is_some() {}
        if !busy {
            let idle = context.config.with(|c| c.worker.poll_interval);
            tokio::select! {
                () = tokio::time::sleep(idle) => {}
                () = wake.notified() => {}
                () = stop.wait() => {}
            }
        }
    }
    let timeout = context.config.with(|c| c.worker.shutdown_timeout);
    info!(log, "stopping: finishing deliveries in flight"; "in_flight" => in_flight.len(), "timeout_ms" => timeout.as_millis() as u64);
    let drained = tokio::time::timeout(timeout, async { while in_flight.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        warn!(log, "shutdown timeout passed; unfinished deliveries will be taken over when their leases lapse";
            "left" => in_flight.len());
    }
}
