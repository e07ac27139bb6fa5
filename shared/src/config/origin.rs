//! Where each config value came from, so an error can name the file or variable to fix.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// The source of one config value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The schema's default.
    Default,
    /// A config file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// A file named by a `…_FILE` environment variable.
    EnvFile {
        /// The variable that named the file.
        var: String,
        /// The file read.
        path: PathBuf,
    },
    /// A command-line flag.
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(path) => write!(f, "file {}", path.display()),
            Origin::Env(var) => write!(f, "env {var}"),
            Origin::EnvFile { var, path } => {
                write!(f, "file {} named by env {var}", path.display())
            }
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// The origin of every value set in a merged config document, by dotted key path.
#[derive(Debug, Clone, Default)]
pub struct Origins(BTreeMap<String, Origin>);

impl Origins {
    /// Records that `path` (and everything under it) was set by `origin`.
    pub fn record(&mut self, path: &str, origin: Origin) {
        let nested = format!("{path}.");
        self.0.retain(|k, _| !k.starts_with(&nested));
        self.0.insert(path.to_owned(), origin);
    }

    /// Where the value at `path` came from: the deepest recorded key that contains it.
    pub fn of(&self, path: &str) -> Origin {
        let mut candidate = path;
        loop {
            if let Some(origin) = self.0.get(candidate) {
                return origin.clone();
            }
            match candidate.rfind('.') {
                Some(dot) => candidate = &candidate[..dot],
                None => return Origin::Default,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deepest_recorded_origin_wins() {
        let mut o = Origins::default();
        o.record("serve", Origin::File("a.yaml".into()));
        o.record("serve.port", Origin::Env("HERALD_SERVE_PORT".into()));
        assert_eq!(o.of("serve.port"), Origin::Env("HERALD_SERVE_PORT".into()));
        assert_eq!(o.of("serve.host"), Origin::File("a.yaml".into()));
        assert_eq!(o.of("log.level"), Origin::Default);
        o.record("serve", Origin::Flag("--set".into()));
        assert_eq!(o.of("serve.port"), Origin::Flag("--set".into()));
    }
}
