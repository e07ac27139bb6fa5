//! One file per subcommand: the list of files is the list of things an operator can do. Each
//! has a plain `run` returning `anyhow::Result<()>`; `main` turns an error into a log line and a
//! failing exit status.

pub mod config;
pub mod migrate;
pub mod prune;
pub mod token;

/// A command that ran to its end and has said what it found, but must exit unsuccessfully (e.g.
/// `migrate status` with migrations pending): nothing more is logged.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsuccessful(pub &'static str);
