//! The one value a process builds at start-up and hands to everything that needs a dependency:
//! live config, database, logger, readiness. Nothing reaches for globals. Each binary builds its
//! own, in its own `main`, with [`Context::build`].

use crate::boot::Booted;
use crate::config::{ConfigHandle, Transport};
use crate::crypto::{CryptoError, SecretBox};
use crate::db::{Backend, Database, DbError};
use crate::lifecycle::Readiness;
use crate::metrics::Metrics;
use crate::queue::amqp::Publisher;
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
    /// The schema each recently published-to event type enforces (`None`: it enforces none).
    pub schemas: Arc<crate::payload_schema::SchemaCache>,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// How new work reaches the workers.
    pub transport: Transport,
    /// The broker publisher, on the broker transport.
    pub publisher: Option<Arc<Publisher>>,
    /// Announces new work to workers, on Postgres without a broker.
    pub announcer: Option<Arc<crate::db::notify::WorkAnnouncer>>,
    /// Group commit for API publishes (web only): concurrent ones share a commit.
    pub publishes: Option<Arc<crate::db::group_commit::GroupCommit>>,
    /// Traces, when `tracing.otlp_endpoint` is set.
    pub telemetry: crate::telemetry::Telemetry,
}

/// Why a process's context could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The database pool could not be set up.
    #[error("database: {0}")]
    Database(#[from] DbError),
    /// The encryption keys are unusable (validation normally catches this first).
    #[error("secrets.keys: {0}")]
    Secrets(#[from] CryptoError),
}

impl Context {
    /// Builds the context of a serving process from its config: the database pool (lazy: no
    /// connection opens until one is needed), the secret box, metrics, and the transport's
    /// publisher or announcer, whose background tasks start here (so it runs on a runtime).
    pub fn build(booted: &Booted, readiness: Arc<Readiness>) -> Result<Context, ContextError> {
        let cfg = booted.config.get();
        let log = booted.log.clone();
        let metrics = Arc::new(Metrics::default());
        let transport = cfg.queue.transport();
        let publisher = (transport == Transport::Broker).then(|| {
            let q = &cfg.queue;
            Arc::new(Publisher::start(&q.url, &q.name, q.quorum, q.publish_buffer, log.clone(), metrics.clone()))
        });
        let announces = crate::db::backend_of(&cfg.database.url).is_ok_and(|b| b != Backend::Mysql);
        let announcer =
            (transport == Transport::Database && announces).then(Arc::<crate::db::notify::WorkAnnouncer>::default);
        if let Some(announcer) = announcer.clone() {
            let (url, log) = (cfg.database.url.clone(), log.clone());
            tokio::spawn(async move { announcer.run(url, log).await });
        }
        let service = match booted.sources.process {
            crate::config::Process::Worker => "herald-worker",
            _ => "herald-web",
        };
        let telemetry = crate::telemetry::Telemetry::start(&cfg, service, &log);
        // The worker's writes can all be derived again from committed messages; nothing it
        // stores is acknowledged to a caller, so its commits need not wait for the disk.
        let commits = match booted.sources.process {
            crate::config::Process::Worker => crate::db::Commits::Relaxed,
            _ => crate::db::Commits::Durable,
        };
        let db = Database::connect_lazy_committing(&cfg.database, commits)?;
        // web's group commit lanes use this pool (up to four connections beside the HTTP
        // workers' own pools), on the runtime this runs on, which lives as long as the process.
        let publishes = matches!(booted.sources.process, crate::config::Process::Web).then(|| {
            metrics.track_pool(&db);
            Arc::new(crate::db::group_commit::GroupCommit::start(db.clone(), metrics.clone()))
        });
        Ok(Context {
            telemetry,
            db,
            publishes,
            config: booted.config.clone(),
            log,
            readiness,
            secrets: Arc::new(SecretBox::new(&cfg.secrets.keys)?),
            tokens: Arc::new(crate::token::token_cache()),
            schemas: Arc::new(crate::payload_schema::schema_cache()),
            metrics,
            transport,
            publisher,
            announcer,
        })
    }

    /// Tells the workers a new message is stored: through Postgres notifications without a
    /// broker (coalesced), or through the broker when there is one, by handing the dispatch job
    /// to the publishing task (bounded; it never waits). A job not published is counted; the
    /// workers' sweep finds the message.
    pub fn announce(&self, message_id: &str) {
        if let Some(announcer) = &self.announcer {
            announcer.announce();
        }
        if let Some(publisher) = &self.publisher {
            publisher.publish(message_id);
        }
    }

    /// Announces the operational events a change stored.
    pub fn announce_all(&self, noticed: &crate::db::operational::Noticed) {
        for id in &noticed.0 {
            self.announce(id.as_str());
        }
    }
}
