//! `herald-admin`: one-off tasks run beside the formation — migrations and config checks. It
//! reads the same config as web and worker. Logs go to stderr; stdout carries command output.

mod commands;

use clap::{Parser, Subcommand};
use herald::cli::ConfigArgs;
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate(cmd) => commands::migrate::run(cmd, &cli.config),
        Command::Config(cmd) => commands::config::run(cmd, &cli.config),
        Command::Token(cmd) => commands::token::run(cmd, &cli.config),
    }
}
