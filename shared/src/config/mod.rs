//! Configuration: one typed document, merged from schema defaults, files, environment and flags,
//! validated against the JSON Schema shipped in the binary, and readable live through a shared
//! handle so hot reloads reach every reader.

mod layers;
mod origin;
mod reload;
mod schema;
mod validate;

pub use layers::{CONFIG_FILES_ENV, files_from_env};
pub use origin::{Origin, Origins};
pub use reload::{ReloadOutcome, spawn_reloader};
pub use schema::{ENV_PREFIX, Leaf, LeafType, SCHEMA_TEXT, Schema, get_path, schema, set_path};

use arc_swap::ArcSwap;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Exit status for a configuration error (sysexits EX_CONFIG).
pub const EXIT_CONFIG: i32 = 78;

/// The process types of the formation; each reads the same config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// `herald-web`, the HTTP API.
    Web,
    /// `herald-worker`, the delivery process.
    Worker,
    /// `herald-admin`, one-off tasks.
    Admin,
}

impl Process {
    /// The short name used in logs.
    pub fn name(self) -> &'static str {
        match self {
            Process::Web => "web",
            Process::Worker => "worker",
            Process::Admin => "admin",
        }
    }

    /// The key that the conventional `PORT` variable sets for this process, if it listens.
    pub fn port_key(self) -> Option<&'static str> {
        match self {
            Process::Web => Some("serve.port"),
            Process::Worker => Some("worker.port"),
            Process::Admin => None,
        }
    }
}

/// The whole configuration, typed. Its shape mirrors `schema.json`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The HTTP API.
    pub serve: Serve,
    /// The delivery worker.
    pub worker: Worker,
    /// The database.
    pub database: Database,
    /// The dispatch queue.
    pub queue: Queue,
    /// Logging.
    pub log: Log,
    /// Webhook delivery.
    pub delivery: Delivery,
    /// Secrets at rest.
    pub secrets: Secrets,
    /// The management API.
    pub api: Api,
    /// What is kept how long.
    pub retention: Retention,
    /// Traces.
    pub tracing: Tracing,
}

/// `tracing.*`: OpenTelemetry traces over OTLP/HTTP.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    /// The collector's base URL; empty is off.
    pub otlp_endpoint: String,
    /// The share of new traces recorded.
    pub sample_ratio: f64,
    /// Whether receivers get the attempt's `traceparent`.
    pub send_traceparent: bool,
}

/// `retention.*`: how long each kind of row is kept, and background pruning.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Messages, with their deliveries and attempts.
    #[serde(with = "humantime_serde")]
    pub messages: Duration,
    /// Deliveries whose retries ran out, after their last attempt.
    #[serde(with = "humantime_serde")]
    pub exhausted_deliveries: Duration,
    /// Attempts' response bodies.
    #[serde(with = "humantime_serde")]
    pub response_bodies: Duration,
    /// Idempotency keys, after they expire.
    #[serde(with = "humantime_serde")]
    pub idempotency_keys: Duration,
    /// Rate-limit counters, after their window.
    #[serde(with = "humantime_serde")]
    pub rate_windows: Duration,
    /// Revoked and expired API tokens, after they stopped working.
    #[serde(with = "humantime_serde")]
    pub tokens: Duration,
    /// How often workers prune; zero for never.
    #[serde(with = "humantime_serde")]
    pub prune_interval: Duration,
    /// Rows per pruning transaction.
    pub batch_size: usize,
}

/// `secrets.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// Base64 AES-256 keys; the first encrypts.
    pub keys: Vec<String>,
}

/// `api.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// Largest message payload accepted.
    pub max_payload_bytes: usize,
}

/// `serve.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Serve {
    /// Listen address.
    pub host: String,
    /// Listen port.
    pub port: u16,
    /// HTTP worker threads, 0 for one per core.
    pub workers: usize,
    /// The base URL links handed out are built from; empty for the listening address.
    pub public_url: String,
    /// Origins that may frame the consumer portal.
    pub portal_frame_ancestors: Vec<String>,
    /// Graceful shutdown.
    pub shutdown: Shutdown,
    /// HTTPS.
    pub tls: Tls,
}

/// `serve.tls.*`: both empty serves plain HTTP.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Certificate chain: a PEM file's path, or the PEM text.
    pub cert: String,
    /// Private key: a PEM file's path, or the PEM text.
    pub key: String,
}

/// `serve.shutdown.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Shutdown {
    /// Time between readiness turning 503 and the listener closing.
    #[serde(with = "humantime_serde")]
    pub drain_delay: Duration,
    /// Time allowed for in-flight requests after the listener closes.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

/// `worker.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Worker {
    /// Health server listen address.
    pub host: String,
    /// Health server port.
    pub port: u16,
    /// Time allowed for in-flight work after a stop signal.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// How often an idle worker polls the database.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
}

/// `database.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// Connection URL; the scheme picks the backend.
    pub url: String,
    /// Pool settings.
    pub pool: Pool,
}

/// `database.pool.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Most open connections per process.
    pub max_size: usize,
    /// Time allowed to open a connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time a caller waits for a free connection.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

/// `queue.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Broker URL, empty for the database queue.
    pub url: String,
    /// The dispatch queue's name.
    pub name: String,
    /// Declare a quorum queue.
    pub quorum: bool,
    /// Unacknowledged jobs per worker.
    pub prefetch: u16,
    /// Dispatch jobs web holds for the broker at most.
    pub publish_buffer: usize,
}

/// How new work reaches the workers: decided once, from `queue.url`, at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The database is the queue: workers find new messages there (woken by Postgres
    /// notifications or SQLite's file, polling otherwise).
    Database,
    /// Web publishes a dispatch job per message to RabbitMQ; workers consume them, and sweep
    /// the database for any whose job was lost.
    Broker,
}

impl Queue {
    /// The transport this config names.
    pub fn transport(&self) -> Transport {
        if self.url.is_empty() { Transport::Database } else { Transport::Broker }
    }
}

/// `log.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// Least severe level written.
    pub level: LogLevel,
    /// Line format.
    pub format: LogFormat,
}

/// A log level, as named in config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal operation.
    Info,
    /// Something to look at.
    Warn,
    /// Something failed.
    Error,
}

/// A log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    Text,
}

/// `delivery.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// Networks exempt from the SSRF block.
    pub allowed_cidrs: Vec<IpNet>,
    /// Time allowed for one attempt.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Delays before each retry.
    pub retry_schedule: Vec<humantime_serde::Serde<Duration>>,
    /// Response bytes stored per attempt.
    pub max_response_bytes: usize,
    /// Signature header names.
    pub header_style: HeaderStyleName,
    /// Failing this long disables an endpoint.
    #[serde(with = "humantime_serde")]
    pub disable_endpoint_after: Duration,
    /// The egress proxy every delivery goes through (empty: none).
    pub proxy: String,
    /// Receivers reached directly, bypassing the proxy.
    pub no_proxy: Vec<String>,
    /// Whether the proxy refuses internal destinations itself.
    pub proxy_checks_destinations: bool,
}

/// `delivery.header_style`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderStyleName {
    /// `webhook-*` headers.
    Standard,
    /// `svix-*` headers.
    Svix,
}

/// One thing wrong with the configuration: which key, where its value came from, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted key path (empty when the problem is not about one key, e.g. an unreadable file).
    pub key: String,
    /// Where the offending value came from.
    pub origin: Origin,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{} (from {})", self.message, self.origin)
        } else {
            write!(f, "{}: {} (from {})", self.key, self.message, self.origin)
        }
    }
}

/// Every problem found in a configuration; the process must not start with any.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "invalid configuration ({n} problem{}):", if n == 1 { "" } else { "s" })?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

/// What a process reads its configuration from, kept so that a reload reads the same sources.
#[derive(Debug, Clone)]
pub struct ConfigSources {
    /// The reading process (decides what `PORT` sets).
    pub process: Process,
    /// Files from `--config`, in order; when empty, `HERALD_CONFIG` is used.
    pub files: Vec<PathBuf>,
    /// Values from command-line flags: key path, raw value, flag name.
    pub flags: Vec<(String, String, String)>,
}

impl ConfigSources {
    /// Sources with no files and no flags: defaults and the environment only.
    pub fn new(process: Process) -> Self {
        ConfigSources { process, files: Vec::new(), flags: Vec::new() }
    }

    /// The files actually read: `--config` files, else those named by `HERALD_CONFIG`.
    pub fn effective_files(&self, vars: &[(String, String)]) -> Vec<PathBuf> {
        if self.files.is_empty() { files_from_env(vars) } else { self.files.clone() }
    }
}

/// A validated configuration with the merged document it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The typed configuration.
    pub config: Arc<Config>,
    /// The merged document (for `config show` and reload diffs).
    pub document: Value,
    /// Where each value came from.
    pub origins: Origins,
}

/// Reads, merges and validates the configuration from its sources and the process environment.
pub fn load(sources: &ConfigSources) -> Result<Loaded, ConfigError> {
    let vars: Vec<(String, String)> =
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
    load_from(sources, &vars)
}

/// [`load`] with an explicit environment.
pub fn load_from(sources: &ConfigSources, vars: &[(String, String)]) -> Result<Loaded, ConfigError> {
    let mut layers = layers::Layers::from_defaults();
    for file in sources.effective_files(vars) {
        layers.merge_file(&file);
    }
    layers.apply_env(sources.process, vars);
    for (key, raw, flag) in &sources.flags {
        match schema().leaf(key) {
            Some(leaf) => layers.set_raw(leaf, raw, Origin::Flag(flag.clone())),
            None => layers.problems.push(ConfigProblem {
                key: key.clone(),
                origin: Origin::Flag(flag.clone()),
                message: "unknown key (see `herald-admin config env` for the list)".into(),
            }),
        }
    }
    let mut problems = layers.problems;
    problems.extend(validate::check(&layers.document, &layers.origins));
    if problems.is_empty() {
        problems.extend(validate::requirements(sources.process, &layers.document, &layers.origins));
    }
    if !problems.is_empty() {
        return Err(ConfigError(problems));
    }
    match serde_json::from_value::<Config>(layers.document.clone()) {
        Ok(config) => Ok(Loaded { config: Arc::new(config), document: layers.document, origins: layers.origins }),
        Err(e) => Err(ConfigError(vec![ConfigProblem {
            key: String::new(),
            origin: Origin::Default,
            message: format!("the validated document does not fit the typed config: {e}"),
        }])),
    }
}

/// The document with every secret value replaced, safe to print or log.
pub fn redacted(document: &Value) -> Value {
    let mut doc = document.clone();
    for leaf in schema().leaves.iter().filter(|l| l.secret) {
        let set = |v: &Value| match v {
            Value::String(s) => !s.is_empty(),
            Value::Array(items) => !items.is_empty(),
            Value::Null => false,
            _ => true,
        };
        if get_path(&doc, &leaf.path).is_some_and(set) {
            set_path(&mut doc, &leaf.path, Value::from("<redacted>"));
        }
    }
    doc
}

/// The live configuration, shared by every part of a process. Readers call [`ConfigHandle::get`]
/// each time they need a value, so a reload reaches them without a restart.
#[derive(Clone)]
pub struct ConfigHandle {
    current: Arc<ArcSwap<Loaded>>,
}

impl ConfigHandle {
    /// Wraps a loaded configuration.
    pub fn new(loaded: Loaded) -> Self {
        ConfigHandle { current: Arc::new(ArcSwap::from_pointee(loaded)) }
    }

    /// The configuration in force now.
    pub fn get(&self) -> Arc<Config> {
        self.current.load().config.clone()
    }

    /// The configuration in force now, with its document and origins.
    pub fn loaded(&self) -> Arc<Loaded> {
        self.current.load_full()
    }

    /// Calls `f` with the configuration in force, without copying it.
    pub fn with<R>(&self, f: impl FnOnce(&Config) -> R) -> R {
        f(&self.current.load().config)
    }

    fn swap(&self, loaded: Loaded) {
        self.current.store(Arc::new(loaded));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_alone_are_valid() {
        let loaded = load_from(&ConfigSources::new(Process::Admin), &[]).expect("defaults valid");
        assert_eq!(loaded.config.serve.port, 8071);
        assert_eq!(loaded.config.serve.shutdown.timeout, Duration::from_secs(30));
        assert_eq!(loaded.config.log.level, LogLevel::Info);
    }

    #[test]
    fn web_and_worker_need_an_encryption_key() {
        for process in [Process::Web, Process::Worker] {
            let err = load_from(&ConfigSources::new(process), &[]).expect_err("no key");
            assert_eq!(err.0[0].key, "secrets.keys");
        }
        let key =
            [("HERALD_SECRETS_KEYS".to_owned(), r#"["BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="]"#.to_owned())];
        assert!(load_from(&ConfigSources::new(Process::Web), &key).is_ok());
    }

    #[test]
    fn redaction_hides_secrets_only() {
        let loaded = load_from(&ConfigSources::new(Process::Admin), &[]).expect("defaults valid");
        let shown = redacted(&loaded.document);
        assert_eq!(get_path(&shown, "database.url"), Some(&Value::from("<redacted>")));
        assert_eq!(get_path(&shown, "queue.url"), Some(&Value::from("")));
        assert_eq!(get_path(&shown, "serve.port"), Some(&Value::from(8071)));
    }
}
