//! The RabbitMQ connection: opened in the background with backoff (start-up never waits for it),
//! watched, and reopened when it drops. Its state feeds readiness.

use crate::backoff::Backoff;
use crate::db::redact_url;
use crate::lifecycle::Readiness;
use lapin::Connection;
use slog::{Logger, debug, info, warn};
use std::sync::Arc;
use std::time::Duration;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(10);
const STATUS_POLL: Duration = Duration::from_millis(500);

/// Connects to the broker, retrying with exponential backoff until it answers; says once that
/// it is unreachable (each later try is logged at debug).
pub async fn connect_with_backoff(url: &str, log: &Logger) -> Connection {
    let mut backoff = Backoff::new(FIRST_RETRY, MAX_RETRY);
    loop {
        match super::connect::connect(url).await {
            Ok(connection) => return connection,
            Err(e) => {
                let failed = backoff.failed();
                if failed.first {
                    warn!(log, "broker unreachable, retrying"; "url" => redact_url(url), "error" => e.to_string());
                } else {
                    debug!(log, "broker still unreachable"; "error" => e.to_string(), "retry_in_ms" => failed.wait.as_millis() as u64);
                }
                tokio::time::sleep(failed.wait).await;
            }
        }
    }
}

/// Keeps a connection to the broker for the life of the process and mirrors its state in
/// `readiness`.
pub async fn monitor_broker(url: String, readiness: Arc<Readiness>, log: Logger) {
    loop {
        let connection = connect_with_backoff(&url, &log).await;
        info!(log, "broker connected"; "url" => redact_url(&url));
        readiness.set_broker_connected(true);
        // lapin tracks the connection's state itself (heartbeats, errors, a close by the broker).
        while connection.status().connected() {
            tokio::time::sleep(STATUS_POLL).await;
        }
        readiness.set_broker_connected(false);
        warn!(log, "broker connection lost, reconnecting"; "url" => redact_url(&url));
    }
}
