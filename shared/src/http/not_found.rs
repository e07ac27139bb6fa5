//! The answer for routes that do not exist: a JSON error body like every other error.

use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde_json::json;

/// Most bytes of an unrouted request body that are read (and dropped) before answering.
const DRAIN_LIMIT: usize = 1 << 20;

/// Answers 404 with `{"code", "detail"}`. The body is read first (up to a limit): answering
/// while a client is still sending makes many HTTP/1.1 clients see a reset instead of the 404.
pub async fn not_found(mut body: web::Payload) -> HttpResponse {
    let mut read = 0usize;
    while read < DRAIN_LIMIT {
        match body.next().await {
            Some(Ok(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
    HttpResponse::NotFound().json(json!({ "code": "not_found", "detail": "Entity not found" }))
}
