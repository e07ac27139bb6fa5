//! Command-line flags every binary shares: config files and flag overrides of config keys.

use crate::config::{ConfigSources, Process};
use clap::Args;
use std::path::PathBuf;

/// Config flags common to `herald-web`, `herald-worker` and `herald-admin`.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// Config file (YAML, JSON or TOML); repeat to merge several, later files win. Without it,
    /// HERALD_CONFIG may name them.
    #[arg(short = 'c', long = "config", value_name = "FILE", global = true)]
    pub config: Vec<PathBuf>,

    /// Set any config key, e.g. --set log.level=debug (repeatable; beats files and env).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value, global = true)]
    pub set: Vec<(String, String)>,

    /// Database URL (sets database.url).
    #[arg(long, value_name = "URL", global = true)]
    pub database_url: Option<String>,

    /// Log level: trace, debug, info, warn or error (sets log.level).
    #[arg(long, value_name = "LEVEL", global = true)]
    pub log_level: Option<String>,

    /// Log format: json or text (sets log.format).
    #[arg(long, value_name = "FORMAT", global = true)]
    pub log_format: Option<String>,
}

/// Listen flags of the long-running processes (herald-web and herald-worker).
#[derive(Debug, Clone, Default, Args)]
pub struct ListenArgs {
    /// Listen address (sets serve.host for herald-web, worker.host for herald-worker).
    #[arg(long, value_name = "ADDRESS")]
    pub host: Option<String>,

    /// Listen port (sets serve.port for herald-web, worker.port for herald-worker; PORT in the
    /// environment does too).
    #[arg(long, value_name = "PORT")]
    pub port: Option<String>,
}

impl ListenArgs {
    /// The config sources for a listening process: `config`'s plus these flags.
    pub fn sources(&self, process: Process, config: &ConfigArgs) -> ConfigSources {
        let (host_key, port_key) = match process {
            Process::Worker => ("worker.host", "worker.port"),
            _ => ("serve.host", "serve.port"),
        };
        config.sources(process, vec![(host_key, self.host.clone(), "--host"), (port_key, self.port.clone(), "--port")])
    }
}

/// A `--set` value that is not `KEY=VALUE`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected KEY=VALUE, got {0:?}")]
pub struct NotKeyValue(String);

fn parse_key_value(text: &str) -> Result<(String, String), NotKeyValue> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_owned(), value.to_owned())),
        _ => Err(NotKeyValue(text.to_owned())),
    }
}

impl ConfigArgs {
    /// The config sources these flags describe, plus `extra` flags a binary defines itself
    /// (key, value, flag name).
    pub fn sources(&self, process: Process, extra: Vec<(&str, Option<String>, &str)>) -> ConfigSources {
        let mut sources = ConfigSources::new(process);
        sources.files = self.config.clone();
        for (key, value) in &self.set {
            sources.flags.push((key.clone(), value.clone(), format!("--set {key}")));
        }
        let named = [
            ("database.url", self.database_url.clone(), "--database-url"),
            ("log.level", self.log_level.clone(), "--log-level"),
            ("log.format", self.log_format.clone(), "--log-format"),
        ];
        for (key, value, flag) in named.into_iter().chain(extra) {
            if let Some(value) = value {
                sources.flags.push((key.to_owned(), value, flag.to_owned()));
            }
        }
        sources
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_need_an_equals_sign() {
        assert_eq!(parse_key_value("log.level=debug"), Ok(("log.level".into(), "debug".into())));
        assert_eq!(parse_key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_key_value("log.level").is_err());
        assert!(parse_key_value("=x").is_err());
    }
}
