//! `herald-web`: the HTTP API process. Stateless; run as many as load needs.

mod startup;

use clap::Parser;
use herald::cli::ConfigArgs;
use herald::config::Process;
use herald::logging::Output;
use std::process::ExitCode;

/// Herald's HTTP API (Svix-compatible), with health endpoints.
#[derive(Debug, Parser)]
#[command(name = "herald-web", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,

    /// Listen address (sets serve.host).
    #[arg(long, value_name = "ADDRESS")]
    host: Option<String>,

    /// Listen port (sets serve.port; PORT in the environment does too).
    #[arg(long, value_name = "PORT")]
    port: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let sources = cli.config.sources(
        Process::Web,
        vec![
            ("serve.host", cli.host.clone(), "--host"),
            ("serve.port", cli.port.clone(), "--port"),
        ],
    );
    let booted = herald::boot::boot(Process::Web, sources, Output::Stdout);
    startup::run(booted)
}
