//! Running an actix server the way every Herald process does: the port opens first, the
//! database and broker connect in the background, one log line per request, JSON errors, and a
//! graceful stop on the first SIGTERM/SIGINT.

use super::{InFlight, health_routes, not_found, request_log, track_in_flight};
use crate::backoff::Backoff;
use crate::boot::Booted;
use crate::config::Config;
use crate::context::Context;
use crate::db::{Backend, Database, migrate};
use crate::lifecycle::{Readiness, StopSignal, install_stop_handlers};
use crate::queue::amqp::Publisher;
use crate::{config, logging, queue};
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
    /// Listen address and port.
    pub address: fn(&Config) -> (String, u16),
    /// HTTP worker threads.
    pub workers: usize,
    /// Drain delay and shutdown timeout, read live at stop time.
    pub timeouts: fn(&Config) -> (Duration, Duration),
    /// Certificate and key when the process serves HTTPS (`serve.tls.*` for web).
    pub tls: fn(&Config) -> Option<(String, String)>,
    /// The process's own routes, besides the health endpoints.
    pub routes: fn(&mut web::ServiceConfig, &Config),
    /// Work the process does besides serving HTTP (the worker's delivery loop); it gets its own
    /// database pool and the stop signal, and the process waits for it before exiting.
    pub background: Option<fn(Context, StopSignal) -> futures_util::future::LocalBoxFuture<'static, ()>>,
}

/// Runs the process's server on an actix system until it has stopped; the exit status to return.
pub fn serve_until_stopped(booted: &Booted, plan: HttpPlan) -> std::process::ExitCode {
    match actix_web::rt::System::new().block_on(run_http(booted, plan)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            slog::error!(booted.log, "cannot serve"; "error" => e.to_string());
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs the server until a stop signal has been handled. Returns once every worker has stopped.
pub async fn run_http(booted: &Booted, plan: HttpPlan) -> std::io::Result<()> {
    let log = booted.log.clone();
    let cfg = booted.config.get();
    let (host, port) = (plan.address)(&cfg);
    let listener = bind(&host, port)?;
    let local = listener.local_addr()?;

    let readiness = Arc::new(Readiness::new(!cfg.queue.url.is_empty()));
    let stop = install_stop_handlers(log.clone(), readiness.clone())?;
    let config = booted.config.clone();
    config::spawn_reloader(config.clone(), booted.sources.clone(), log.clone(), logging::sync_log_crate_level)?;

    // Connections are tied to the runtime that opened them, and each HTTP worker runs its own
    // runtime, so each worker gets its own lazy pool; together they hold at most max_size.
    let workers = plan.workers.max(1);
    let per_worker = cfg.database.pool.max_size.div_ceil(workers);
    let probe_db = Database::connect_lazy_sized(&cfg.database, 1).map_err(std::io::Error::other)?;
    tokio::spawn(report_database(probe_db, log.clone()));
    if !cfg.queue.url.is_empty() {
        tokio::spawn(queue::monitor_broker(cfg.queue.url.clone(), readiness.clone(), log.clone()));
    }
    let path = crate::db::sqlite_path(cfg.database.url.split('?').next().unwrap_or_default());
    if crate::db::backend_of(&cfg.database.url).ok() == Some(Backend::Sqlite) && !path.contains(":memory:") {
        let upkeep = Database::connect_lazy_sized(&cfg.database, 1).map_err(std::io::Error::other)?;
        tokio::spawn(crate::db::sqlite_upkeep::keep_writable(upkeep, path, readiness.clone(), log.clone()));
    }

    // One context for the process; each HTTP worker swaps in a pool of its own. (Validation
    // guarantees web and worker at least one well-formed encryption key.)
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let base = Context {
        db: Database::connect_lazy(&cfg.database).map_err(std::io::Error::other)?,
        config: config.clone(),
        log: log.clone(),
        readiness: readiness.clone(),
        secrets: Arc::new(crate::crypto::SecretBox::new(&cfg.secrets.keys).map_err(std::io::Error::other)?),
        tokens: Arc::new(crate::token::TokenCache::default()),
        metrics: metrics.clone(),
        publisher: (!cfg.queue.url.is_empty()).then(|| {
            let q = &cfg.queue;
            Arc::new(Publisher::start(&q.url, &q.name, q.quorum, q.publish_buffer, log.clone(), metrics.clone()))
        }),
        announcer: (cfg.queue.url.is_empty()
            && crate::db::backend_of(&cfg.database.url).ok() == Some(Backend::Postgres))
        .then(Arc::default),
    };
    if let Some(announcer) = base.announcer.clone() {
        let (url, log) = (cfg.database.url.clone(), log.clone());
        tokio::spawn(async move { announcer.run(url, log).await });
    }
    let (db_config, worker_base, routes) = (cfg.database.clone(), base.clone(), plan.routes);
    let in_flight = Arc::new(InFlight::default());
    let tracker = in_flight.clone();
    let server = HttpServer::new(move || {
        let context = Context {
            // The same config built a pool above, so this cannot fail here.
            db: Database::connect_lazy_sized(&db_config, per_worker).expect("database config already checked"),
            ..worker_base.clone()
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
            let (tls, watcher) = super::tls::server_config(&cert, &key, &log).map_err(std::io::Error::other)?;
            (server.listen_rustls_0_23(listener, tls)?, "https", watcher)
        }
        None => (server.listen(listener)?, "http", None),
    };
    let server = server.run();
    info!(log, "listening"; "address" => local.to_string(), "url" => format!("{scheme}://{local}"), "workers" => workers);
    // The background work (the worker's delivery loop) gets the process context and its full pool.
    if plan.background.is_some() {
        base.metrics.track_pool(&base.db);
    }
    let background = plan.background.map(|start| actix_web::rt::spawn(start(base, stop.clone())));
    let handle = server.handle();
    // The server only ends after a stop command, which `stop_gracefully` sends.
    let serving = actix_web::rt::spawn(server);
    stop_gracefully(stop, handle, in_flight, config, plan.timeouts, log.clone()).await;
    if serving.is_finished() {
        serving.await.map_err(std::io::Error::other)??;
    }
    if let Some(task) = background {
        let _ = task.await;
    }
    info!(log, "stopped");
    Ok(())
}

/// Connects to the database in the background (start-up never waits for it), retrying with
/// backoff, and says once whether migrations are pending.
async fn report_database(db: Database, log: Logger) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        match migrate::status(&db).await {
            Ok(status) => {
                info!(log, "database reachable"; "backend" => db.backend().name(), "applied" => status.applied.len());
                if !status.pending.is_empty() {
                    warn!(log, "migrations pending: not ready until `herald-admin migrate up` runs";
                        "pending" => status.pending.join(","));
                }
                return;
            }
            Err(e) => {
                let failed = backoff.failed();
                if failed.first {
                    warn!(log, "database unreachable, retrying"; "error" => e.to_string());
                }
                tokio::time::sleep(failed.wait).await;
            }
        }
    }
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
