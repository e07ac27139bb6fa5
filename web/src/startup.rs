//! Builds and runs the web server: the routes are this process's own; everything else (health,
//! request logs, graceful stop) is shared with the worker.

use herald::boot::Booted;
use herald::config::Config;
use herald::http::{HttpPlan, serve_until_stopped};
use std::process::ExitCode;

/// Runs the web process until it is stopped.
pub fn run(booted: Booted) -> ExitCode {
    let workers = match booted.config.get().serve.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let plan = HttpPlan {
        tls: |c: &Config| (!c.serve.tls.cert.is_empty()).then(|| (c.serve.tls.cert.clone(), c.serve.tls.key.clone())),
        address: |c: &Config| (c.serve.host.clone(), c.serve.port),
        workers,
        timeouts: |c: &Config| (c.serve.shutdown.drain_delay, c.serve.shutdown.timeout),
        // Room for the largest payload plus the message's other fields.
        routes: |cfg, config: &Config| {
            crate::api::routes(cfg, config.api.max_payload_bytes + crate::api::BODY_OVERHEAD)
        },
        background: None,
    };
    serve_until_stopped(&booted, plan)
}
