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

/// Every metric a process exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Delivery attempts by outcome.
    pub deliveries: Family<Outcome, Counter>,
    /// How long attempts took, in seconds.
    pub attempt_seconds: Histogram,
    /// Deliveries due now and not yet made (the queue's lag).
    pub due: Gauge,
    /// Database connections open in this process's pools.
    pub db_connections: Gauge,
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
        registry.register(
            "db_connections",
            "Open database connections in this process's pools",
            db_connections.clone(),
        );
        Metrics { registry: Mutex::new(registry), deliveries, attempt_seconds, due, db_connections }
    }
}

impl Metrics {
    /// Counts one attempt.
    pub fn record_attempt(&self, outcome: &str, seconds: f64) {
        self.deliveries.get_or_create(&Outcome { outcome: outcome.to_owned() }).inc();
        self.attempt_seconds.observe(seconds);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        }
        text
    }
}
