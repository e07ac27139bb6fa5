//! `herald-admin migrate up | down [--steps N] [--lock-timeout S] | status [--wait [--timeout S]]`

use clap::Subcommand;
use herald::boot::{Booted, boot};
use herald::cli::ConfigArgs;
use herald::config::Process;
use herald::db::{Database, migrate};
use herald::logging::Output;
use slog::{error, info, warn};
use std::process::ExitCode;
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

pub fn run(cmd: Migrate, args: &ConfigArgs) -> ExitCode {
    let booted = boot(Process::Admin, args.sources(Process::Admin, vec![]), Output::Stderr);
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            error!(booted.log, "cannot start the async runtime"; "error" => e.to_string());
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(execute(cmd, &booted))
}

async fn execute(cmd: Migrate, booted: &Booted) -> ExitCode {
    let log = &booted.log;
    let config = booted.config.get();
    let db = match Database::connect_lazy_sized(&config.database, 1) {
        Ok(db) => db,
        Err(e) => {
            error!(log, "cannot use the database"; "error" => e.to_string());
            return ExitCode::FAILURE;
        }
    };
    let url = &config.database.url;
    match cmd {
        Migrate::Up { lock_timeout } => {
            report(log, "applied", migrate::up(&db, url, Duration::from_secs(lock_timeout)).await)
        }
        Migrate::Down { steps, lock_timeout } => {
            let reverted = migrate::down(&db, url, steps as usize, Duration::from_secs(lock_timeout)).await;
            report(log, "reverted", reverted)
        }
        Migrate::Status { wait, timeout } => status(&db, booted, wait, timeout.map(Duration::from_secs)).await,
    }
}

fn report(log: &slog::Logger, verb: &str, result: Result<Vec<String>, herald::db::DbError>) -> ExitCode {
    match result {
        Ok(versions) => {
            for version in &versions {
                println!("{verb} {version}");
            }
            info!(log, "migrations done"; "action" => verb, "count" => versions.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!(log, "migration failed"; "error" => e.to_string());
            ExitCode::FAILURE
        }
    }
}

async fn status(db: &Database, booted: &Booted, wait: bool, timeout: Option<Duration>) -> ExitCode {
    let log = &booted.log;
    let started = Instant::now();
    loop {
        let outcome = migrate::status(db).await;
        match &outcome {
            Ok(s) if s.pending.is_empty() || !wait => {
                for v in &s.applied {
                    println!("applied {v}");
                }
                for v in &s.pending {
                    println!("pending {v}");
                }
                return if s.pending.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
            }
            Ok(s) => info!(log, "waiting for migrations"; "pending" => s.pending.len()),
            Err(e) if !wait => {
                error!(log, "cannot read migration status"; "error" => e.to_string());
                return ExitCode::FAILURE;
            }
            Err(e) => warn!(log, "database unreachable, still waiting"; "error" => e.to_string()),
        }
        if timeout.is_some_and(|t| started.elapsed() >= t) {
            error!(log, "gave up waiting for migrations"; "waited_s" => started.elapsed().as_secs());
            return ExitCode::FAILURE;
        }
        tokio::time::sleep(WAIT_POLL).await;
    }
}
