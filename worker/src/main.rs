//! `herald-worker`: the delivery process. It serves health on its own port; any number may run.

mod client;
mod consume;
mod deliver;
mod dispatch;
mod engine;
mod record;
mod runner;
mod slots;
mod wakeup;

use clap::Parser;
use futures_util::FutureExt;
use herald::cli::{ConfigArgs, ListenArgs};
use herald::config::{Config, Process};
use herald::http::{HttpPlan, serve_until_stopped};
use herald::logging::Output;
use std::process::ExitCode;
use std::time::Duration;

/// Herald's delivery worker, with health endpoints on worker.port.
#[derive(Debug, Parser)]
#[command(name = "herald-worker", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,

    #[command(flatten)]
    listen: ListenArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let booted = herald::boot::boot(Process::Worker, cli.listen.sources(Process::Worker, &cli.config), Output::Stdout);
    // One HTTP thread is plenty for health probes; delivery gets the rest of the machine.
    let plan = HttpPlan {
        tls: |_| None,
        address: |c: &Config| (c.worker.host.clone(), c.worker.port),
        workers: 1,
        timeouts: |c: &Config| (Duration::ZERO, c.worker.shutdown_timeout),
        routes: |_, _| {},
        background: Some(|context, stop| engine::run(context, stop).boxed_local()),
    };
    // reqwest is built without a default TLS provider: use ring, as everywhere else.
    let _ = rustls::crypto::ring::default_provider().install_default();
    serve_until_stopped(&booted, plan)
}
