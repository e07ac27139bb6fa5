//! Wake-ups on Postgres: a connection of its own LISTENs on `herald_work` (notified by triggers on
//! new messages and deliveries), so an idle worker starts new work at once instead of at its next
//! poll. Polling stays as the fallback: a lost connection only costs latency, never work.

use diesel_async::RunQueryDsl;
use futures_util::StreamExt;
use slog::{Logger, info, warn};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const MAX_RETRY: Duration = Duration::from_secs(10);

/// Listens for as long as the process runs, waking `wake` on every notification.
pub async fn listen(url: String, wake: Arc<Notify>, log: Logger) {
    let mut wait = Duration::from_millis(100);
    loop {
        match herald::db::postgres_connection(&url).await {
            Ok(mut conn) => match diesel::sql_query("LISTEN herald_work").execute(&mut conn).await {
                Ok(_) => {
                    info!(log, "listening for work notifications");
                    wait = Duration::from_millis(100);
                    let mut notifications = std::pin::pin!(conn.notifications_stream());
                    while let Some(Ok(_)) = notifications.next().await {
                        wake.notify_one();
                    }
                    warn!(log, "work notifications stopped; polling until they resume");
                }
                Err(e) => warn!(log, "LISTEN failed; polling meanwhile"; "error" => e.to_string()),
            },
            Err(e) => {
                warn!(log, "cannot open the notification connection; polling meanwhile"; "error" => e.to_string())
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_RETRY);
    }
}
