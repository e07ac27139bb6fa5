//! New-work announcements without a broker. On Postgres, workers LISTEN on `herald_work` and web
//! announces new messages there. A NOTIFY takes a database-wide lock at commit, so one per message
//! would serialise every publish behind the others; instead each process sends at most one NOTIFY
//! per [`COALESCE`] on a connection of its own, however many messages were stored meanwhile.
//!
//! On SQLite every process shares one file on one machine: web writes a byte to the wake file
//! beside the database ([`sqlite_wake_path`]) after its commit, and workers watch that file. (A
//! worker also watches the write-ahead log, but a commit writes the log before it syncs it and
//! only then becomes visible: a worker woken by the log alone may look too early and find
//! nothing.) Announcements are best-effort: a lost one costs a worker's poll interval, never a
//! message.

use crate::backoff::Backoff;
use diesel_async::SimpleAsyncConnection;
use slog::{Logger, warn};
use std::time::Duration;
use tokio::sync::Notify;

/// Announcements closer together than this are sent as one.
pub const COALESCE: Duration = Duration::from_millis(2);
const MAX_RETRY: Duration = Duration::from_secs(10);

/// Collects announcements from any thread; [`WorkAnnouncer::run`] sends them.
#[derive(Default)]
pub struct WorkAnnouncer {
    pending: Notify,
}

impl WorkAnnouncer {
    /// Notes that there is new work (cheap; never waits).
    pub fn announce(&self) {
        self.pending.notify_one();
    }

    /// Sends the announcements for as long as the process runs, reconnecting with backoff. No
    /// connection is opened before the first announcement (a process that never has any, such
    /// as a worker, never opens one).
    pub async fn run(&self, url: String, log: Logger) {
        if super::backend_of(&url).ok() == Some(super::Backend::Sqlite) {
            let database = super::sqlite_path(url.split('?').next().unwrap_or_default());
            return self.run_file(sqlite_wake_path(&database), log).await;
        }
        let mut backoff = Backoff::new(Duration::from_millis(100), MAX_RETRY);
        self.pending.notified().await;
        self.pending.notify_one();
        loop {
            let failure = match super::postgres_connection(&url).await {
                Ok(mut conn) => loop {
                    self.pending.notified().await;
                    if let Err(e) = conn.batch_execute("NOTIFY herald_work").await {
                        break format!("announcing failed: {e}");
                    }
                    backoff.succeeded();
                    tokio::time::sleep(COALESCE).await;
                },
                Err(e) => format!("cannot open the announcement connection: {e}"),
            };
            let failed = backoff.failed();
            if failed.first {
                warn!(log, "work announcements failing; workers find the work by polling meanwhile"; "error" => failure);
            }
            tokio::time::sleep(failed.wait).await;
        }
    }
}

/// The file beside SQLite database `database` that announcements are written to.
pub fn sqlite_wake_path(database: &str) -> String {
    format!("{database}-wake")
}

impl WorkAnnouncer {
    /// SQLite: each announcement rewrites the wake file (one byte, no sync: only the change
    /// event matters), at most once per [`COALESCE`].
    async fn run_file(&self, path: String, log: Logger) {
        let mut warned = false;
        loop {
            self.pending.notified().await;
            match tokio::fs::write(&path, b"1").await {
                Ok(()) => warned = false,
                Err(e) if !warned => {
                    warned = true;
                    warn!(log, "cannot write the wake file; workers find new work by polling meanwhile";
                        "path" => &path, "error" => e.to_string());
                }
                Err(_) => {}
            }
            tokio::time::sleep(COALESCE).await;
        }
    }
}
