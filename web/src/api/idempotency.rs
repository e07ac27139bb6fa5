//! `Idempotency-Key` on every POST: a repeat with the same key and token gets the first
//! response (status and body) for 12 hours, and concurrent duplicates do the work once.
//!
//! The caller is authenticated before anything is stored: a request without a valid token writes
//! nothing. The first request claims the key for a short lease it renews while it runs; a
//! duplicate waits for it and replays its response. A claim whose request died (its process was
//! killed) lapses within [`LEASE`], and exactly one waiting retry takes it over. A duplicate reads
//! the key while it waits (backing off), and inserts only when it is not there. Handlers whose
//! work must happen once per key (message creation) store the key's response in the same
//! transaction as their work and mark the response [`KeyCompleted`]: then a crash at any instant
//! leaves either both or neither.

use super::auth::{Caller, authenticate_request};
use super::error::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use herald::clock::now;
use herald::context::Context;
use herald::db::Database;
use herald::db::idempotency::{
    Claim, IdempotencyRow, KeyClaim, KeyState, StoredResponse, claim, complete, find, release, renew, take_over,
};
use herald::http::ServerFault;
use herald::model::ids::new_id;
use std::time::{Duration, Instant};

/// How long a key is remembered.
const KEEP: chrono::Duration = chrono::Duration::hours(12);
/// How long a claim lasts unless renewed: the longest a retry waits behind a request that died.
/// Well past the pool's and SQLite's 10 s waits, so a live request's renewal that had to wait for
/// a connection still lands in time.
const LEASE: Duration = Duration::from_secs(15);
/// How often a running request renews its claim.
const RENEW: Duration = Duration::from_secs(4);
/// How often a duplicate looks whether the first request has finished: first, and at most.
const POLL: (Duration, Duration) = (Duration::from_millis(25), Duration::from_millis(500));
/// Longest a duplicate waits for a request that is still running before answering 409.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Longest a key may be: Svix's limit.
const MAX_KEY: usize = 256;

/// Put in a response's extensions by a handler that stored the key's response itself, in the
/// transaction of its work.
#[derive(Debug, Clone, Copy)]
pub struct KeyCompleted;

fn key_hash(token_id: &str, path: &str, key: &str) -> String {
    herald::token::hash_secret(&format!("{token_id}\n{path}\n{key}"))
}

/// Runs a database call on its own task, so that a dropped request cannot cut it short.
async fn detached<T: Send + 'static>(
    call: impl Future<Output = Result<T, herald::db::DbError>> + Send + 'static,
) -> Result<T, ApiError> {
    actix_web::rt::spawn(call).await.map_err(|e| ApiError::Internal(e.to_string()))?.map_err(ApiError::from)
}

fn replay(row: &IdempotencyRow) -> HttpResponse {
    let status = row.response_status.and_then(|s| u16::try_from(s).ok()).unwrap_or(200);
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default());
    response.insert_header((CONTENT_TYPE, row.response_headers.clone().unwrap_or_else(|| "application/json".into())));
    response.insert_header(("idempotent-replayed", "true"));
    response.body(row.response_body.clone().unwrap_or_default())
}

/// A new claim of `held` for the caller's organisation, made at `at`.
fn claim_row(held: &KeyClaim, org_id: &str, at: chrono::NaiveDateTime) -> IdempotencyRow {
    IdempotencyRow {
        key_hash: held.key_hash.clone(),
        org_id: org_id.to_owned(),
        state: KeyState::InProgress,
        response_status: None,
        response_body: None,
        response_headers: None,
        created_at: at,
        expires_at: at + KEEP,
        claim_id: held.claim_id.clone(),
        lease_until: at + chrono::Duration::from_std(LEASE).unwrap_or_default(),
    }
}

/// What a request with a key does: the work (the key is ours now), or answer with a stored
/// response or an error.
enum Turn {
    Work,
    Answer(HttpResponse),
}

/// Claims the key, waiting for a running duplicate to finish and taking over a lapsed claim.
async fn take_turn(db: &Database, held: &KeyClaim, org_id: &str) -> Result<Turn, ApiError> {
    let waited = Instant::now();
    let mut poll = POLL.0;
    // Only when the key is not there is it inserted; while another request holds it, it is read.
    let mut seen: Option<IdempotencyRow> = None;
    loop {
        let at = now();
        let row = claim_row(held, org_id, at);
        let found = match seen.take() {
            Some(found) => found,
            None => match detached({
                let (db, row) = (db.clone(), row.clone());
                async move { claim(&db, &row).await }
            })
            .await?
            {
                Claim::Claimed => return Ok(Turn::Work),
                Claim::Existing(found) => found,
            },
        };
        let lapsed = found.expires_at <= at || (found.state != KeyState::Done && found.lease_until < at);
        if lapsed {
            let db = db.clone();
            if detached(async move { take_over(&db, &found, &row).await }).await? {
                return Ok(Turn::Work);
            }
            continue; // another retry took it first: look again
        }
        if found.state == KeyState::Done {
            return Ok(Turn::Answer(replay(&found)));
        }
        if waited.elapsed() > MAX_WAIT {
            let detail = "A request with this Idempotency-Key is still being processed; retry later";
            return Ok(Turn::Answer(ApiError::Conflict(detail.into()).error_response()));
        }
        actix_web::rt::time::sleep(poll).await;
        poll = (poll * 2).min(POLL.1);
        let (db, key_hash) = (db.clone(), held.key_hash.clone());
        seen = detached(async move { find(&db, &key_hash).await }).await?;
    }
}

/// Runs `work`, while a task of its own renews the claim `held` every [`RENEW`] (a renewal that
/// waits for a connection never holds the work up); the renewals stop when the work is done.
async fn renewing<T>(db: &Database, held: &KeyClaim, work: impl Future<Output = T>) -> T {
    let (db, held) = (db.clone(), held.clone());
    let renewals = actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(RENEW).await;
            let lease_until = now() + chrono::Duration::from_std(LEASE).unwrap_or_default();
            match renew(&db, &held, lease_until).await {
                Ok(true) => {}
                // Taken over: the work's own completion will find that out.
                Ok(false) => return,
                Err(e) => slog_scope::warn!("renewing an idempotency key's claim failed"; "error" => e.to_string()),
            }
        }
    });
    let done = work.await;
    renewals.abort();
    done
}

/// Middleware body (with `actix_web::middleware::from_fn`).
pub async fn idempotency(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let context = req.app_data::<web::Data<Context>>().cloned();
    let (Some(key), Some(context), true) = (key, context, req.method() == Method::POST) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    if key.is_empty() || key.len() > MAX_KEY {
        let error = ApiError::BadRequest(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_KEY} characters"),
        );
        return Ok(req.into_response(error.error_response()));
    }
    // Who is asking comes first: a request without a valid token stores nothing.
    let caller: Caller = match authenticate_request(req.request()).await {
        Ok(caller) => caller,
        Err(error) => return Ok(req.into_response(error.error_response())),
    };
    let held = KeyClaim { key_hash: key_hash(&caller.token_id, req.path(), &key), claim_id: new_id("claim") };
    match take_turn(&context.db, &held, &caller.org_id).await {
        Err(error) => return Ok(req.into_response(error.error_response())),
        Ok(Turn::Answer(response)) => return Ok(req.into_response(response)),
        Ok(Turn::Work) => {}
    }
    req.extensions_mut().insert(caller);
    req.extensions_mut().insert(held.clone());
    let response = renewing(&context.db, &held, next.call(req)).await?;
    let status = response.status();
    let completed = response.response().extensions().get::<KeyCompleted>().is_some();
    let fault = response.response().extensions().get::<ServerFault>().cloned();
    let content_type =
        response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json").to_owned();
    let (request, response) = response.into_parts();
    let bytes = actix_web::body::to_bytes(response.into_body())
        .await
        .map_err(|_| ApiError::Internal("response body".into()))?;
    // A failure on Herald's side is not an answer to remember: let a retry do the work. Stored on
    // a task of its own, so a client hanging up cannot cut it short.
    if !completed {
        let (db, text) = (context.db.clone(), String::from_utf8_lossy(&bytes).into_owned());
        let content_type = content_type.clone();
        let stored = detached(async move {
            if status.is_server_error() {
                return release(&db, &held).await;
            }
            let response =
                StoredResponse { status: i32::from(status.as_u16()), body: &text, content_type: &content_type };
            complete(&db, &held, response).await.map(|_| ())
        })
        .await;
        if let Err(e) = stored {
            slog_scope::warn!("idempotency key not stored"; "error" => e.to_string());
        }
    }
    let mut rebuilt = HttpResponse::build(status);
    rebuilt.insert_header((CONTENT_TYPE, content_type));
    let mut rebuilt = rebuilt.body(bytes);
    if let Some(fault) = fault {
        rebuilt.extensions_mut().insert(fault);
    }
    if let Ok(value) = HeaderValue::from_str("false") {
        rebuilt.headers_mut().insert(HeaderName::from_static("idempotent-replayed"), value);
    }
    Ok(ServiceResponse::new(request, rebuilt))
}
