//! The database: one set of binaries speaks Postgres, MySQL/MariaDB and SQLite, chosen by the
//! scheme of `database.url`. Each backend has its own async pool; queries are written once and
//! expanded per backend by [`with_conn!`].

pub mod application;
pub mod attempt;
mod connect;
pub mod delivery;
pub mod endpoint;
pub mod event_type;
pub mod group_commit;
pub mod idempotency;
pub mod json_text;
pub mod maintenance;
pub mod message;
pub mod migrate;
pub mod mysql_tls;
pub mod notify;
pub mod operational;
pub mod page;
pub mod pg_tls;
pub mod prune;
pub mod rate;
pub mod schema;
mod sqlite;
pub mod sqlite_upkeep;
pub mod token;
pub mod walk;
pub mod work;

pub use connect::{
    Backend, Commits, DbError, backend_of, connection_lost, postgres_connection, redact_url, sqlite_path,
};
pub use json_text::JsonText;
pub use sqlite::{SqliteAsync, SqliteManager};

use crate::config;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{AsyncMysqlConnection, AsyncPgConnection};
use std::time::Duration;

/// A pool of connections to the configured database.
#[derive(Clone)]
pub enum Database {
    /// PostgreSQL.
    Postgres(Pool<AsyncPgConnection>),
    /// MySQL or MariaDB.
    Mysql(Pool<AsyncMysqlConnection>),
    /// SQLite (bundled).
    Sqlite(deadpool::managed::Pool<SqliteManager>),
}

/// A connection checked out of a [`Database`] pool.
// Lives briefly on the stack; boxing the large variant would allocate on every checkout.
#[allow(clippy::large_enum_variant)]
pub enum Conn {
    /// PostgreSQL.
    Postgres(Object<AsyncPgConnection>),
    /// MySQL or MariaDB.
    Mysql(Object<AsyncMysqlConnection>),
    /// SQLite.
    Sqlite(deadpool::managed::Object<SqliteManager>),
}

/// Runs one block of ordinary diesel DSL on whichever backend `$db` uses: the block is expanded
/// once per backend with `$c` bound to `&mut` that backend's connection. Evaluates to the block's
/// value; connection errors return early from the enclosing function as [`DbError`].
#[macro_export]
macro_rules! with_conn {
    ($db:expr, $c:ident => $body:expr) => {
        match $db.get().await? {
            $crate::db::Conn::Postgres(mut obj) => {
                let $c: &mut diesel_async::AsyncPgConnection = &mut obj;
                $body
            }
            $crate::db::Conn::Mysql(mut obj) => {
                let $c: &mut diesel_async::AsyncMysqlConnection = &mut obj;
                $body
            }
            $crate::db::Conn::Sqlite(mut obj) => {
                let $c: &mut $crate::db::SqliteAsync = &mut obj;
                $body
            }
        }
    };
}

/// Like [`with_conn!`] for a body that may safely run twice and answer the same (a read, or an
/// update whose second run changes nothing and reports the same): when the connection is lost under it (a database restart cut
/// it), it runs once more on another connection before the error is reported.
#[macro_export]
macro_rules! with_conn_retrying {
    ($db:expr, $c:ident => $body:expr) => {{
        match $crate::with_conn!($db, $c => $body) {
            Err(e) if $crate::db::connection_lost(&e) => $crate::with_conn!($db, $c => $body),
            other => other,
        }
    }};
}

impl Database {
    /// Builds the pool for `config`, with durable commits; no connection is opened until one is
    /// needed.
    pub fn connect_lazy(config: &config::Database) -> Result<Self, DbError> {
        connect::build_pool(config, config.pool.max_size, Commits::Durable)
    }

    /// Like [`Database::connect_lazy`], committing as `commits` says.
    pub fn connect_lazy_committing(config: &config::Database, commits: Commits) -> Result<Self, DbError> {
        connect::build_pool(config, config.pool.max_size, commits)
    }

    /// Like [`Database::connect_lazy`] with an explicit pool size.
    pub fn connect_lazy_sized(config: &config::Database, max_size: usize) -> Result<Self, DbError> {
        connect::build_pool(config, max_size, Commits::Durable)
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Database::Postgres(_) => Backend::Postgres,
            Database::Mysql(_) => Backend::Mysql,
            Database::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Checks a connection out of the pool, opening one if needed.
    pub async fn get(&self) -> Result<Conn, DbError> {
        let pool_error = |e: diesel_async::pooled_connection::deadpool::PoolError| DbError::Pool(e.to_string());
        Ok(match self {
            Database::Postgres(p) => Conn::Postgres(p.get().await.map_err(pool_error)?),
            Database::Mysql(p) => Conn::Mysql(p.get().await.map_err(pool_error)?),
            Database::Sqlite(p) => Conn::Sqlite(p.get().await.map_err(|e| DbError::Pool(e.to_string()))?),
        })
    }

    /// Connections open and idle, for metrics and readiness.
    pub fn pool_status(&self) -> (usize, usize) {
        let s = match self {
            Database::Postgres(p) => p.status(),
            Database::Mysql(p) => p.status(),
            Database::Sqlite(p) => p.status(),
        };
        (s.size, s.available)
    }

    /// Answers whether the database responds, within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), DbError> {
        use diesel_async::SimpleAsyncConnection;
        let ping = async {
            with_conn!(self, c => c.batch_execute("SELECT 1").await)?;
            Ok::<(), DbError>(())
        };
        tokio::time::timeout(timeout, ping).await.map_err(|_| DbError::Timeout(timeout))?
    }
}
