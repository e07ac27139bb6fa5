//! Keeping an embedded (SQLite) database writable on a small or filling disk. The write-ahead
//! log is where space goes first: it is only moved into the database and reset at checkpoints,
//! so once the disk is full it keeps the space it has. Every process that uses SQLite watches the
//! disk: while it runs low, or when the log grows past its bound, the log is checkpointed and
//! truncated, handing its space back; and readiness reports the free space, failing when writes
//! cannot succeed.

use super::{Database, DbError};
use crate::backoff::Backoff;
use crate::lifecycle::Readiness;
use crate::with_conn;
use slog::{Logger, info, warn};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often the disk and the log are looked at.
const EVERY: Duration = Duration::from_secs(1);
/// Below this much free space the log is truncated after every look.
const LOW_SPACE: u64 = 8 << 20;
/// A log larger than this is truncated whatever the free space (readers holding old snapshots
/// can keep the automatic checkpoints from resetting it).
const LOG_BOUND: u64 = 64 << 20;
/// Below this much free space readiness fails: writes will not fit.
pub const WRITABLE_SPACE: u64 = 256 << 10;

/// Watches the disk of the SQLite database at `path` for as long as the process runs.
pub async fn keep_writable(db: Database, path: String, readiness: Arc<Readiness>, log: Logger) {
    let database = PathBuf::from(&path);
    let directory = database.parent().map(PathBuf::from).filter(|d| !d.as_os_str().is_empty());
    let directory = directory.unwrap_or_else(|| PathBuf::from("."));
    readiness.watch_disk(directory.clone());
    let wal = PathBuf::from(format!("{path}-wal"));
    let mut low = Backoff::new(EVERY, EVERY);
    loop {
        let (directory, wal_path) = (directory.clone(), wal.clone());
        let looked = tokio::task::spawn_blocking(move || {
            let free = fs4::available_space(&directory).ok();
            let log_size = std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0);
            (free, log_size)
        })
        .await;
        if let Ok((free, log_size)) = looked {
            let short = free.is_some_and(|f| f < LOW_SPACE);
            if (short && log_size > 0) || log_size > LOG_BOUND {
                let checkpoint = truncate_log(&db).await;
                if short && low.failed().first {
                    warn!(log, "the database's disk is nearly full: truncating the write-ahead log after each look";
                        "free_bytes" => free.unwrap_or(0), "log_bytes" => log_size,
                        "checkpoint" => checkpoint.err().map(|e| e.to_string()).unwrap_or_else(|| "done".into()));
                }
            }
            if !short && low.succeeded().is_some() {
                info!(log, "the database's disk has room again"; "free_bytes" => free.unwrap_or(0));
            }
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// Moves the write-ahead log into the database and truncates it to nothing. The connection is
/// this task's own, and waits at most 50 ms for readers: a truncating checkpoint holds writers off
/// while it waits, so it gives up at once (and tries again next look) rather than stall them.
async fn truncate_log(db: &Database) -> Result<(), DbError> {
    use diesel_async::SimpleAsyncConnection;
    with_conn!(db, c => c.batch_execute("PRAGMA busy_timeout = 50; PRAGMA wal_checkpoint(TRUNCATE)").await)?;
    Ok(())
}
