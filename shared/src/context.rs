//! The one value a process builds at start-up and hands to everything that needs a dependency:
//! live config, database, logger, readiness. Nothing reaches for globals.

use crate::config::ConfigHandle;
use crate::crypto::SecretBox;
use crate::db::Database;
use crate::lifecycle::Readiness;
use slog::Logger;
use std::sync::Arc;

/// Dependencies shared by a process's request handlers and tasks.
#[derive(Clone)]
pub struct Context {
    /// The live configuration.
    pub config: ConfigHandle,
    /// The database pool.
    pub db: Database,
    /// The process logger.
    pub log: Logger,
    /// Stop and broker state, for readiness.
    pub readiness: Arc<Readiness>,
    /// Seals and opens secrets stored in the database.
    pub secrets: Arc<SecretBox>,
    /// Recently verified API tokens, shared by the process's HTTP workers.
    pub tokens: Arc<crate::token::TokenCache>,
    /// The process's metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The broker publisher, when `queue.url` names one.
    pub publisher: Option<Arc<crate::queue::amqp::Publisher>>,
    /// Announces new work to workers, on Postgres without a broker.
    pub announcer: Option<Arc<crate::db::notify::WorkAnnouncer>>,
}
