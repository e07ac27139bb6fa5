//! Opening the listener before anything else, and stopping a server the graceful way.

use crate::config::ConfigHandle;
use crate::lifecycle::StopSignal;
use actix_web::dev::ServerHandle;
use slog::{Logger, info, warn};
use std::net::TcpListener;
use std::time::Duration;

/// Binds the listening socket.
pub fn bind(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind((host, port))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// After a stop signal: wait the drain delay (readiness already reports 503), close the listener
/// and let in-flight requests finish; past the shutdown timeout, cut them. Both durations are
/// read live, so a reload before the stop applies.
pub async fn stop_gracefully(
    mut stop: StopSignal,
    server: ServerHandle,
    config: ConfigHandle,
    timeouts: fn(&crate::config::Config) -> (Duration, Duration),
    log: Logger,
) {
    stop.wait().await;
    let (drain_delay, timeout) = config.with(timeouts);
    if !drain_delay.is_zero() {
        info!(log, "draining before closing the listener"; "drain_delay_ms" => drain_delay.as_millis() as u64);
        tokio::time::sleep(drain_delay).await;
    }
    info!(log, "closing the listener; waiting for in-flight requests"; "timeout_ms" => timeout.as_millis() as u64);
    let graceful = server.stop(true);
    if tokio::time::timeout(timeout, graceful).await.is_err() {
        warn!(
            log,
            "shutdown timeout passed; cutting the remaining requests"
        );
        server.stop(false).await;
    }
}
