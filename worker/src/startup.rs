//! The worker process's composition root: its health listener, its context, and the two things
//! it runs side by side until stopped, the delivery engine and the health server.

use herald::boot::Booted;
use herald::config::Config;
use herald::context::Context;
use herald::http::{HttpPlan, bind, serve};
use herald::lifecycle::StopSignal;
use herald::supervise;
use std::net::TcpListener;
use std::time::Duration;

/// The worker process, built and ready to run.
pub struct Application {
    listener: TcpListener,
    context: Context,
    stop: StopSignal,
}

impl Application {
    /// Opens the health port first, starts the process's supervision and builds its context.
    pub fn build(booted: &Booted) -> anyhow::Result<Self> {
        let cfg = booted.config.get();
        let listener = bind(&cfg.worker.host, cfg.worker.port)?;
        let supervised = supervise::start(booted)?;
        let context = Context::build(booted, supervised.readiness)?;
        Ok(Application { listener, context, stop: supervised.stop })
    }

    /// Runs the delivery engine and the health server side by side until a stop signal has
    /// been handled and both have finished: the engine its deliveries in flight, the server its
    /// requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        // One HTTP thread is plenty for health probes; delivery gets the rest of the machine.
        let plan = HttpPlan {
            tls: |_| None,
            workers: 1,
            timeouts: |c: &Config| (Duration::ZERO, c.worker.shutdown_timeout),
            routes: |_, _| {},
        };
        // The engine uses the process context's own pool (the server's thread has another). It
        // runs on a task of its own: a server that cannot serve ends the process at once, and
        // the engine's end is awaited only after a stop.
        self.context.metrics.track_pool(&self.context.db);
        let engine = actix_web::rt::spawn(crate::engine::run(self.context.clone(), self.stop.clone()));
        let telemetry = self.context.telemetry.clone();
        serve(self.listener, self.context, plan, self.stop).await?;
        let _ = engine.await;
        herald::telemetry::flush(telemetry).await;
        Ok(())
    }
}
