//! `herald-admin`: one-off tasks run beside the formation — migrations, config checks, API
//! tokens and pruning. It reads the same config as web and worker. Logs go to stderr; stdout carries command
//! output.

mod commands;

use clap::{Parser, Subcommand};
use commands::Unsuccessful;
use herald::boot::boot;
use herald::cli::ConfigArgs;
use herald::config::Process;
use herald::logging::Output;
use std::process::ExitCode;

/// Herald's one-off tasks: migrations, configuration and API tokens.
#[derive(Debug, Parser)]
#[command(name = "herald-admin", version, about)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply, revert or inspect database migrations.
    #[command(subcommand)]
    Migrate(commands::migrate::Migrate),
    /// Print, check and explain the configuration.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(commands::token::Token),
    /// Remove what `retention.*` no longer keeps, in small batches (safe while Herald runs).
    Prune(commands::prune::Prune),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One runtime for every subcommand, multi-threaded because migrations need it: diesel's
    // migration harness is synchronous and drives the async connection by blocking in place,
    // which a current-thread runtime cannot do.
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("herald-admin: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        // `config` reads and explains the configuration itself (it must work when the config
        // does not): it neither boots nor logs, and an invalid config exits 78 from inside it.
        Command::Config(cmd) => finish(runtime.block_on(commands::config::run(cmd, &cli.config)), None),
        command => {
            let booted = boot(Process::Admin, cli.config.sources(Process::Admin, vec![]), Output::Stderr);
            let outcome = runtime.block_on(async {
                match command {
                    Command::Migrate(cmd) => commands::migrate::run(cmd, &booted).await,
                    Command::Token(cmd) => commands::token::run(cmd, &booted).await,
                    Command::Prune(cmd) => commands::prune::run(cmd, &booted).await,
                    Command::Config(_) => unreachable!("handled above"),
                }
            });
            finish(outcome, Some(&booted.log))
        }
    }
}

/// The exit status for a command's outcome; an error is logged (to stderr) with its chain.
fn finish(outcome: anyhow::Result<()>, log: Option<&slog::Logger>) -> ExitCode {
    let e = match outcome {
        Ok(()) => return ExitCode::SUCCESS,
        Err(e) if e.is::<Unsuccessful>() => return ExitCode::FAILURE,
        Err(e) => e,
    };
    match log {
        Some(log) => {
            // The outermost context says what failed; the rest of the chain says why.
            let why = e.source().map(herald::error::chain).unwrap_or_default();
            slog::error!(log, "{}", e; "error" => why);
        }
        None => eprintln!("herald-admin: {}", herald::error::chain(&*e)),
    }
    ExitCode::FAILURE
}
