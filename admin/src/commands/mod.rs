//! One file per subcommand: the list of files is the list of things an operator can do.

pub mod config;
pub mod migrate;
pub mod token;
