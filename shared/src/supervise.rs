//! What every long-running process starts before its own work: stop handlers, the config
//! reloader, and watchers of the attached resources (the database reported once it answers, the
//! broker's connection for readiness, SQLite's file kept writable).

use crate::backoff::Backoff;
use crate::boot::Booted;
use crate::config::Transport;
use crate::db::{Backend, Database, migrate};
use crate::lifecycle::{Readiness, StopSignal, install_stop_handlers};
use crate::{config, logging, queue};
use slog::{Logger, info, warn};
use std::sync::Arc;
use std::time::Duration;

/// A process under supervision: its readiness and its stop signal.
pub struct Supervised {
    /// What `/health/ready` reports.
    pub readiness: Arc<Readiness>,
    /// Fires on the first SIGTERM/SIGINT.
    pub stop: StopSignal,
}

/// Installs the stop handlers and the config reloader and starts watching the attached
/// resources, on the current runtime.
pub fn start(booted: &Booted) -> std::io::Result<Supervised> {
    let (cfg, log) = (booted.config.get(), booted.log.clone());
    let broker = cfg.queue.transport() == Transport::Broker;
    let readiness = Arc::new(Readiness::new(broker));
    let stop = install_stop_handlers(log.clone(), readiness.clone())?;
    config::spawn_reloader(booted.config.clone(), booted.sources.clone(), log.clone(), logging::sync_log_crate_level)?;
    let probe_db = Database::connect_lazy_sized(&cfg.database, 1).map_err(std::io::Error::other)?;
    tokio::spawn(report_database(probe_db, log.clone()));
    if broker {
        tokio::spawn(queue::monitor_broker(cfg.queue.url.clone(), readiness.clone(), log.clone()));
    }
    let path = crate::db::sqlite_path(cfg.database.url.split('?').next().unwrap_or_default());
    if crate::db::backend_of(&cfg.database.url).ok() == Some(Backend::Sqlite) && !path.contains(":memory:") {
        let upkeep = Database::connect_lazy_sized(&cfg.database, 1).map_err(std::io::Error::other)?;
        tokio::spawn(crate::db::sqlite_upkeep::keep_writable(upkeep, path, readiness.clone(), log));
    }
    Ok(Supervised { readiness, stop })
}

/// Connects to the database in the background (start-up never waits for it), retrying with
/// backoff, and says once whether migrations are pending.
async fn report_database(db: Database, log: Logger) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        match migrate::status(&db).await {
            Ok(status) => {
                info!(log, "database reachable"; "backend" => db.backend().name(), "applied" => status.applied.len());
                if !status.pending.is_empty() {
                    warn!(log, "migrations pending: not ready until `herald-admin migrate up` runs";
                        "pending" => status.pending.join(","));
                }
                return;
            }
            Err(e) => {
                let failed = backoff.failed();
                if failed.first {
                    warn!(log, "database unreachable, retrying"; "error" => e.to_string());
                }
                tokio::time::sleep(failed.wait).await;
            }
        }
    }
}
