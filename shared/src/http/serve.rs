//! Serving HTTP the way every Herald process does: one log line per request, JSON errors, and a
//! graceful stop on the first SIGTERM/SIGINT.

use super::{InFlight, health_routes, not_found, request_log, track_in_flight};
use crate::config::{self, Config};
use crate::context::Context;
use crate::db::Database;
use crate::lifecycle::StopSignal;
use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use slog::{Logger, info, warn};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// Binds the listening socket.
pub fn bind(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind((host, port))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// What differs between the servers of the process types.
pub struct HttpPlan {
    /// HTTP worker threads.
    pub workers: usize,
    /// Drain delay and shutdown timeout, read live at stop time.
    pub timeouts: fn(&Config) -> (Duration, Duration),
    /// Certificate and key when the process serves HTTPS (`serve.tls.*` for web).
    pub tls: fn(&Config) -> Option<(String, String)>,
    /// The process's own routes, besides the health endpoints.
    pub routes: fn(&mut web::ServiceConfig, &Config),
}

/// Serves HTTP on `listener` with the process's context until `stop` fires and the server has
/// stopped gracefully. Each HTTP worker thread gets a pool of its own (connections are tied to
/// the runtime that opened them, and each worker runs its own runtime); together they hold at
/// most `database.pool.max_size`. (web's group commit lanes open up to four more, from the
/// process's own pool: see `db::group_commit`.)
pub async fn serve(listener: TcpListener, base: Context, plan: HttpPlan, stop: StopSignal) -> std::io::Result<()> {
    let log = base.log.clone();
    let config = base.config.clone();
    let cfg = config.get();
    let local = listener.local_addr()?;
    let workers = plan.workers.max(1);
    let per_worker = cfg.database.pool.max_size.div_ceil(workers);
    let (db_config, routes) = (cfg.database.clone(), plan.routes);
    // Checked once here, so the per-worker pools below cannot fail.
    Database::connect_lazy_sized(&db_config, per_worker).map_err(std::io::Error::other)?;
    let in_flight = Arc::new(InFlight::default());
    let tracker = in_flight.clone();
    let server = HttpServer::new(move || {
        let context = Context {
            db: Database::connect_lazy_sized(&db_config, per_worker).expect("database config already checked"),
            ..base.clone()
        };
        let app_config = context.config.clone();
        context.metrics.track_pool(&context.db);
        let (request_logger, request_metrics) = (context.log.clone(), context.metrics.clone());
        App::new()
            .app_data(web::Data::new(context))
            // Svix's documentation and older SDKs write paths with a trailing slash
            // (`/api/v1/app/`); they route like the same path without it. Innermost, so the
            // request log keeps the path as sent.
            .wrap(actix_web::middleware::NormalizePath::trim())
            .wrap(from_fn(move |req, next| request_log(request_logger.clone(), request_metrics.clone(), req, next)))
            .wrap(from_fn({
                let tracker = tracker.clone();
                move |req, next| track_in_flight(tracker.clone(), req, next)
            }))
            .configure(health_routes)
            .configure(|cfg| routes(cfg, &app_config.get()))
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .disable_signals()
    // The timeout is enforced in `stop_gracefully`, live from config, by returning: the process
    // then exits and takes whatever connections are left with it.
    .shutdown_timeout(24 * 3600);
    // Kept for as long as the server runs: it reloads certificate files when they change.
    let (server, scheme, _tls_watcher) = match (plan.tls)(&cfg) {
        Some((cert, key)) => {
            let (tls, watcher) = super::tls::server_config(&cert, &key, &log)
                .map_err(|e| std::io::Error::other(crate::error::chain(&e)))?;
            (server.listen_rustls_0_23(listener, tls)?, "https", watcher)
        }
        None => (server.listen(listener)?, "http", None),
    };
    let server = server.run();
    info!(log, "listening"; "address" => local.to_string(), "url" => format!("{scheme}://{local}"), "workers" => workers);
    let handle = server.handle();
    // The server only ends after a stop command, which `stop_gracefully` sends.
    let serving = actix_web::rt::spawn(server);
    stop_gracefully(stop, handle, in_flight, config, plan.timeouts, log).await;
    if serving.is_finished() {
        serving.await.map_err(std::io::Error::other)??;
    }
    Ok(())
}

/// After a stop signal: wait the drain delay (readiness already reports 503), close the listener
/// and let in-flight requests finish; returns when they have, or when the shutdown timeout has
/// passed. Connections left open then are idle keep-alive ones (or, past the timeout, requests to
/// cut): the process exiting closes them. Both durations are read live, so a reload before the
/// stop applies.
async fn stop_gracefully(
    mut stop: StopSignal,
    server: ServerHandle,
    in_flight: Arc<InFlight>,
    config: config::ConfigHandle,
    timeouts: fn(&Config) -> (Duration, Duration),
    log: Logger,
) {
    stop.wait().await;
    let (drain_delay, timeout) = config.with(timeouts);
    if !drain_delay.is_zero() {
        info!(log, "draining before closing the listener"; "drain_delay_ms" => drain_delay.as_millis() as u64);
        tokio::time::sleep(drain_delay).await;
    }
    in_flight.close();
    info!(log, "closing the listener; waiting for in-flight requests";
        "timeout_ms" => timeout.as_millis() as u64, "in_flight" => in_flight.count());
    // Resolves once every connection has closed, idle keep-alive ones included.
    let closed = server.stop(true);
    let finished = async {
        tokio::select! {
            () = closed => {}
            () = in_flight.settled() => {}
        }
    };
    if tokio::time::timeout(timeout, finished).await.is_err() {
        warn!(log, "shutdown timeout passed; cutting the remaining requests"; "in_flight" => in_flight.count());
    }
}
