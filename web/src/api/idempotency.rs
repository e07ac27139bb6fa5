//! `Idempotency-Key` on every POST: a repeat with the same key and token gets the first
//! response (status and body) for 12 hours, and concurrent duplicates do the work once.

use super::error::ApiError;
use super::page::now;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use herald::context::Context;
use herald::db::Database;
use herald::db::idempotency::{Claim, DONE, IdempotencyRow, claim, complete, release};
use std::time::Duration;

/// How long a key is remembered.
const KEEP: chrono::Duration = chrono::Duration::hours(12);
/// A claim older than this that never completed belongs to a request that died; take it over.
const ABANDONED: chrono::Duration = chrono::Duration::seconds(60);
/// How often a duplicate checks whether the first request has finished.
const POLL: Duration = Duration::from_millis(25);
/// Longest a key may be: Svix's limit.
const MAX_KEY: usize = 256;

fn key_hash(credentials: &str, path: &str, key: &str) -> String {
    herald::token::hash_secret(&format!("{credentials}\n{path}\n{key}"))
}

/// The claim, run on its own task so that a dropped request cannot cut a database call short.
async fn claim_key(db: &Database, row: IdempotencyRow) -> Result<Claim, ApiError> {
    let db = db.clone();
    actix_web::rt::spawn(async move { claim(&db, &row).await })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)
}

fn replay(row: &IdempotencyRow) -> HttpResponse {
    let status = row.response_status.and_then(|s| u16::try_from(s).ok()).unwrap_or(200);
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default());
    response.insert_header((CONTENT_TYPE, row.response_headers.clone().unwrap_or_else(|| "application/json".into())));
    response.insert_header(("idempotent-replayed", "true"));
    response.body(row.response_body.clone().unwrap_or_default())
}

/// Middleware body (with `actix_web::middleware::from_fn`).
pub async fn idempotency(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let credentials = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let context = req.app_data::<web::Data<Context>>().cloned();
    let (Some(key), Some(credentials), Some(context), true) = (key, credentials, context, req.method() == Method::POST)
    else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    if key.is_empty() || key.len() > MAX_KEY {
        let error = ApiError::BadRequest(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_KEY} characters"),
        );
        return Ok(req.into_response(error.error_response()));
    }
    let hash = key_hash(&credentials, req.path(), &key);
    let scope =
        herald::token::parse(credentials.trim_start_matches("Bearer ").trim()).map(|(id, _)| id).unwrap_or_default();
    loop {
        let at = now();
        let row = IdempotencyRow {
            key_hash: hash.clone(),
            org_id: scope.clone(),
            state: 0,
            response_status: None,
            response_body: None,
            response_headers: None,
            created_at: at,
            expires_at: at + KEEP,
        };
        match claim_key(&context.db, row).await {
            Err(error) => return Ok(req.into_response(error.error_response())),
            Ok(Claim::Existing(found))
                if found.expires_at <= at || (found.state != DONE && found.created_at < at - ABANDONED) =>
            {
                release(&context.db, &hash).await.map_err(ApiError::from)?;
            }
            Ok(Claim::Existing(found)) if found.state == DONE => return Ok(req.into_response(replay(&found))),
            // Claimed by a request still running (or just released): look again shortly.
            Ok(Claim::Existing(_)) => actix_web::rt::time::sleep(POLL).await,
            Ok(Claim::Claimed) => {
                let response = next.call(req).await?;
                let status = response.status();
                let content_type = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/json")
                    .to_owned();
                let (request, response) = response.into_parts();
                let bytes = actix_web::body::to_bytes(response.into_body())
                    .await
                    .map_err(|_| ApiError::Internal("response body".into()))?;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                // A failure on Herald's side is not an answer to remember: let a retry do the work.
                let stored = if status.is_server_error() {
                    release(&context.db, &hash).await
                } else {
                    complete(&context.db, &hash, i32::from(status.as_u16()), &text, &content_type).await
                };
                if let Err(e) = stored {
                    slog_scope::warn!("idempotency key not stored"; "error" => e.to_string());
                }
                let mut rebuilt = HttpResponse::build(status);
                rebuilt.insert_header((CONTENT_TYPE, content_type));
                let mut rebuilt = rebuilt.body(bytes);
                if let Ok(value) = HeaderValue::from_str("false") {
                    rebuilt.headers_mut().insert(HeaderName::from_static("idempotent-replayed"), value);
                }
                return Ok(ServiceResponse::new(request, rebuilt));
            }
        }
    }
}
