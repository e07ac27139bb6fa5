//! How each process's connections commit: durably for web and admin (what they store is
//! acknowledged to a caller), relaxed for the worker (everything it writes can be derived again
//! from committed messages), read back from the database's own settings.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use herald::config::{Database as DatabaseConfig, Pool};
use herald::db::{Commits, Database};
use std::time::Duration;
use testkit::{Backend, TestDb, on_backends};

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    value: String,
}

/// The setting that says whether a commit waits for the disk, on a connection of a pool built
/// to commit as `commits` says.
async fn setting(test_db: &TestDb, commits: Commits) -> String {
    let pool = Pool { max_size: 1, connect_timeout: Duration::from_secs(10), acquire_timeout: Duration::from_secs(10) };
    let db =
        Database::connect_lazy_committing(&DatabaseConfig { url: test_db.url.clone(), pool }, commits).expect("pool");
    read(&db, test_db.backend).await.expect("read the setting")
}

async fn read(db: &Database, backend: Backend) -> Result<String, herald::db::DbError> {
    let sql = match backend {
        Backend::Postgres => "SELECT current_setting('synchronous_commit') AS value",
        // 1 = NORMAL, 2 = FULL.
        _ => "SELECT CAST(synchronous AS TEXT) AS value FROM pragma_synchronous",
    };
    let rows: Vec<Setting> = herald::with_conn!(db, c => diesel::sql_query(sql).load(c).await)?;
    Ok(rows.into_iter().next().map(|r| r.value).unwrap_or_default())
}

on_backends! {
    [Sqlite, Postgres]
    async fn the_worker_commits_relaxed_and_web_durably(backend) {
        let Some(test_db) = TestDb::create(backend).await else { return };
        let (durable, relaxed) = match backend {
            Backend::Postgres => ("on", "off"),
            _ => ("2", "1"),
        };
        assert_eq!(setting(&test_db, Commits::Durable).await, durable, "{}", backend.name());
        assert_eq!(setting(&test_db, Commits::Relaxed).await, relaxed, "{}", backend.name());
    }
}
