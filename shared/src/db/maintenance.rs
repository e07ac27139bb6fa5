//! Bookkeeping of maintenance jobs in the `maintenance` table: a lease, so that of many workers
//! one at a time runs a job without a leader, and how far a job walking a table has got.

use super::schema::maintenance;
use super::{Database, DbError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// The job that prunes (its lease).
pub const PRUNE: &str = "prune";
/// How far emptying attempts' response bodies has got (an attempt id).
pub const RESPONSE_BODIES: &str = "prune.response_bodies";

/// Takes or renews `job`'s lease for `holder` until `until`: `true` when it is held now, i.e.
/// it had lapsed by `now` or `holder` held it already. One conditional update, so two processes
/// asking at once cannot both get it.
pub async fn take_lease(
    db: &Database,
    job: &str,
    holder: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> Result<bool, DbError> {
    let free = maintenance::held_until.lt(now).or(maintenance::holder.eq(holder));
    let target = maintenance::table.filter(maintenance::name.eq(job)).filter(free);
    let set = (maintenance::holder.eq(holder), maintenance::held_until.eq(until));
    Ok(crate::with_conn_retrying!(db, c => diesel::update(target).set(set).execute(c).await)? == 1)
}

/// Gives `job`'s lease back at once, if `holder` still has it.
pub async fn release_lease(db: &Database, job: &str, holder: &str) -> Result<(), DbError> {
    let target = maintenance::table.filter(maintenance::name.eq(job)).filter(maintenance::holder.eq(holder));
    let lapsed = chrono::DateTime::UNIX_EPOCH.naive_utc();
    crate::with_conn_retrying!(db, c => diesel::update(target).set(maintenance::held_until.eq(lapsed)).execute(c).await)?;
    Ok(())
}

/// Where `job` resumes: the last key it finished with, or empty to start at the beginning.
pub async fn resume_point(db: &Database, job: &str) -> Result<String, DbError> {
    let query = maintenance::table.filter(maintenance::name.eq(job)).select(maintenance::resume_after);
    Ok(crate::with_conn_retrying!(db, c => query.first::<String>(c).await.optional())?.unwrap_or_default())
}

/// One row of `SHOW autovacuum`.
#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    autovacuum: String,
}

/// Whether the database is Postgres with autovacuum turned off for the whole server: then
/// nothing vacuums `delivery` and `message`, and claims slow down as dead rows pile up in the due
/// index (measured by bench/soak.sh). `false` on the other backends.
pub async fn autovacuum_off(db: &Database) -> Result<bool, DbError> {
    let crate::db::Conn::Postgres(mut c) = db.get().await? else {
        return Ok(false);
    };
    let rows: Vec<Setting> = diesel::sql_query("SHOW autovacuum").load(&mut *c).await?;
    Ok(<[Setting]>::first(&rows).is_some_and(|s| s.autovacuum == "off"))
}
