//! Background pruning, for formations without a scheduler: every `retention.prune_interval`
//! each worker asks for the prune lease, and the one that gets it prunes, renewing the lease
//! between batches. No leader: the lease is one conditional update on a shared row, and a worker
//! that dies mid-prune lets it lapse for another to take.

use herald::clock::now;
use herald::context::Context;
use herald::db::maintenance::{PRUNE, autovacuum_off, release_lease, take_lease};
use herald::lifecycle::StopSignal;
use herald::metrics::PruneJob;
use herald::prune::{Cutoffs, Job, Pass};
use slog::{debug, info, warn};
use std::time::{Duration, Instant};

/// How long the lease lasts unless renewed; a worker killed mid-prune holds it no longer.
const LEASE: Duration = Duration::from_secs(60);
/// The lease is renewed when this much of it has gone.
const RENEW_AFTER: Duration = Duration::from_secs(20);
/// With pruning off, how often the interval is read again (a reload may turn it on).
const OFF_RECHECK: Duration = Duration::from_secs(30);
/// A pause between batches, so deliveries get the database (SQLite's one writer, above all).
const BETWEEN_BATCHES: Duration = Duration::from_millis(5);

/// Prunes every `retention.prune_interval` until stopped.
pub async fn run(context: Context, owner: String, mut stop: StopSignal) {
    // Pruning deletes; only a vacuum gives the space back and clears the indexes of dead rows.
    if let Ok(true) = autovacuum_off(&context.db).await {
        warn!(
            context.log,
            "autovacuum is off on this Postgres server: delivery and message are never vacuumed, so claims slow down as dead rows pile up; turn it on (README: Large tables)"
        );
    }
    loop {
        let interval = context.config.with(|c| c.retention.prune_interval);
        let wait = if interval.is_zero() { OFF_RECHECK } else { interval };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.wait() => return,
        }
        if context.config.with(|c| c.retention.prune_interval.is_zero()) {
            continue;
        }
        if let Err(e) = prune_if_first(&context, &owner, &stop).await {
            warn!(context.log, "background pruning failed; trying again at the next interval"; "error" => e.to_string());
        }
    }
}

/// Prunes everything due, if no other process holds the lease.
async fn prune_if_first(context: &Context, owner: &str, stop: &StopSignal) -> Result<(), herald::db::DbError> {
    let db = &context.db;
    let lease_until = || now() + chrono::Duration::from_std(LEASE).unwrap_or_default();
    if !take_lease(db, PRUNE, owner, now(), lease_until()).await? {
        debug!(context.log, "another process is pruning");
        return Ok(());
    }
    let started = Instant::now();
    let (retention, limit) = context.config.with(|c| (c.retention.clone(), c.retention.batch_size));
    let cut = Cutoffs::new(&retention, now());
    let mut renewed = Instant::now();
    let mut removed = Vec::new();
    'jobs: for job in Job::ALL {
        let mut pass = Pass::start(db, job, &cut, limit).await?;
        while let Some(changed) = pass.step(db).await? {
            context.metrics.pruned_rows.get_or_create(&PruneJob { job: job.name() }).inc_by(changed as u64);
            if stop.is_stopping() {
                break 'jobs;
            }
            if renewed.elapsed() >= RENEW_AFTER {
                if !take_lease(db, PRUNE, owner, now(), lease_until()).await? {
                    warn!(context.log, "the prune lease lapsed and was taken; leaving the rest to its holder");
                    return Ok(());
                }
                renewed = Instant::now();
            }
            tokio::time::sleep(BETWEEN_BATCHES).await;
        }
        removed.push((job, pass.changed));
    }
    release_lease(db, PRUNE, owner).await?;
    if removed.iter().any(|(_, n)| *n > 0) {
        let [messages, exhausted, payloads, bodies, keys, windows, tokens] =
            Job::ALL.map(|job| removed.iter().find(|(j, _)| *j == job).map_or(0, |(_, n)| *n));
        info!(context.log, "pruned"; "messages" => messages, "exhausted_deliveries" => exhausted,
            "payloads" => payloads, "response_bodies" => bodies, "idempotency_keys" => keys,
            "rate_windows" => windows, "tokens" => tokens, "duration_ms" => started.elapsed().as_millis() as u64);
    }
    Ok(())
}
