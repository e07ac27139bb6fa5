//! A database of its own for each test, on each backend: random names on the shared Postgres
//! and MariaDB servers, a fresh file for SQLite. Dropped when the test ends.

use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl};
use herald::db::Backend;
use std::path::PathBuf;

/// Where the servers are; CI and developers can point elsewhere with these variables.
fn server_url(backend: Backend) -> String {
    let (var, default) = match backend {
        Backend::Postgres => ("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
        Backend::Mysql => ("TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"),
        Backend::Sqlite => return String::new(),
    };
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// Every backend, for tests that must run on all three.
pub fn backends() -> [Backend; 3] {
    [Backend::Postgres, Backend::Mysql, Backend::Sqlite]
}

/// A database that exists for one test.
pub struct TestDb {
    /// The backend.
    pub backend: Backend,
    /// The URL Herald's processes are given.
    pub url: String,
    name: String,
    file: Option<PathBuf>,
}

async fn admin_execute(backend: Backend, sql: &str) -> Result<(), String> {
    let base = server_url(backend);
    match backend {
        Backend::Postgres => {
            let mut c = AsyncPgConnection::establish(&format!("{base}/postgres")).await.map_err(|e| e.to_string())?;
            diesel::sql_query(sql).execute(&mut c).await.map(drop).map_err(|e| e.to_string())
        }
        Backend::Mysql => {
            let mut c = AsyncMysqlConnection::establish(&format!("{base}/")).await.map_err(|e| e.to_string())?;
            diesel::sql_query(sql).execute(&mut c).await.map(drop).map_err(|e| e.to_string())
        }
        Backend::Sqlite => Ok(()),
    }
}

impl TestDb {
    /// Creates a fresh database, or `None` when the server is unreachable outside CI (in CI an
    /// unreachable server fails the test: it must never pass by skipping).
    pub async fn create(backend: Backend) -> Option<TestDb> {
        let name = format!("herald_test_{:016x}", rand::random::<u64>());
        if backend == Backend::Sqlite {
            let file = crate::temp_dir("sqlite").join("herald.db");
            let url = format!("sqlite://{}", file.display());
            return Some(TestDb { backend, url, name, file: Some(file) });
        }
        match admin_execute(backend, &format!("CREATE DATABASE {name}")).await {
            Ok(()) => {
                let url = format!("{}/{name}", server_url(backend));
                Some(TestDb { backend, url, name, file: None })
            }
            Err(e) if !crate::in_ci() => {
                eprintln!("SKIP {}: server unreachable ({e}); CI=true makes this a failure", backend.name());
                None
            }
            Err(e) => panic!("{} is required in CI but unreachable: {e}", backend.name()),
        }
    }
}

impl TestDb {
    /// The database at `url` on a server the test started itself (its own Postgres, say), which
    /// goes away with that server: nothing is dropped here.
    pub fn on_own_server(backend: Backend, url: &str) -> TestDb {
        TestDb { backend, url: url.to_owned(), name: String::new(), file: None }
    }
}

/// One row of `SELECT COUNT(*) AS n`.
#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl TestDb {
    /// How many rows `table` has now, read straight from the database (for what the API does
    /// not show, such as stored idempotency keys).
    pub async fn count_rows(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        let rows: Vec<Count> = match self.backend {
            Backend::Postgres => {
                let mut c = AsyncPgConnection::establish(&self.url).await.expect("connect");
                diesel::sql_query(sql).load(&mut c).await.expect("count")
            }
            Backend::Mysql => {
                let mut c = AsyncMysqlConnection::establish(&self.url).await.expect("connect");
                diesel::sql_query(sql).load(&mut c).await.expect("count")
            }
            Backend::Sqlite => {
                use diesel::Connection;
                let path = self.file.as_ref().expect("sqlite file");
                let mut c = diesel::SqliteConnection::establish(&path.display().to_string()).expect("open");
                diesel::RunQueryDsl::load(diesel::sql_query(sql), &mut c).expect("count")
            }
        };
        <[Count]>::first(&rows).map_or(0, |r| r.n)
    }

    /// Runs one SQL statement straight on the database (to set up what the API cannot, such as
    /// a corrupt row); returns the rows it changed.
    pub async fn execute(&self, sql: &str) -> usize {
        let query = diesel::sql_query(sql);
        match self.backend {
            Backend::Postgres => {
                let mut c = AsyncPgConnection::establish(&self.url).await.expect("connect");
                query.execute(&mut c).await.expect("execute")
            }
            Backend::Mysql => {
                let mut c = AsyncMysqlConnection::establish(&self.url).await.expect("connect");
                query.execute(&mut c).await.expect("execute")
            }
            Backend::Sqlite => {
                use diesel::Connection;
                let path = self.file.as_ref().expect("sqlite file");
                let mut c = diesel::SqliteConnection::establish(&path.display().to_string()).expect("open");
                diesel::RunQueryDsl::execute(query, &mut c).expect("execute")
            }
        }
    }
}

impl TestDb {
    /// Postgres only: ends every server process serving this database, as a restart does to
    /// them ("terminating connection due to administrator command"); returns how many.
    pub async fn cut_connections(&self) -> i64 {
        assert_eq!(self.backend, Backend::Postgres, "cut_connections is for Postgres");
        let sql = format!(
            "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.name
        );
        let mut c =
            AsyncPgConnection::establish(&format!("{}/postgres", server_url(self.backend))).await.expect("connect");
        let rows: Vec<Count> = diesel::sql_query(sql).load(&mut c).await.expect("terminate");
        <[Count]>::first(&rows).map_or(0, |r| r.n)
    }
}

/// A migration lock held by a connection of the test's own, released when dropped.
pub struct HeldLock {
    _connection: Box<dyn std::any::Any + Send>,
}

impl TestDb {
    /// Takes the lock `herald-admin migrate` takes (Postgres advisory lock, MySQL named lock,
    /// SQLite's write lock) and holds it until the returned value is dropped.
    pub async fn hold_migration_lock(&self) -> HeldLock {
        use herald::db::migrate::{MYSQL_LOCK, PG_LOCK_KEY};
        let connection: Box<dyn std::any::Any + Send> = match self.backend {
            Backend::Postgres => {
                let mut c = AsyncPgConnection::establish(&self.url).await.expect("connect");
                let take = format!("SELECT pg_advisory_lock({PG_LOCK_KEY})");
                diesel::sql_query(take).execute(&mut c).await.expect("advisory lock");
                Box::new(c)
            }
            Backend::Mysql => {
                let mut c = AsyncMysqlConnection::establish(&self.url).await.expect("connect");
                let take = format!("SELECT GET_LOCK('{MYSQL_LOCK}', 0)");
                diesel::sql_query(take).execute(&mut c).await.expect("named lock");
                Box::new(c)
            }
            Backend::Sqlite => {
                use diesel::Connection;
                let path = self.file.as_ref().expect("sqlite file").display().to_string();
                let mut c = diesel::SqliteConnection::establish(&path).expect("open");
                diesel::RunQueryDsl::execute(diesel::sql_query("BEGIN EXCLUSIVE"), &mut c).expect("write lock");
                Box::new(c)
            }
        };
        HeldLock { _connection: connection }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            if let Some(dir) = file.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
            return;
        }
        if self.name.is_empty() {
            return; // on a server of the test's own
        }
        // Drop runs outside any async context we can rely on, so use a small runtime of its own.
        let (backend, sql) = (self.backend, format!("DROP DATABASE IF EXISTS {}", self.name));
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                let _ = rt.block_on(admin_execute(backend, &sql));
            }
        })
        .join();
    }
}
