//! Per-endpoint rate limits shared by every worker: a one-second window per endpoint in the
//! database, counted with conditional updates so concurrent workers never exceed it together.

use super::schema::endpoint_rate;
use super::{Database, DbError};
use crate::with_conn;
use chrono::{NaiveDateTime, SubsecRound};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// Takes one send for `endpoint_id` in the current one-second window if fewer than `limit` were
/// taken; `Err` carries nothing, `Ok(None)` means go, `Ok(Some(t))` means wait until `t`.
pub async fn take_slot(
    db: &Database,
    endpoint_id: &str,
    limit: i32,
    now: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, DbError> {
    let window = now.trunc_subsecs(0);
    let next_window = window + chrono::Duration::seconds(1);
    for _ in 0..3 {
        let same_window = endpoint_rate::table
            .filter(endpoint_rate::endpoint_id.eq(endpoint_id))
            .filter(endpoint_rate::window_start.eq(window))
            .filter(endpoint_rate::count.lt(limit));
        let counted = with_conn!(db, c => diesel::update(same_window).set(endpoint_rate::count.eq(endpoint_rate::count + 1)).execute(c).await)?;
        if counted == 1 {
            return Ok(None);
        }
        let old_window = endpoint_rate::table
            .filter(endpoint_rate::endpoint_id.eq(endpoint_id))
            .filter(endpoint_rate::window_start.lt(window));
        let moved = with_conn!(db, c => diesel::update(old_window)
            .set((endpoint_rate::window_start.eq(window), endpoint_rate::count.eq(1)))
            .execute(c)
            .await)?;
        if moved == 1 {
            return Ok(None);
        }
        let exists: i64 = with_conn!(db, c => endpoint_rate::table
            .filter(endpoint_rate::endpoint_id.eq(endpoint_id))
            .count()
            .get_result(c)
            .await)?;
        if exists > 0 {
            // This window is full (or another worker just moved it): wait for the next one.
            return Ok(Some(next_window));
        }
        let row = (
            endpoint_rate::endpoint_id.eq(endpoint_id),
            endpoint_rate::window_start.eq(window),
            endpoint_rate::count.eq(1),
        );
        match with_conn!(db, c => diesel::insert_into(endpoint_rate::table).values(row).execute(c).await) {
            Ok(_) => return Ok(None),
            Err(e) => match DbError::from(e) {
                DbError::Conflict(_) => continue, // another worker created it first: count again
                other => return Err(other),
            },
        }
    }
    Ok(Some(next_window))
}
