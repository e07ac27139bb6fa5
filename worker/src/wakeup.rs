//! Wake-ups, so an idle worker starts new work at once instead of at its next poll. On Postgres a
//! connection of its own LISTENs on `herald_work` (announced by web for new messages, by
//! triggers for new and reset deliveries). On SQLite, every process shares one file on this
//! machine: the worker watches the wake file web writes after each commit, and the write-ahead
//! log (a change there means another process wrote).
//! Polling stays as the fallback: a lost wake-up only costs latency, never work.

use diesel_async::RunQueryDsl;
use futures_util::StreamExt;
use herald::backoff::Backoff;
use slog::{Logger, info, warn};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const MAX_RETRY: Duration = Duration::from_secs(10);

/// Listens for as long as the process runs, waking `wake` on every notification.
pub async fn listen(url: String, wake: Arc<Notify>, log: Logger) {
    let mut backoff = Backoff::new(Duration::from_millis(100), MAX_RETRY);
    loop {
        let listening = match herald::db::postgres_connection(&url).await {
            Ok(mut conn) => match diesel::sql_query("LISTEN herald_work").execute(&mut conn).await {
                Ok(_) => {
                    info!(log, "listening for work notifications");
                    backoff.succeeded();
                    let mut notifications = std::pin::pin!(conn.notifications_stream());
                    while let Some(Ok(_)) = notifications.next().await {
                        wake.notify_one();
                    }
                    warn!(log, "work notifications stopped; polling until they resume");
                    Ok(())
                }
                Err(e) => Err(format!("LISTEN failed: {e}")),
            },
            Err(e) => Err(format!("cannot open the notification connection: {e}")),
        };
        let failed = backoff.failed();
        if let Err(e) = listening
            && failed.first
        {
            warn!(log, "no work notifications; polling meanwhile, retrying with backoff"; "error" => e);
        }
        tokio::time::sleep(failed.wait).await;
    }
}

/// What changed in the database's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// The wake file: a commit announced after it became visible.
    Announced,
    /// The write-ahead log: some process is writing (its commit may not be visible yet).
    Logged,
}

/// How long a change of the log alone waits before it wakes the worker: a commit is visible
/// only once the log is synced, and a worker looking earlier finds nothing and contends for the
/// write lock with the committing process. An announcement in the meantime wakes it at once.
const LOG_SETTLE: Duration = Duration::from_millis(3);

/// Wakes `wake` for the changes `changes` reports: at once for an announcement, a moment after
/// a change of the log; changes arriving together wake it once.
async fn wake_for(mut changes: tokio::sync::mpsc::UnboundedReceiver<Change>, wake: Arc<Notify>) {
    while let Some(first) = changes.recv().await {
        if first == Change::Logged {
            let settle = tokio::time::sleep(LOG_SETTLE);
            tokio::pin!(settle);
            loop {
                tokio::select! {
                    () = &mut settle => break,
                    change = changes.recv() => match change {
                        Some(Change::Announced) => break,
                        Some(Change::Logged) => {}
                        None => return,
                    },
                }
            }
        }
        while changes.try_recv().is_ok() {}
        wake.notify_one();
    }
}

/// Watches the SQLite database's wake file and write-ahead log; returns the watcher, which must
/// be kept alive.
pub fn watch_sqlite(database_path: &str, wake: Arc<Notify>, log: &Logger) -> Option<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    // SQLite names the log after the database with `-wal` appended; web announces its commits
    // in the wake file.
    let log_path = std::path::PathBuf::from(format!("{database_path}-wal"));
    let wake_path = std::path::PathBuf::from(herald::db::notify::sqlite_wake_path(database_path));
    let (wal, announced) = (log_path.file_name().map(|n| n.to_owned()), wake_path.file_name().map(|n| n.to_owned()));
    let (changes, received) = tokio::sync::mpsc::unbounded_channel();
    actix_web::rt::spawn(wake_for(received, wake));
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if !matches!(event.kind, EventKind::Modify(_) | EventKind::Create(_)) {
            return;
        }
        for path in &event.paths {
            let file = path.file_name();
            let change = if file == announced.as_deref() {
                Change::Announced
            } else if file == wal.as_deref() {
                Change::Logged
            } else {
                continue;
            };
            let _ = changes.send(change);
        }
    })
    .map_err(|e| warn!(log, "cannot watch the database for changes; polling"; "error" => e.to_string()))
    .ok()?;
    // The log exists once any process opened the database in WAL mode; watch its directory so a
    // log created later is seen too.
    let dir = log_path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    match watcher.watch(dir, RecursiveMode::NonRecursive) {
        Ok(()) => {
            info!(log, "watching the database for new work"; "path" => log_path.display().to_string());
            Some(watcher)
        }
        Err(e) => {
            warn!(log, "cannot watch the database for changes; polling"; "error" => e.to_string());
            None
        }
    }
}
