//! `/api/v1/health` and `/api/v1/health/ping`, as Svix's SDKs call them (no token needed).

use actix_web::{HttpResponse, web};
use herald::context::Context;
use herald::http::readiness_report;

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/health/ping", web::get().to(ping))
        .route("/health/ping", web::head().to(ping));
}

/// 204 when the server can serve the API, 503 with the failing checks otherwise.
async fn health(context: web::Data<Context>) -> HttpResponse {
    match readiness_report(&context).await {
        (true, _) => HttpResponse::NoContent().finish(),
        (false, body) => HttpResponse::ServiceUnavailable().json(body),
    }
}

/// 204 whenever the server answers at all.
async fn ping() -> HttpResponse {
    HttpResponse::NoContent().finish()
}
