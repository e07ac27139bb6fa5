//! Herald's shared library: everything two or more of its processes need — configuration,
//! logging, the database and its migrations, the queue connection, lifecycle and health.

pub mod backoff;
pub mod boot;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod crypto;
pub mod db;
pub mod error;
pub mod http;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod operational;
pub mod payload_schema;
pub mod prune;
pub mod queue;
pub mod signing;
pub mod ssrf;
pub mod supervise;
pub mod telemetry;
pub mod tls;
pub mod token;
pub mod ttl_cache;
