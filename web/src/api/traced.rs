//! A span per API request, when tracing is on: named for its route, with its method and status,
//! linked (not parented) to a `traceparent` the caller sent. Handlers start their own spans
//! under it from the request's [`RequestTrace`].

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use herald::context::Context;
use herald::http::request_log::method_label;
use herald::telemetry::{attribute, link_to_caller};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};

/// The request's span, for handlers to start theirs under.
#[derive(Clone)]
pub struct RequestTrace(pub opentelemetry::Context);

/// Middleware body (use with `actix_web::middleware::from_fn`).
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let tracer = req.app_data::<web::Data<Context>>().and_then(|c| c.telemetry.tracer().cloned());
    let Some(tracer) = tracer else { return next.call(req).await };
    let method = method_label(req.method());
    let caller = req.headers().get("traceparent").and_then(|v| v.to_str().ok());
    let span = tracer
        .span_builder(method)
        .with_kind(SpanKind::Server)
        .with_attributes(vec![KeyValue::new(attribute::METHOD, method)])
        .with_links(link_to_caller(caller))
        .start(&tracer);
    let context = opentelemetry::Context::new().with_span(span);
    req.extensions_mut().insert(RequestTrace(context.clone()));
    let answer = next.call(req).await;
    let span = context.span();
    match &answer {
        Ok(response) => {
            let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
            span.update_name(format!("{method} {route}"));
            span.set_attribute(KeyValue::new(attribute::ROUTE, route));
            let status = response.status().as_u16();
            span.set_attribute(KeyValue::new(attribute::STATUS_CODE, i64::from(status)));
            if status >= 500 {
                span.set_status(Status::error("server error"));
            }
        }
        Err(e) => span.set_status(Status::error(e.to_string())),
    }
    span.end();
    answer
}
