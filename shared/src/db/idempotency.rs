//! Stored responses for `Idempotency-Key`: the first request with a key claims it, later ones with
//! the same key get the stored response instead of doing the work again.

use super::schema::idempotency_key;
use super::{Database, DbError};
use crate::with_conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// A key still being worked on.
pub const IN_PROGRESS: i16 = 0;
/// A key whose response is stored.
pub const DONE: i16 = 1;

/// A key as stored.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = idempotency_key)]
pub struct IdempotencyRow {
    /// SHA-256 (hex) of the caller's credentials, the route and the key.
    pub key_hash: String,
    /// Who made it: the id of the token that sent it.
    pub org_id: String,
    /// [`IN_PROGRESS`] or [`DONE`].
    pub state: i16,
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
}

/// The outcome of claiming a key.
#[derive(Debug)]
pub enum Claim {
    /// The key is ours: do the work, then [`complete`] or [`release`].
    Claimed,
    /// Someone had it already.
    Existing(IdempotencyRow),
}

/// Claims `row.key_hash`, or returns whoever holds it.
pub async fn claim(db: &Database, row: &IdempotencyRow) -> Result<Claim, DbError> {
    match with_conn!(db, c => diesel::insert_into(idempotency_key::table).values(row).execute(c).await) {
        Ok(_) => Ok(Claim::Claimed),
        Err(e) => match DbError::from(e) {
            DbError::Conflict(_) => {
                let query = idempotency_key::table.filter(idempotency_key::key_hash.eq(&row.key_hash));
                let found: Option<IdempotencyRow> = with_conn!(db, c => query.first(c).await.optional())?;
                // Gone between the insert and the read (released or pruned): report it as claimable.
                Ok(found.map_or(Claim::Existing(row.clone()), Claim::Existing))
            }
            other => Err(other),
        },
    }
}

/// Stores the response for a claimed key.
pub async fn complete(
    db: &Database,
    key_hash: &str,
    status: i32,
    body: &str,
    content_type: &str,
) -> Result<(), DbError> {
    let target = idempotency_key::table.filter(idempotency_key::key_hash.eq(key_hash));
    let update = diesel::update(target).set((
        idempotency_key::state.eq(DONE),
        idempotency_key::response_status.eq(Some(status)),
        idempotency_key::response_body.eq(Some(body)),
        idempotency_key::response_headers.eq(Some(content_type)),
    ));
    with_conn!(db, c => update.execute(c).await)?;
    Ok(())
}

/// Forgets a key (its work failed on Herald's side, or its claim was abandoned or expired).
pub async fn release(db: &Database, key_hash: &str) -> Result<(), DbError> {
    let target = idempotency_key::table.filter(idempotency_key::key_hash.eq(key_hash));
    with_conn!(db, c => diesel::delete(target).execute(c).await)?;
    Ok(())
}
