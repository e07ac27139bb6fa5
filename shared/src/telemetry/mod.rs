//! Traces: OpenTelemetry spans of the API request, the publish and each delivery attempt,
//! exported over OTLP/HTTP with protobuf bodies to `tracing.otlp_endpoint` (off when empty). One
//! trace follows a message from `POST …/msg` to every receiver's answer: the publish span's
//! context is stored with the message (`message.trace_context`, a W3C `traceparent`), so it
//! survives the queue and any worker restart, and each attempt's span is its child.
//!
//! Off, nothing is built and every call here is a branch on `None`.

pub mod export;

use crate::config::Config;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, Tracer};
use slog::{Logger, info, warn};
use std::collections::HashMap;
use std::sync::Arc;

/// Attribute names operators filter on (OpenTelemetry's where one exists).
pub mod attribute {
    /// The organisation.
    pub const ORG: &str = "herald.org.id";
    /// The application.
    pub const APP: &str = "herald.app.id";
    /// The application as the caller named it (its id or uid).
    pub const APP_REF: &str = "herald.app.ref";
    /// The endpoint.
    pub const ENDPOINT: &str = "herald.endpoint.id";
    /// The message.
    pub const MESSAGE: &str = "herald.message.id";
    /// The message's event type.
    pub const EVENT_TYPE: &str = "herald.event_type";
    /// Which attempt of the delivery (1 for the first).
    pub const ATTEMPT: &str = "herald.attempt.number";
    /// The receiver's status code (0: no answer).
    pub const STATUS_CODE: &str = "http.response.status_code";
    /// The request's method.
    pub const METHOD: &str = "http.request.method";
    /// The request's route pattern.
    pub const ROUTE: &str = "http.route";
}

/// The process's tracer, when tracing is on.
#[derive(Clone, Default)]
pub struct Telemetry {
    on: Option<Arc<On>>,
}

struct On {
    provider: SdkTracerProvider,
    tracer: Tracer,
}

impl Telemetry {
    /// Starts exporting for process `service` (e.g. `herald-web`) when `tracing.otlp_endpoint`
    /// is set: a batch processor on a thread of its own, its requests sent on the calling
    /// runtime. Call it on the process's runtime.
    pub fn start(config: &Config, service: &'static str, log: &Logger) -> Telemetry {
        use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
        let base = config.tracing.otlp_endpoint.trim_end_matches('/');
        if base.is_empty() {
            return Telemetry::default();
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            warn!(log, "tracing off: not started on a runtime");
            return Telemetry::default();
        };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(export::Exporting::new(runtime))
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{base}/v1/traces"))
            .build();
        let exporter = match exporter {
            Ok(exporter) => exporter,
            Err(e) => {
                warn!(log, "tracing off: the exporter cannot be built"; "error" => e.to_string());
                return Telemetry::default();
            }
        };
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(service)
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let ratio = config.tracing.sample_ratio.clamp(0.0, 1.0);
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio))))
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("herald");
        let shown = crate::db::redact_url(&format!("{base}/v1/traces"));
        info!(log, "exporting traces"; "endpoint" => shown, "sample_ratio" => ratio);
        Telemetry { on: Some(Arc::new(On { provider, tracer })) }
    }

    /// The tracer, when tracing is on.
    pub fn tracer(&self) -> Option<&Tracer> {
        self.on.as_ref().map(|on| &on.tracer)
    }

    /// Exports what is left and stops (blocks until the collector answered or timed out: call
    /// it off the async threads).
    pub fn shutdown(&self) {
        if let Some(on) = &self.on {
            let _ = on.provider.shutdown();
        }
    }
}

/// Exports the spans still waiting, on stopping: the export's requests run on this runtime
/// while a blocking thread waits for them.
pub async fn flush(telemetry: Telemetry) {
    if telemetry.tracer().is_some() {
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    }
}

/// A span's context as a W3C `traceparent` header value.
pub fn traceparent(context: &Context) -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(context, &mut carrier);
    carrier.remove("traceparent")
}

/// The context a stored or received `traceparent` names (an empty context when it does not
/// read).
pub fn from_traceparent(value: &str) -> Context {
    let carrier = HashMap::from([("traceparent".to_owned(), value.to_owned())]);
    TraceContextPropagator::new().extract(&carrier)
}

/// A link to the caller's own trace, named by its `traceparent` header: kept as a link, not made
/// the parent, since anyone can send the header (a caller cannot graft Herald's spans onto
/// another trace, yet the operator can follow the link).
pub fn link_to_caller(value: Option<&str>) -> Vec<Link> {
    let Some(value) = value else { return Vec::new() };
    let context = from_traceparent(value);
    let span = context.span().span_context().clone();
    if span.is_valid() { vec![Link::with_context(span)] } else { Vec::new() }
}

/// Starts a span named `name` of `kind` under `parent`.
pub fn start(
    tracer: &Tracer,
    name: impl Into<std::borrow::Cow<'static, str>>,
    kind: SpanKind,
    parent: &Context,
    attributes: Vec<KeyValue>,
) -> Context {
    let span = tracer.span_builder(name).with_kind(kind).with_attributes(attributes).start_with_context(tracer, parent);
    parent.with_span(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_reads_back_as_the_same_span() {
        let value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = from_traceparent(value);
        assert!(context.span().span_context().is_valid());
        assert_eq!(traceparent(&context).as_deref(), Some(value));
        assert!(!from_traceparent("garbage").span().span_context().is_valid());
        assert!(link_to_caller(Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01")).is_empty());
    }
}
