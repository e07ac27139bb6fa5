//! `herald-web`: the HTTP API process. Stateless; run as many as load needs.

mod api;
mod portal;
mod startup;

use clap::Parser;
use herald::cli::{ConfigArgs, ListenArgs};
use herald::config::Process;
use herald::logging::Output;
use startup::Application;
use std::process::ExitCode;

/// Herald's HTTP API (Svix-compatible), with health endpoints.
#[derive(Debug, Parser)]
#[command(name = "herald-web", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,

    #[command(flatten)]
    listen: ListenArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let sources = cli.listen.sources(Process::Web, &cli.config);
    let booted = herald::boot::boot(Process::Web, sources, Output::Stdout);
    herald::boot::serve_until_stopped(&booted.log, async { Application::build(&booted)?.run_until_stopped().await })
}
