//! Builds the merged config document, layer by layer (later wins): schema defaults, config
//! files, environment variables, command-line flags. Each value's origin is recorded.

use super::origin::{Origin, Origins};
use super::schema::{ENV_PREFIX, Leaf, LeafType, get_path, schema, set_path};
use super::{ConfigProblem, Process};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Env variable naming config files, as an alternative to `--config`.
pub const CONFIG_FILES_ENV: &str = "HERALD_CONFIG";

/// The merged document, where each value came from, and what went wrong on the way.
#[derive(Debug, Default)]
pub struct Layers {
    /// The merged config document.
    pub document: Value,
    /// The origin of each value.
    pub origins: Origins,
    /// Problems found while reading the layers.
    pub problems: Vec<ConfigProblem>,
}

/// The conventional twelve-factor variables, read with envy as one flat overlay.
#[derive(Debug, Default, Deserialize)]
struct Aliases {
    database_url: Option<String>,
    database_url_file: Option<PathBuf>,
    amqp_url: Option<String>,
    amqp_url_file: Option<PathBuf>,
    port: Option<String>,
}

impl Layers {
    /// Starts from the schema defaults.
    pub fn from_defaults() -> Self {
        Layers { document: schema().defaults(), ..Default::default() }
    }

    fn problem(&mut self, key: &str, origin: Origin, message: impl Into<String>) {
        self.problems.push(ConfigProblem { key: key.to_owned(), origin, message: message.into() });
    }

    /// Merges one config file; its format follows its extension (.yaml/.yml, .json, .toml).
    pub fn merge_file(&mut self, path: &Path) {
        let origin = Origin::File(path.to_owned());
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => return self.problem("", origin, format!("cannot read the file: {e}")),
        };
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let parsed: Result<Value, Box<dyn std::error::Error>> = match extension.as_str() {
            "yaml" | "yml" => serde_yaml_ng::from_str(&text).map_err(Into::into),
            "json" => serde_json::from_str(&text).map_err(Into::into),
            "toml" => toml::from_str(&text).map_err(Into::into),
            _ => return self.problem("", origin, "unknown file type: use .yaml, .yml, .json or .toml"),
        };
        match parsed {
            // An empty YAML file is a valid, empty config.
            Ok(Value::Null) => {}
            Ok(Value::Object(map)) => self.merge_object("", map, &origin),
            Ok(_) => self.problem("", origin, "the file must hold a mapping of keys"),
            Err(e) => self.problem("", origin, format!("cannot parse: {}", e.to_string().trim())),
        }
    }

    fn merge_object(&mut self, prefix: &str, map: Map<String, Value>, origin: &Origin) {
        for (name, value) in map {
            let path = if prefix.is_empty() { name } else { format!("{prefix}.{name}") };
            // Objects merge key by key unless the schema says the key itself holds an object.
            let is_leaf = schema().leaf(&path).is_some();
            match value {
                Value::Object(inner) if !is_leaf => {
                    if !get_path(&self.document, &path).is_some_and(Value::is_object) {
                        set_path(&mut self.document, &path, Value::Object(Map::new()));
                    }
                    self.origins.record(&path, origin.clone());
                    self.merge_object(&path, inner, origin);
                }
                other => {
                    set_path(&mut self.document, &path, other);
                    self.origins.record(&path, origin.clone());
                }
            }
        }
    }

    /// Sets one key from a string given in the environment or on the command line.
    pub fn set_raw(&mut self, leaf: &Leaf, raw: &str, origin: Origin) {
        set_path(&mut self.document, &leaf.path, typed(leaf.kind, raw));
        self.origins.record(&leaf.path, origin);
    }

    /// Applies the environment: the twelve-factor aliases first, then every `HERALD_*` key,
    /// so the specific name wins over the conventional one.
    pub fn apply_env(&mut self, process: Process, vars: &[(String, String)]) {
        self.apply_aliases(process, vars);
        for (name, raw) in vars {
            if !name.starts_with(ENV_PREFIX) || name == CONFIG_FILES_ENV {
                continue;
            }
            if let Some(leaf) = schema().leaf_for_env(name) {
                if vars.iter().any(|(n, _)| *n == format!("{name}_FILE")) {
                    self.problem(
                        &leaf.path,
                        Origin::Env(name.clone()),
                        format!("both {name} and {name}_FILE are set: keep one"),
                    );
                    continue;
                }
                self.set_raw(leaf, raw, Origin::Env(name.clone()));
            } else if let Some(stem) = name.strip_suffix("_FILE")
                && let Some(leaf) = schema().leaf_for_env(stem)
            {
                if leaf.secret {
                    self.set_from_file(leaf, name, Path::new(raw));
                } else {
                    self.problem(
                        &leaf.path,
                        Origin::Env(name.clone()),
                        format!("{} is not a secret key, so it has no _FILE variant: set {stem}", leaf.path),
                    );
                }
            } else {
                self.problem(
                    "",
                    Origin::Env(name.clone()),
                    format!("unknown variable {name}: no config key maps to it (see `herald-admin config env`)"),
                );
            }
        }
    }

    fn apply_aliases(&mut self, process: Process, vars: &[(String, String)]) {
        let aliases: Aliases = match envy::from_iter(vars.iter().cloned()) {
            Ok(aliases) => aliases,
            Err(e) => return self.problem("", Origin::Env("environment".into()), e.to_string()),
        };
        let leaf = |path: &str| schema().leaf(path).expect("alias targets are schema keys");
        if let Some(url) = aliases.database_url {
            self.set_raw(leaf("database.url"), &url, Origin::Env("DATABASE_URL".into()));
        }
        if let Some(path) = aliases.database_url_file {
            self.set_from_file(leaf("database.url"), "DATABASE_URL_FILE", &path);
        }
        if let Some(url) = aliases.amqp_url {
            self.set_raw(leaf("queue.url"), &url, Origin::Env("AMQP_URL".into()));
        }
        if let Some(path) = aliases.amqp_url_file {
            self.set_from_file(leaf("queue.url"), "AMQP_URL_FILE", &path);
        }
        if let (Some(port), Some(key)) = (aliases.port, process.port_key()) {
            self.set_raw(leaf(key), &port, Origin::Env("PORT".into()));
        }
    }

    fn set_from_file(&mut self, leaf: &Leaf, var: &str, path: &Path) {
        let origin = Origin::EnvFile { var: var.to_owned(), path: path.to_owned() };
        match std::fs::read_to_string(path) {
            // Secret files conventionally end with a newline that is not part of the value.
            Ok(text) => self.set_raw(leaf, text.trim_end_matches(['\r', '\n']), origin),
            Err(e) => self.problem(&leaf.path, origin, format!("cannot read the file: {e}")),
        }
    }
}

/// Reads a string as the schema's type; a string that does not parse stays a string, so the
/// schema validation reports it with its key and origin like any other wrong value.
fn typed(kind: LeafType, raw: &str) -> Value {
    let fallback = || Value::String(raw.to_owned());
    match kind {
        LeafType::String => fallback(),
        LeafType::Integer => raw.trim().parse::<i64>().map(Value::from).unwrap_or_else(|_| fallback()),
        LeafType::Number => raw.trim().parse::<f64>().map(Value::from).unwrap_or_else(|_| fallback()),
        LeafType::Boolean => match raw.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => fallback(),
        },
        LeafType::Array | LeafType::Object => serde_json::from_str(raw).unwrap_or_else(|_| fallback()),
    }
}

/// The config files named by `HERALD_CONFIG` (separated like `PATH`).
pub fn files_from_env(vars: &[(String, String)]) -> Vec<PathBuf> {
    vars.iter()
        .find(|(name, _)| name == CONFIG_FILES_ENV)
        .map(|(_, value)| std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn every_key_maps_from_its_env_name() {
        for leaf in &schema().leaves {
            let raw = match leaf.kind {
                LeafType::Integer => "7".to_owned(),
                LeafType::Array => "[\"x\"]".to_owned(),
                LeafType::Boolean => "true".to_owned(),
                _ => "some-value".to_owned(),
            };
            let mut layers = Layers::from_defaults();
            layers.apply_env(Process::Admin, &vars(&[(&leaf.env_name(), &raw)]));
            assert!(layers.problems.is_empty(), "{:?}", layers.problems);
            assert_eq!(get_path(&layers.document, &leaf.path), Some(&typed(leaf.kind, &raw)), "{}", leaf.path);
            assert_eq!(layers.origins.of(&leaf.path), Origin::Env(leaf.env_name()));
        }
    }

    #[test]
    fn underscores_inside_key_names_resolve_against_the_schema() {
        let mut layers = Layers::from_defaults();
        layers.apply_env(Process::Admin, &vars(&[("HERALD_SERVE_SHUTDOWN_DRAIN_DELAY", "5s")]));
        assert_eq!(get_path(&layers.document, "serve.shutdown.drain_delay"), Some(&Value::from("5s")));
    }

    #[test]
    fn specific_name_beats_alias_and_port_follows_the_process() {
        let env = vars(&[("DATABASE_URL", "postgres://a/b"), ("HERALD_DATABASE_URL", "mysql://c/d"), ("PORT", "9000")]);
        let mut web = Layers::from_defaults();
        web.apply_env(Process::Web, &env);
        assert_eq!(get_path(&web.document, "database.url"), Some(&Value::from("mysql://c/d")));
        assert_eq!(get_path(&web.document, "serve.port"), Some(&Value::from(9000)));
        assert_eq!(get_path(&web.document, "worker.port"), Some(&Value::from(8072)));
        let mut worker = Layers::from_defaults();
        worker.apply_env(Process::Worker, &env);
        assert_eq!(get_path(&worker.document, "worker.port"), Some(&Value::from(9000)));
    }

    #[test]
    fn unknown_variables_and_non_secret_files_are_problems() {
        let mut layers = Layers::from_defaults();
        layers.apply_env(Process::Web, &vars(&[("HERALD_DATABSE_URL", "x"), ("HERALD_LOG_LEVEL_FILE", "/x")]));
        assert_eq!(layers.problems.len(), 2, "{:?}", layers.problems);
    }

    #[test]
    fn wrong_types_stay_strings_for_the_validator() {
        assert_eq!(typed(LeafType::Integer, "abc"), Value::from("abc"));
        assert_eq!(typed(LeafType::Integer, " 42 "), Value::from(42));
        assert_eq!(typed(LeafType::Array, "[1]"), serde_json::json!([1]));
        assert_eq!(typed(LeafType::Array, "1,2"), Value::from("1,2"));
    }
}
