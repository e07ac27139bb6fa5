//! The management API under `/api/v1`, compatible with Svix's. One module per resource.

mod application;
mod attempt;
mod auth;
mod delivery;
mod endpoint;
mod enforce;
mod error;
mod event_type;
mod extract;
mod health;
mod idempotency;
mod message;
mod openapi;
mod page;
mod portal;
mod traced;

use actix_web::web;

/// Room in a request body for a message's other fields beside the largest payload.
pub const BODY_OVERHEAD: usize = 64 * 1024;

/// Registers every API route under `/api/v1`, with the JSON and query readers configured.
pub fn routes(cfg: &mut web::ServiceConfig, max_body_bytes: usize) {
    cfg.configure(openapi::docs_route).service(
        web::scope("/api/v1")
            .wrap(actix_web::middleware::from_fn(idempotency::idempotency))
            .wrap(actix_web::middleware::from_fn(extract::reject_oversized))
            .wrap(actix_web::middleware::from_fn(traced::request_span))
            .app_data(extract::json_config(max_body_bytes))
            .app_data(extract::query_config())
            .configure(openapi::routes)
            .configure(health::routes)
            .configure(application::routes)
            .configure(event_type::routes)
            .configure(endpoint::routes)
            .configure(message::routes)
            .configure(attempt::routes)
            .configure(delivery::routes)
            .configure(portal::routes),
    );
}
