//! `herald-worker`: the delivery process. It serves health on its own port; any number may run.

use clap::Parser;
use herald::cli::ConfigArgs;
use herald::config::{Config, Process};
use herald::http::{HttpPlan, run_http};
use herald::logging::Output;
use slog::error;
use std::process::ExitCode;
use std::time::Duration;

/// Herald's delivery worker, with health endpoints on worker.port.
#[derive(Debug, Parser)]
#[command(name = "herald-worker", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,

    /// Health server address (sets worker.host).
    #[arg(long, value_name = "ADDRESS")]
    host: Option<String>,

    /// Health server port (sets worker.port; PORT in the environment does too).
    #[arg(long, value_name = "PORT")]
    port: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let sources = cli.config.sources(
        Process::Worker,
        vec![
            ("worker.host", cli.host.clone(), "--host"),
            ("worker.port", cli.port.clone(), "--port"),
        ],
    );
    let booted = herald::boot::boot(Process::Worker, sources, Output::Stdout);
    // One HTTP thread is plenty for health probes; delivery gets the rest of the machine.
    let plan = HttpPlan {
        address: |c: &Config| (c.worker.host.clone(), c.worker.port),
        workers: 1,
        timeouts: |c: &Config| (Duration::ZERO, c.worker.shutdown_timeout),
        routes: |_| {},
    };
    match actix_web::rt::System::new().block_on(run_http(&booted, plan)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(booted.log, "cannot serve"; "error" => e.to_string());
            ExitCode::FAILURE
        }
    }
}
