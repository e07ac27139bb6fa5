//! One log line per HTTP request, tied to a request id that the caller may supply.

use crate::metrics::Metrics;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use slog::{Logger, error, info, warn};
use std::sync::Arc;
use std::time::Instant;

/// The header carrying the request id, read from the caller and returned on the response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What went wrong on Herald's side, carried in a 5xx response's extensions (with the error's
/// whole chain) so that the request's one log line says it, with the request id.
#[derive(Debug, Clone)]
pub struct ServerFault {
    /// The error and its sources.
    pub error: String,
    /// Whether it is an outage to retry (a database unavailable) rather than a fault.
    pub unavailable: bool,
}

/// Longest caller-supplied request id honoured; longer ones are replaced.
const MAX_REQUEST_ID: usize = 128;

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= MAX_REQUEST_ID && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()))
}

/// The method as a metric label and log value: the standard ones by name, anything else (a
/// client can send any token as a method) as `other`, so no client can mint new series.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// One request's log line.
struct Line<'a> {
    method: &'static str,
    path: &'a str,
    id: &'a str,
    status: u16,
    started: Instant,
}

impl Line<'_> {
    /// Writes the line; a fault on Herald's side is that line, raised, saying what it was.
    fn write(&self, log: &Logger, fault: Option<&ServerFault>) {
        let Line { method, path, id, status, .. } = *self;
        let duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        match fault {
            None => info!(log, "request";
                "method" => method, "path" => path, "status" => status, "duration_ms" => duration_ms, "request_id" => id),
            Some(fault) if fault.unavailable => warn!(log, "request";
                "method" => method, "path" => path, "status" => status, "duration_ms" => duration_ms,
                "request_id" => id, "fault" => "database unavailable", "error" => &fault.error),
            Some(fault) => error!(log, "request";
                "method" => method, "path" => path, "status" => status, "duration_ms" => duration_ms,
                "request_id" => id, "fault" => "internal error", "error" => &fault.error),
        }
    }
}

/// Middleware body (use with `actix_web::middleware::from_fn`): logs method, path, status,
/// duration and request id, returns the id in `X-Request-Id`, and counts the request in
/// `metrics` by route pattern.
pub async fn request_log(
    log: Logger,
    metrics: Arc<Metrics>,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = method_label(req.method());
    let path = req.path().to_owned();
    let mut response = match next.call(req).await {
        Ok(response) => response,
        Err(failure) => {
            // An error from inside (a middleware's `?`): actix answers it after this returns;
            // say it here, with the request, as the answer it will be.
            let answer = failure.error_response();
            let line = Line { method, path: &path, id: &id, status: answer.status().as_u16(), started };
            line.write(&log, answer.extensions().get::<ServerFault>());
            return Err(failure);
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    metrics.record_request(method, &route, response.status().as_u16(), seconds);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    let line = Line { method, path: &path, id: &id, status: response.status().as_u16(), started };
    line.write(&log, response.response().extensions().get::<ServerFault>());
    Ok(response)
}
