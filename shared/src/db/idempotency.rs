//! Stored responses for `Idempotency-Key`: the first request with a key claims it, later ones with
//! the same key get the stored response instead of doing the work again.
//!
//! A claim is held by one request (its random `claim_id`) until `lease_until`, renewed while the
//! request runs, so a claim whose holder died lapses within seconds and exactly one waiting retry
//! takes it over (a compare-and-set on the old claim id). Completing a key also checks the claim
//! id: work that stores its result in the same transaction as the key's completion is done once per
//! key whatever crashes when, because a request that lost its claim rolls its work back.

use super::schema::idempotency_key;
use super::{Database, DbError};
use crate::with_conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub use crate::model::status::KeyState;

/// A key as stored.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = idempotency_key)]
pub struct IdempotencyRow {
    /// SHA-256 (hex) of the caller's credentials, the route and the key.
    pub key_hash: String,
    /// Who made it: the id of the token that sent it.
    pub org_id: String,
    /// Whether a request is working on it or its response is stored.
    pub state: KeyState,
    /// Stored response status.
    pub response_status: Option<i32>,
    /// Stored response body.
    pub response_body: Option<String>,
    /// Stored response content type.
    pub response_headers: Option<String>,
    /// Claimed at.
    pub created_at: NaiveDateTime,
    /// Forgotten after.
    pub expires_at: NaiveDateTime,
    /// The request holding the key.
    pub claim_id: String,
    /// The holder's claim lapses at this time unless renewed.
    pub lease_until: NaiveDateTime,
}

/// The outcome of claiming a key.
#[derive(Debug)]
pub enum Claim {
    /// The key is ours: do the work, then [`complete`] or [`release`].
    Claimed,
    /// Someone had it already.
    Existing(IdempotencyRow),
}

/// Which claim of which key a request holds.
#[derive(Debug, Clone)]
pub struct KeyClaim {
    /// The key.
    pub key_hash: String,
    /// The holder.
    pub claim_id: String,
}

/// A response to store for a key.
#[derive(Debug, Clone, Copy)]
pub struct StoredResponse<'a> {
    /// HTTP status.
    pub status: i32,
    /// Body text.
    pub body: &'a str,
    /// Content type.
    pub content_type: &'a str,
}

/// Claims `row.key_hash`, or returns whoever holds it.
pub async fn claim(db: &Database, row: &IdempotencyRow) -> Result<Claim, DbError> {
    match with_conn!(db, c => diesel::insert_into(idempotency_key::table).values(row).execute(c).await) {
        Ok(_) => Ok(Claim::Claimed),
        Err(e) => match DbError::from(e) {
            DbError::Conflict(_) => {
                let query = idempotency_key::table.filter(idempotency_key::key_hash.eq(&row.key_hash));
                let found: Option<IdempotencyRow> = with_conn!(db, c => query.first(c).await.optional())?;
                match found {
                    Some(found) => Ok(Claim::Existing(found)),
                    // Gone between the insert and the read (released or pruned): try again.
                    None => Box::pin(claim(db, row)).await,
                }
            }
            other => Err(other),
        },
    }
}

/// The key as stored now, if it is.
pub async fn find(db: &Database, key_hash: &str) -> Result<Option<IdempotencyRow>, DbError> {
    let query = idempotency_key::table.filter(idempotency_key::key_hash.eq(key_hash));
    Ok(with_conn!(db, c => query.first(c).await.optional())?)
}

/// Takes over a key whose claim lapsed (or whose stored response expired), as `row` describes
/// the new claim: only while it is still exactly as `seen` (same holder, same state), so of
/// several requests trying at once one wins. True when this request won.
pub async fn take_over(db: &Database, seen: &IdempotencyRow, row: &IdempotencyRow) -> Result<bool, DbError> {
    let target = idempotency_key::table
        .filter(idempotency_key::key_hash.eq(&seen.key_hash))
        .filter(idempotency_key::claim_id.eq(&seen.claim_id))
        .filter(idempotency_key::state.eq(seen.state));
    let update = diesel::update(target).set((
        idempotency_key::state.eq(KeyState::InProgress),
        idempotency_key::claim_id.eq(&row.claim_id),
        idempotency_key::lease_until.eq(row.lease_until),
        idempotency_key::created_at.eq(row.created_at),
        idempotency_key::expires_at.eq(row.expires_at),
        idempotency_key::response_status.eq(None::<i32>),
        idempotency_key::response_body.eq(None::<String>),
        idempotency_key::response_headers.eq(None::<String>),
    ));
    Ok(with_conn!(db, c => update.execute(c).await)? == 1)
}

/// Extends a claim this request still holds; false when it was taken over.
pub async fn renew(db: &Database, held: &KeyClaim, lease_until: NaiveDateTime) -> Result<bool, DbError> {
    let target = idempotency_key::table
        .filter(idempotency_key::key_hash.eq(&held.key_hash))
        .filter(idempotency_key::claim_id.eq(&held.claim_id))
        .filter(idempotency_key::state.eq(KeyState::InProgress));
    Ok(with_conn!(db, c => diesel::update(target).set(idempotency_key::lease_until.eq(lease_until)).execute(c).await)?
        == 1)
}

/// The statement storing a response for the key a request holds (`&KeyClaim`,
/// `StoredResponse`): run it in the transaction that stores the request's work, so both commit
/// together; it updates no row when the claim was lost, and the caller must then roll back.
macro_rules! completion {
    ($held:expr, $response:expr) => {{
        use $crate::db::schema::idempotency_key as k;
        let (held, response): (&$crate::db::idempotency::KeyClaim, $crate::db::idempotency::StoredResponse) =
            ($held, $response);
        let target = k::table
            .filter(k::key_hash.eq(held.key_hash.as_str()))
            .filter(k::claim_id.eq(held.claim_id.as_str()))
            .filter(k::state.eq($crate::model::status::KeyState::InProgress));
        diesel::update(target).set((
            k::state.eq($crate::model::status::KeyState::Done),
            k::response_status.eq(Some(response.status)),
            k::response_body.eq(Some(response.body)),
            k::response_headers.eq(Some(response.content_type)),
        ))
    }};
}
pub(crate) use completion;

/// Stores the response for a key this request holds (work that needs no transaction with it:
/// an error answer, or a resource whose creation is not keyed). False when the claim was lost.
pub async fn complete(db: &Database, held: &KeyClaim, response: StoredResponse<'_>) -> Result<bool, DbError> {
    Ok(with_conn!(db, c => completion!(held, response).execute(c).await)? == 1)
}

/// Forgets a key this request holds (its work failed on Herald's side): a retry does the work.
pub async fn release(db: &Database, held: &KeyClaim) -> Result<(), DbError> {
    let target = idempotency_key::table
        .filter(idempotency_key::key_hash.eq(&held.key_hash))
        .filter(idempotency_key::claim_id.eq(&held.claim_id))
        .filter(idempotency_key::state.eq(KeyState::InProgress));
    with_conn!(db, c => diesel::delete(target).execute(c).await)?;
    Ok(())
}
