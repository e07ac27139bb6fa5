//! Start-up common to every binary: load and validate the config (exit 78 on any problem, before
//! any port or connection is opened), then start logging.

use crate::config::{self, ConfigHandle, ConfigSources, EXIT_CONFIG, Process};
use crate::logging::{self, Output};
use slog::Logger;

/// What a process has once its config is valid and logging runs.
pub struct Booted {
    /// The live configuration.
    pub config: ConfigHandle,
    /// The sources, kept for reloads.
    pub sources: ConfigSources,
    /// The root logger.
    pub log: Logger,
}

/// Loads the config from `sources`; on any problem prints them all and exits with status 78.
pub fn load_or_exit(process: Process, sources: &ConfigSources) -> config::Loaded {
    match config::load(sources) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprint!("herald-{}: {e}", process.name());
            std::process::exit(EXIT_CONFIG);
        }
    }
}

/// Runs a serving process (built and run by `run`) on an actix system until it has stopped, and
/// says how it ended: `stopped`, or `cannot serve` with the error and its causes (exit 1).
pub fn serve_until_stopped<E>(
    log: &Logger,
    run: impl std::future::Future<Output = Result<(), E>>,
) -> std::process::ExitCode
where
    E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
{
    match actix_web::rt::System::new().block_on(run) {
        Ok(()) => {
            slog::info!(log, "stopped");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            let e: Box<dyn std::error::Error + Send + Sync> = e.into();
            slog::error!(log, "cannot serve"; "error" => crate::error::chain(&*e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Loads the config (or exits 78) and starts logging.
pub fn boot(process: Process, sources: ConfigSources, output: Output) -> Booted {
    let loaded = load_or_exit(process, &sources);
    let config = ConfigHandle::new(loaded);
    let log = logging::init(process, config.clone(), output);
    Booted { config, sources, log }
}
