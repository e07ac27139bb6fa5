//! Process lifecycle: stop signals, and the readiness state that turns 503 the moment a stop
//! begins. The first SIGTERM or SIGINT starts a graceful stop; a second exits at once.

use slog::{Logger, info, warn};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Exit status after a second stop signal: the conventional 128 + signal number.
fn forced_exit_status(kind: &str) -> i32 {
    if kind == "SIGINT" { 130 } else { 143 }
}

/// Resolves once a stop has been requested.
#[derive(Clone)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// Waits until a stop signal arrives (returns at once if one already has).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }

    /// Whether a stop has been requested.
    pub fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }
}

/// Listens for SIGTERM and SIGINT. The first starts a graceful stop (and marks `readiness`
/// draining); the second ends the process immediately.
pub fn install_stop_handlers(log: Logger, readiness: Arc<Readiness>) -> std::io::Result<StopSignal> {
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let mut received = 0;
        loop {
            let kind = tokio::select! {
                Some(()) = term.recv() => "SIGTERM",
                Some(()) = int.recv() => "SIGINT",
                else => return,
            };
            received += 1;
            if received == 1 {
                info!(log, "stop signal received, shutting down gracefully"; "signal" => kind);
                readiness.set_draining();
                let _ = tx.send(true);
            } else {
                warn!(log, "second stop signal received, exiting now"; "signal" => kind);
                std::process::exit(forced_exit_status(kind));
            }
        }
    });
    Ok(StopSignal(rx))
}

/// What readiness depends on besides the database: the stop state and, when a broker is
/// configured, its connection.
#[derive(Debug, Default)]
pub struct Readiness {
    draining: AtomicBool,
    broker_configured: bool,
    broker_connected: AtomicBool,
    /// The directory of an embedded (SQLite) database, whose disk readiness checks.
    disk: std::sync::OnceLock<std::path::PathBuf>,
}

impl Readiness {
    /// Readiness for a process that does (or does not) use a broker.
    pub fn new(broker_configured: bool) -> Self {
        Readiness { broker_configured, ..Default::default() }
    }

    /// Marks the process as stopping: readiness reports 503 from now on.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether a stop has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Whether a broker is part of this process's readiness.
    pub fn broker_configured(&self) -> bool {
        self.broker_configured
    }

    /// Records the broker connection state.
    pub fn set_broker_connected(&self, connected: bool) {
        self.broker_connected.store(connected, Ordering::SeqCst);
    }

    /// Whether the broker is connected.
    pub fn broker_connected(&self) -> bool {
        self.broker_connected.load(Ordering::SeqCst)
    }

    /// Makes the free space of `directory`'s disk (an embedded database's) part of readiness.
    pub fn watch_disk(&self, directory: std::path::PathBuf) {
        let _ = self.disk.set(directory);
    }

    /// The directory whose disk readiness checks, if any.
    pub fn disk(&self) -> Option<&std::path::Path> {
        self.disk.get().map(std::path::PathBuf::as_path)
    }
}
