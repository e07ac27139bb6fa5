//! `herald-admin migrate up | down [--steps N] [--lock-timeout S] | status [--wait [--timeout S]]`

use super::Unsuccessful;
use anyhow::Context as _;
use clap::Subcommand;
use herald::boot::Booted;
use herald::db::{Database, migrate};
use slog::{error, info, warn};
use std::time::{Duration, Instant};

/// How long `up` and `down` wait for another migration's lock by default: ten minutes.
const DEFAULT_LOCK_TIMEOUT: u64 = 600;

/// How often `status --wait` looks again.
const WAIT_POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Subcommand)]
pub enum Migrate {
    /// Apply every pending migration (safe to run several at once: they take turns on a lock).
    Up {
        /// Give up (changing nothing) when another migration holds the lock this long.
        #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_LOCK_TIMEOUT)]
        lock_timeout: u64,
    },
    /// Revert the most recent migrations.
    Down {
        /// How many migrations to revert.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        steps: u32,
        /// Give up (changing nothing) when another migration holds the lock this long.
        #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_LOCK_TIMEOUT)]
        lock_timeout: u64,
    },
    /// Print applied and pending migrations; exit 0 only when none is pending.
    Status {
        /// Wait until no migration is pending (for init containers).
        #[arg(long)]
        wait: bool,
        /// Give up waiting after this many seconds (default: wait forever).
        #[arg(long, value_name = "SECONDS", requires = "wait")]
        timeout: Option<u64>,
    },
}

pub async fn run(cmd: Migrate, booted: &Booted) -> anyhow::Result<()> {
    let log = &booted.log;
    let config = booted.config.get();
    let db = Database::connect_lazy_sized(&config.database, 1).context("cannot use the database")?;
    let url = &config.database.url;
    match cmd {
        Migrate::Up { lock_timeout } => {
            let applied = migrate::up(&db, url, Duration::from_secs(lock_timeout)).await;
            report(log, "applied", applied.context("migration failed")?);
        }
        Migrate::Down { steps, lock_timeout } => {
            let reverted = migrate::down(&db, url, steps as usize, Duration::from_secs(lock_timeout)).await;
            report(log, "reverted", reverted.context("migration failed")?);
        }
        Migrate::Status { wait, timeout } => status(&db, log, wait, timeout.map(Duration::from_secs)).await?,
    }
    Ok(())
}

fn report(log: &slog::Logger, verb: &str, versions: Vec<String>) {
    for version in &versions {
        println!("{verb} {version}");
    }
    info!(log, "migrations done"; "action" => verb, "count" => versions.len());
}

async fn status(db: &Database, log: &slog::Logger, wait: bool, timeout: Option<Duration>) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        match migrate::status(db).await {
            Ok(s) if s.pending.is_empty() || !wait => {
                for v in &s.applied {
                    println!("applied {v}");
                }
                for v in &s.pending {
                    println!("pending {v}");
                }
                return if s.pending.is_empty() { Ok(()) } else { Err(Unsuccessful("migrations pending").into()) };
            }
            Ok(s) => info!(log, "waiting for migrations"; "pending" => s.pending.len()),
            Err(e) if !wait => return Err(e).context("cannot read migration status"),
            Err(e) => warn!(log, "database unreachable, still waiting"; "error" => e.to_string()),
        }
        if timeout.is_some_and(|t| started.elapsed() >= t) {
            error!(log, "gave up waiting for migrations"; "waited_s" => started.elapsed().as_secs());
            return Err(Unsuccessful("gave up waiting").into());
        }
        tokio::time::sleep(WAIT_POLL).await;
    }
}
