//! Queries on API tokens.

use super::schema::api_token;
use super::{Database, DbError};
use crate::model::ids::AppId;
use crate::with_conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// An API token as stored (the hash, never the token).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_token)]
pub struct TokenRow {
    /// `tok_…`
    pub id: String,
    /// The organisation it acts for.
    pub org_id: String,
    /// A label for humans.
    pub name: String,
    /// SHA-256 of the token's secret part.
    pub token_hash: String,
    /// Set for tokens scoped to one application.
    pub app_id: Option<AppId>,
    /// Created.
    pub created_at: NaiveDateTime,
    /// Stops working at.
    pub expires_at: Option<NaiveDateTime>,
    /// Revoked at.
    pub revoked_at: Option<NaiveDateTime>,
}

/// Stores a new token.
pub async fn insert_token(db: &Database, row: &TokenRow) -> Result<(), DbError> {
    with_conn!(db, c => diesel::insert_into(api_token::table).values(row).execute(c).await)?;
    Ok(())
}

/// The token with this id, revoked or not.
pub async fn find_token(db: &Database, id: &str) -> Result<Option<TokenRow>, DbError> {
    let query = api_token::table.filter(api_token::id.eq(id));
    Ok(crate::with_conn_retrying!(db, c => query.first(c).await.optional())?)
}

/// Every token, optionally of one organisation, oldest first.
pub async fn list_tokens(db: &Database, org: Option<&str>) -> Result<Vec<TokenRow>, DbError> {
    let all = api_token::table.order(api_token::id.asc());
    Ok(match org {
        Some(org) => crate::with_conn_retrying!(db, c => all.filter(api_token::org_id.eq(org)).load(c).await)?,
        None => crate::with_conn_retrying!(db, c => all.load(c).await)?,
    })
}

/// Marks a token revoked; false when no such token exists.
pub async fn revoke_token(db: &Database, id: &str, at: NaiveDateTime) -> Result<bool, DbError> {
    let update = diesel::update(api_token::table.filter(api_token::id.eq(id))).set(api_token::revoked_at.eq(Some(at)));
    Ok(with_conn!(db, c => update.execute(c).await)? > 0)
}
