//! Schema migrations, embedded in the binaries, one folder per backend. Only `herald-admin` runs
//! them, under a database lock so that two runs at once are safe; web and worker only compare
//! the applied versions with the embedded ones to report readiness.

use super::{Backend, Conn, Database, DbError, backend_of};
use crate::with_conn;
use diesel::QueryableByName;
use diesel::migration::{Migration, MigrationSource};
use diesel_async::AsyncMigrationHarness;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::time::Duration;

const POSTGRES: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
const MYSQL: EmbeddedMigrations = embed_migrations!("../migrations/mysql");
const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

/// The advisory lock key that serialises migration runs on Postgres ("herald" in ASCII).
pub const PG_LOCK_KEY: i64 = 0x6865_7261_6c64;
/// The named lock that serialises migration runs on MySQL/MariaDB.
pub const MYSQL_LOCK: &str = "herald_migrations";

/// The embedded migration versions for a backend, oldest first.
pub fn embedded_versions(backend: Backend) -> Vec<String> {
    fn versions<DB: diesel::backend::Backend>(source: &EmbeddedMigrations) -> Vec<String>
    where
        EmbeddedMigrations: MigrationSource<DB>,
    {
        MigrationSource::<DB>::migrations(source)
            .map(|list| list.iter().map(|m| m.name().version().to_string()).collect())
            .unwrap_or_default()
    }
    let mut list = match backend {
        Backend::Postgres => versions::<diesel::pg::Pg>(&POSTGRES),
        Backend::Mysql => versions::<diesel::mysql::Mysql>(&MYSQL),
        Backend::Sqlite => versions::<diesel::sqlite::Sqlite>(&SQLITE),
    };
    list.sort();
    list
}

/// Applied and pending migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Versions applied, oldest first.
    pub applied: Vec<String>,
    /// Embedded versions not yet applied, oldest first.
    pub pending: Vec<String>,
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// Reads which migrations are applied. A database that was never migrated has none.
pub async fn status(db: &Database) -> Result<MigrationStatus, DbError> {
    use diesel_async::RunQueryDsl;
    // Any connection failure must surface as an error, not as "never migrated".
    db.ping(std::time::Duration::from_secs(10)).await?;
    let query = diesel::sql_query("SELECT version FROM __diesel_schema_migrations");
    let rows: Vec<VersionRow> = with_conn!(db, c => query.load(c).await).unwrap_or_default();
    let mut applied: Vec<String> = rows.into_iter().map(|r| r.version).collect();
    applied.sort();
    let pending = embedded_versions(db.backend()).into_iter().filter(|v| !applied.contains(v)).collect();
    Ok(MigrationStatus { applied, pending })
}

fn migration_error(e: impl std::fmt::Display) -> DbError {
    DbError::Migration(e.to_string())
}

/// What a migration command does once it holds the lock.
#[derive(Debug, Clone, Copy)]
enum Step {
    Up,
    Down(usize),
}

fn run_step<H, DB>(harness: &mut H, source: fn() -> EmbeddedMigrations, step: Step) -> Result<Vec<String>, DbError>
where
    DB: diesel::backend::Backend,
    H: MigrationHarness<DB>,
    EmbeddedMigrations: MigrationSource<DB>,
{
    match step {
        Step::Up => harness
            .run_pending_migrations(source())
            .map(|done| done.iter().map(ToString::to_string).collect())
            .map_err(migration_error),
        Step::Down(n) => {
            let mut reverted = Vec::new();
            for _ in 0..n {
                if harness.applied_migrations().map_err(migration_error)?.is_empty() {
                    break;
                }
                reverted.push(harness.revert_last_migration(source()).map_err(migration_error)?.to_string());
            }
            Ok(reverted)
        }
    }
}

/// Applies every pending migration; returns the versions applied (none when already current).
/// Waits up to `lock_wait` for another migration to finish; past that, fails changing nothing.
pub async fn up(db: &Database, url: &str, lock_wait: Duration) -> Result<Vec<String>, DbError> {
    locked(db, url, Step::Up, lock_wait).await
}

/// Reverts the last `steps` migrations; returns the versions reverted, newest first. Waits for
/// the lock like [`up`].
pub async fn down(db: &Database, url: &str, steps: usize, lock_wait: Duration) -> Result<Vec<String>, DbError> {
    locked(db, url, Step::Down(steps), lock_wait).await
}

/// The error when another migration held the lock for all of `lock_wait`.
fn lock_not_taken(lock_wait: Duration) -> DbError {
    DbError::Migration(format!(
        "another migration held the migration lock for {}s; nothing was changed (retry, or raise --lock-timeout)",
        lock_wait.as_secs()
    ))
}

/// One row of `SELECT GET_LOCK(…) AS taken`: 1 taken, 0 timed out, NULL on an error.
#[derive(QueryableByName)]
struct LockTaken {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    taken: Option<i32>,
}

/// The answer of `pg_try_advisory_lock`.
#[derive(QueryableByName)]
struct TryTaken {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    taken: bool,
}

/// How often a Postgres migration asks again for the lock another one holds.
const LOCK_POLL: Duration = Duration::from_millis(100);

async fn locked(db: &Database, url: &str, step: Step, lock_wait: Duration) -> Result<Vec<String>, DbError> {
    use diesel_async::RunQueryDsl;
    match (backend_of(url)?, db.get().await?) {
        (Backend::Postgres, Conn::Postgres(mut conn)) => {
            // Asked for again and again, never waited for inside a statement: a statement waiting
            // for the lock would hold a snapshot, and CREATE INDEX CONCURRENTLY in the migration
            // running under the lock waits for every snapshot older than its own to end (a
            // deadlock Postgres breaks by failing one side).
            let deadline = std::time::Instant::now() + lock_wait;
            loop {
                let taken: Vec<TryTaken> =
                    diesel::sql_query(format!("SELECT pg_try_advisory_lock({PG_LOCK_KEY}) AS taken"))
                        .load(&mut conn)
                        .await?;
                if <[TryTaken]>::first(&taken).is_some_and(|t| t.taken) {
                    break;
                }
                if std::time::Instant::now() >= deadline {
                    return Err(lock_not_taken(lock_wait));
                }
                tokio::time::sleep(LOCK_POLL).await;
            }
            let mut harness = AsyncMigrationHarness::new(conn);
            let result = run_step(&mut harness, || POSTGRES, step);
            let mut conn = harness.into_inner();
            diesel::sql_query(format!("SELECT pg_advisory_unlock({PG_LOCK_KEY})")).execute(&mut conn).await?;
            result
        }
        (Backend::Mysql, Conn::Mysql(mut conn)) => {
            // GET_LOCK answers 0 when the wait ran out: then the migration must not run.
            let taken: Vec<LockTaken> =
                diesel::sql_query(format!("SELECT GET_LOCK('{MYSQL_LOCK}', {}) AS taken", lock_wait.as_secs()))
                    .load(&mut conn)
                    .await?;
            if <[LockTaken]>::first(&taken).and_then(|t| t.taken) != Some(1) {
                return Err(lock_not_taken(lock_wait));
            }
            let mut harness = AsyncMigrationHarness::new(conn);
            let result = run_step(&mut harness, || MYSQL, step);
            let mut conn = harness.into_inner();
            diesel::sql_query(format!("SELECT RELEASE_LOCK('{MYSQL_LOCK}')")).execute(&mut conn).await?;
            result
        }
        (Backend::Sqlite, Conn::Sqlite(mut conn)) => {
            // SQLite's lock is the database file itself: an exclusive transaction around the whole
            // run makes a second migrator wait (busy_timeout) and then find nothing to do.
            conn.spawn_blocking(move |c| {
                let wait = diesel::sql_query(format!("PRAGMA busy_timeout = {}", lock_wait.as_millis()));
                diesel::RunQueryDsl::execute(wait, c)?;
                Ok(c.exclusive_transaction(|c| run_step(c, || SQLITE, step)))
            })
            .await?
            .map_err(|e| match e {
                // busy_timeout ran out: another migration (or writer) held the file.
                DbError::Unavailable(e) if e.contains("database is locked") => lock_not_taken(lock_wait),
                other => other,
            })
        }
        _ => unreachable!("the pool was built from the same url"),
    }
}

#[cfg(test)]
mod tests {
    /// Each backend's migration names, sorted.
    fn names(backend: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(backend);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_backend_has_the_same_migrations() {
        // One schema: a step that one backend does not need is still there, doing nothing, so
        // a version means the same schema everywhere.
        let postgres = names("postgres");
        assert_eq!(names("mysql"), postgres, "mysql");
        assert_eq!(names("sqlite"), postgres, "sqlite");
    }
}
