//! Prometheus metrics, served as text on `/metrics` by web and worker.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

/// The outcome label of a delivery attempt.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// `success`, `retry`, `exhausted`.
    pub outcome: String,
}

/// The labels of an HTTP request served.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The route's pattern (`/api/v1/app/{app_id}`), or `unmatched`: never the raw path, which
    /// would make one series per id.
    pub route: String,
    /// The status code.
    pub status: u16,
}

/// The job label of rows pruned.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PruneJob {
    /// One of [`crate::prune::Job::name`]: a fixed set.
    pub job: &'static str,
}

/// The label of a route, for latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    /// As in [`Request::route`].
    pub route: String,
}

/// A point on a message's way from its publish to the stored outcome of its first attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// web: its insert committed (before the publisher is answered).
    Stored,
    /// worker: read by a fan-out (from the database, or named by a broker's dispatch job).
    Picked,
    /// worker: its deliveries committed.
    FannedOut,
    /// worker: its first attempt about to be sent (slot taken, lease held).
    Sending,
    /// worker: the receiver answered that attempt.
    Answered,
    /// worker: the attempt's outcome committed.
    Recorded,
}

impl Point {
    /// The label value: a fixed set, never from a request.
    pub const fn name(self) -> &'static str {
        match self {
            Point::Stored => "stored",
            Point::Picked => "picked",
            Point::FannedOut => "fanned_out",
            Point::Sending => "sending",
            Point::Answered => "answered",
            Point::Recorded => "recorded",
        }
    }
}

/// The label of [`Metrics::progress_seconds`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Progress {
    /// [`Point::name`].
    pub point: &'static str,
}

/// Every metric a process exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Delivery attempts by outcome.
    pub deliveries: Family<Outcome, Counter>,
    /// How long attempts took, in seconds.
    pub attempt_seconds: Histogram,
    /// Deliveries due now and not yet made (the queue's lag).
    pub due: Gauge,
    /// Attempts refused unsent because a signing secret could not be decrypted.
    pub unsigned_refusals: Counter,
    /// Dispatch jobs web did not publish (buffer full, broker failing): the sweep covers them.
    pub dispatch_jobs_skipped: Counter,
    /// Database connections open in this process's pools.
    pub db_connections: Gauge,
    /// Of those, how many are idle.
    pub db_connections_idle: Gauge,
    /// HTTP requests served, by method, route and status.
    pub requests: Family<Request, Counter>,
    /// How long HTTP requests took, by route, in seconds.
    pub request_seconds: Family<Route, Histogram>,
    /// Rows removed or emptied by this process's background pruning, by job.
    pub pruned_rows: Family<PruneJob, Counter>,
    /// How long after its creation a message reached each point of its way, in seconds (first
    /// attempts of published messages only): where the time between publish and delivery goes.
    pub progress_seconds: Family<Progress, Histogram>,
    /// Publishes committed together, per commit (web's group commit).
    pub publish_batch_size: Histogram,
    /// Batches of publishes stored one by one after one of them conflicted.
    pub publish_batches_split: Counter,
    /// Every pool of the process (web has one per HTTP worker), for the connection gauges.
    pools: Mutex<Vec<crate::db::Database>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("herald");
        let deliveries = Family::<Outcome, Counter>::default();
        // Attempt latency from 5 ms to about 20 s.
        let attempt_seconds =
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.005, 2.0, 13));
        let due = Gauge::default();
        let db_connections = Gauge::default();
        registry.register("delivery_attempts", "Delivery attempts by outcome", deliveries.clone());
        registry.register(
            "delivery_attempt_duration_seconds",
            "How long delivery attempts took",
            attempt_seconds.clone(),
        );
        registry.register("deliveries_due", "Deliveries due and not yet made (queue lag)", due.clone());
        let dispatch_jobs_skipped = Counter::default();
        registry.register(
            "dispatch_jobs_skipped",
            "Dispatch jobs not published to the broker (buffer full or broker failing); the workers' sweep fans those messages out",
            dispatch_jobs_skipped.clone(),
        );
        let unsigned_refusals = Counter::default();
        registry.register(
            "delivery_unsigned_refusals",
            "Attempts refused unsent: the endpoint's signing secret could not be decrypted with secrets.keys",
            unsigned_refusals.clone(),
        );
        registry.register(
            "db_connections",
            "Open database connections in this process's pools",
            db_connections.clone(),
        );
        let db_connections_idle = Gauge::default();
        registry.register(
            "db_connections_idle",
            "Idle database connections in this process's pools",
            db_connections_idle.clone(),
        );
        let requests = Family::<Request, Counter>::default();
        registry.register("http_requests", "HTTP requests served", requests.clone());
        // Request latency from 0.5 ms to about 4 s.
        let request_seconds = Family::<Route, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register("http_request_duration_seconds", "How long HTTP requests took", request_seconds.clone());
        let pruned_rows = Family::<PruneJob, Counter>::default();
        registry.register(
            "pruned_rows",
            "Rows deleted, or emptied, by this worker's background pruning, by job",
            pruned_rows.clone(),
        );
        // From 0.1 ms to about 6 s, each bucket half as wide again as the one before.
        let progress_seconds = Family::<Progress, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.0001, 1.5, 28))
        });
        registry.register(
            "message_progress_seconds",
            "How long after its creation a message reached each point of its way to its first attempt's stored outcome (clocks of the processes involved)",
            progress_seconds.clone(),
        );
        // 1, 2, 4, … 64: the group commit's largest batch.
        let publish_batch_size =
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(1.0, 2.0, 7));
        registry.register(
            "publish_batch_size",
            "Published messages committed together in one transaction",
            publish_batch_size.clone(),
        );
        let publish_batches_split = Counter::default();
        registry.register(
            "publish_batches_split",
            "Batches of publishes stored one by one because one of them was refused (a used event id)",
            publish_batches_split.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            publish_batch_size,
            publish_batches_split,
            progress_seconds,
            pruned_rows,
            deliveries,
            attempt_seconds,
            due,
            unsigned_refusals,
            dispatch_jobs_skipped,
            db_connections,
            db_connections_idle,
            requests,
            request_seconds,
            pools: Mutex::default(),
        }
    }
}

impl Metrics {
    /// Counts one attempt.
    pub fn record_attempt(&self, outcome: &str, seconds: f64) {
        self.deliveries.get_or_create(&Outcome { outcome: outcome.to_owned() }).inc();
        self.attempt_seconds.observe(seconds);
    }

    /// Counts one HTTP request.
    pub fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = Request { method: method.to_owned(), route: route.to_owned(), status };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds.get_or_create(&Route { route: route.to_owned() }).observe(seconds);
    }

    /// Notes that a message created at `created_at` (by web's clock) has reached `point` now.
    pub fn reached(&self, point: Point, created_at: chrono::NaiveDateTime) {
        let micros = (chrono::Utc::now().naive_utc() - created_at).num_microseconds().unwrap_or(0).max(0);
        self.progress_seconds.get_or_create(&Progress { point: point.name() }).observe(micros as f64 / 1e6);
    }

    /// Counts `db`'s connections in the connection gauges.
    pub fn track_pool(&self, db: &crate::db::Database) {
        if let Ok(mut pools) = self.pools.lock() {
            pools.push(db.clone());
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        if let Ok(pools) = self.pools.lock() {
            let (open, idle) = pools.iter().map(|p| p.pool_status()).fold((0, 0), |(o, i), (po, pi)| (o + po, i + pi));
            self.db_connections.set(open as i64);
            self.db_connections_idle.set(idle as i64);
        }
        let mut text = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        }
        text
    }
}
