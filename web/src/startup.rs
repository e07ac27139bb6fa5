//! The web process's composition root: its listener, its context and its server, built
//! explicitly here; the routes are this process's own, the rest (health, request logs, graceful
//! stop) is shared with the worker.

use herald::boot::Booted;
use herald::config::Config;
use herald::context::Context;
use herald::http::{HttpPlan, bind, serve};
use herald::lifecycle::StopSignal;
use herald::supervise;
use std::net::TcpListener;

/// The web process, built and ready to serve.
pub struct Application {
    listener: TcpListener,
    context: Context,
    stop: StopSignal,
    workers: usize,
}

impl Application {
    /// Opens the port first (start-up never waits for the database or the broker), starts the
    /// process's supervision and builds its context.
    pub fn build(booted: &Booted) -> anyhow::Result<Self> {
        let cfg = booted.config.get();
        let listener = bind(&cfg.serve.host, cfg.serve.port)?;
        let supervised = supervise::start(booted)?;
        let context = Context::build(booted, supervised.readiness)?;
        let workers = match cfg.serve.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Ok(Application { listener, context, stop: supervised.stop, workers })
    }

    /// Serves the API until a stop signal has been handled and the server has stopped.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let plan = HttpPlan {
            tls: |c: &Config| {
                (!c.serve.tls.cert.is_empty()).then(|| (c.serve.tls.cert.clone(), c.serve.tls.key.clone()))
            },
            workers: self.workers,
            timeouts: |c: &Config| (c.serve.shutdown.drain_delay, c.serve.shutdown.timeout),
            // Room for the largest payload plus the message's other fields.
            routes: |cfg, config: &Config| {
                crate::api::routes(cfg, config.api.max_payload_bytes + crate::api::BODY_OVERHEAD);
                crate::portal::routes(cfg);
            },
        };
        let telemetry = self.context.telemetry.clone();
        serve(self.listener, self.context, plan, self.stop).await?;
        herald::telemetry::flush(telemetry).await;
        Ok(())
    }
}
