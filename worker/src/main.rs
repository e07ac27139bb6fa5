//! `herald-worker`: the delivery process. It serves health on its own port; any number may run.

mod client;
mod consume;
mod deliver;
mod dispatch;
mod engine;
mod prune;
mod record;
mod runner;
mod slots;
mod startup;
mod wakeup;

use clap::Parser;
use herald::cli::{ConfigArgs, ListenArgs};
use herald::config::Process;
use herald::logging::Output;
use startup::Application;
use std::process::ExitCode;

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
    // reqwest is built without a default TLS provider: use ring, as everywhere else.
    let _ = rustls::crypto::ring::default_provider().install_default();
    herald::boot::serve_until_stopped(&booted.log, async { Application::build(&booted)?.run_until_stopped().await })
}
