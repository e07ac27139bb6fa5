//! Choosing the backend from the URL and opening connections: TLS through rustls as the URL's
//! own parameters say (libpq's for Postgres, MySQL's for MySQL/MariaDB), and the SQLite pragmas
//! that make it safe to share between processes.

use super::Database;
use crate::config;
use diesel::ConnectionError;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_async::{AsyncMysqlConnection, AsyncPgConnection};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// The database engines Herald speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// The backend's name, as in the migrations folders.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Errors from the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no backend Herald supports.
    #[error("unsupported database url scheme in {0:?}: use postgres://, mysql:// or sqlite://PATH")]
    UnsupportedUrl(String),
    /// No connection could be had from the pool.
    #[error("database connection: {0}")]
    Pool(String),
    /// A unique constraint refused the row (a taken uid, name or event id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot store a value as given (Postgres refuses NUL characters in text).
    #[error("unstorable value: {0}")]
    UnstorableValue(String),
    /// A query failed.
    #[error("database query: {0}")]
    Query(#[source] diesel::result::Error),
    /// The connection was lost under the query (a database restarting, a network cut, a full
    /// disk on SQLite): the database cannot serve now; retrying later may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database did not answer in time.
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
    /// Running or reading migrations failed.
    #[error("migrations: {0}")]
    Migration(String),
    /// The request's `Idempotency-Key` claim lapsed and another request took the key over; the
    /// work was rolled back (the other request does it).
    #[error("the idempotency key was taken over by another request")]
    KeyTakenOver,
}

impl From<diesel::result::Error> for DbError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                DbError::Conflict(info.message().to_owned())
            }
            // Postgres stores no NUL character in text; that is the caller's input, not a fault.
            Error::DatabaseError(_, info) if info.message().contains("0x00") => {
                DbError::UnstorableValue(info.message().to_owned())
            }
            other if connection_lost(&other) => DbError::Unavailable(other.to_string()),
            other => DbError::Query(other),
        }
    }
}

/// Whether a query failed because the database went away under it rather than because of the
/// query: a closed or reset connection (Postgres restarting sends "terminating connection"),
/// a MySQL server gone away, or an SQLite database that cannot take writes now (disk full,
/// locked past the busy timeout).
pub fn connection_lost(error: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    const SIGNS: [&str; 10] = [
        "connection closed",
        "terminating connection",
        "server closed the connection",
        "broken pipe",
        "connection reset",
        "server has gone away",
        "lost connection",
        "database or disk is full",
        "database is locked",
        "disk i/o error",
    ];
    match error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) | Error::BrokenTransactionManager => true,
        other => {
            let text = other.to_string().to_ascii_lowercase();
            SIGNS.iter().any(|sign| text.contains(sign))
        }
    }
}

/// The backend a URL names, by its scheme.
pub fn backend_of(url: &str) -> Result<Backend, DbError> {
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
    match scheme {
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        "mysql" => Ok(Backend::Mysql),
        "sqlite" => Ok(Backend::Sqlite),
        _ => Err(DbError::UnsupportedUrl(redact_url(url))),
    }
}

/// The URL with any password replaced, for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => match url[start + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..start + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// The file path (or SQLite URI) diesel's SQLite connection wants for a `sqlite:` URL.
/// `sqlite::memory:` is a private in-memory database shared by the pool's connections.
pub fn sqlite_path(url: &str) -> String {
    if url == "sqlite::memory:" {
        let tag: u64 = rand::random();
        return format!("file:herald-memory-{tag:x}?mode=memory&cache=shared");
    }
    url.strip_prefix("sqlite://").unwrap_or(url).to_owned()
}

/// The full cause of an error, so a TLS failure shows rustls's reason and not only "error".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads what `url`'s TLS parameters name, off the async threads, once per connector.
async fn load_tls<T: Send + 'static>(
    load: impl FnOnce() -> Result<T, crate::tls::ClientTlsError> + Send + 'static,
) -> diesel::ConnectionResult<T> {
    match tokio::task::spawn_blocking(load).await {
        Ok(Ok(loaded)) => Ok(loaded),
        Ok(Err(e)) => Err(ConnectionError::BadConnection(format!("TLS: {}", error_chain(&e)))),
        Err(e) => Err(ConnectionError::BadConnection(format!("TLS set-up did not finish: {e}"))),
    }
}

/// Opens Postgres connections as the URL's libpq parameters say (see [`super::pg_tls`]): the
/// rustls configuration is built on the first connection and kept.
pub struct PgConnector {
    target: super::pg_tls::PgTarget,
    tls: tokio::sync::OnceCell<rustls::ClientConfig>,
}

impl PgConnector {
    /// For `url`; fails when its TLS parameters do not read.
    pub fn new(url: &str) -> Result<PgConnector, DbError> {
        let target = super::pg_tls::target(url).map_err(|e| DbError::Pool(format!("database.url: {e}")))?;
        Ok(PgConnector { target, tls: tokio::sync::OnceCell::new() })
    }

    /// A new connection.
    pub async fn connect(&self) -> diesel::ConnectionResult<AsyncPgConnection> {
        let bad = |e: tokio_postgres::Error| ConnectionError::BadConnection(error_chain(&e));
        let url = self.target.url.as_str();
        let Some(tls) = &self.target.tls else {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.map_err(bad)?;
            return AsyncPgConnection::try_from_client_and_connection(client, connection).await;
        };
        let config = self
            .tls
            .get_or_try_init(|| {
                let tls = tls.clone();
                load_tls(move || tls.client_config())
            })
            .await?;
        let connector = tokio_postgres_rustls::MakeRustlsConnect::new(config.clone());
        let (client, connection) = tokio_postgres::connect(url, connector).await.map_err(bad)?;
        AsyncPgConnection::try_from_client_and_connection(client, connection).await
    }
}

/// A connection of its own (outside any pool) to a Postgres database, e.g. to LISTEN on.
pub async fn postgres_connection(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    PgConnector::new(url).map_err(|e| ConnectionError::BadConnection(e.to_string()))?.connect().await
}

/// Opens MySQL/MariaDB connections as the URL's `ssl-mode` says (see [`super::mysql_tls`]).
pub struct MysqlConnector {
    target: super::mysql_tls::MysqlTarget,
    opts: mysql_async::Opts,
    /// The driver's options with TLS, made on the first connection (the system's authorities
    /// are read then) and kept.
    secured: tokio::sync::OnceCell<mysql_async::Opts>,
    /// Set once a `PREFERRED` connection found the server offers no TLS: later connections go
    /// plain at once instead of asking again (a second connect each time).
    plain: std::sync::atomic::AtomicBool,
}

impl MysqlConnector {
    /// For `url`; fails when it does not read.
    pub fn new(url: &str) -> Result<MysqlConnector, DbError> {
        let target = super::mysql_tls::target(url).map_err(|e| DbError::Pool(format!("database.url: {e}")))?;
        let opts = mysql_async::Opts::from_url(&target.url).map_err(|e| DbError::Pool(format!("database.url: {e}")))?;
        // As diesel-async's own `establish`: diesel keeps the prepared statements, and an UPDATE
        // counts the rows it matched, not only those it changed (as on Postgres and SQLite).
        let opts = mysql_async::OptsBuilder::from_opts(opts).stmt_cache_size(0).client_found_rows(true).into();
        Ok(MysqlConnector { target, opts, secured: tokio::sync::OnceCell::new(), plain: Default::default() })
    }

    /// A new connection.
    pub async fn connect(&self) -> diesel::ConnectionResult<AsyncMysqlConnection> {
        use super::mysql_tls::SslMode;
        let bad = |e: mysql_async::Error| ConnectionError::BadConnection(error_chain(&e));
        let plain_only = self.plain.load(std::sync::atomic::Ordering::Relaxed);
        let Some(tls) = self.target.tls.as_ref().filter(|_| !plain_only) else {
            let conn = mysql_async::Conn::new(self.opts.clone()).await.map_err(bad)?;
            return AsyncMysqlConnection::try_from(conn).await;
        };
        let secured = self
            .secured
            .get_or_try_init(|| {
                let (tls, opts) = (tls.clone(), self.opts.clone());
                load_tls(move || {
                    tls.check()?;
                    // Only a verifying mode trusting the default roots reads the system's.
                    let verifies = tls.verify != crate::tls::Verify::Nothing;
                    let trusted = match tls.trust {
                        crate::tls::Trust::Default if verifies => crate::tls::roots::trusted().certificates,
                        _ => Vec::new(),
                    };
                    let ssl = super::mysql_tls::ssl_opts(&tls, &trusted);
                    Ok(mysql_async::Opts::from(mysql_async::OptsBuilder::from_opts(opts).ssl_opts(ssl)))
                })
            })
            .await?;
        match mysql_async::Conn::new(secured.clone()).await {
            Ok(conn) => AsyncMysqlConnection::try_from(conn).await,
            // PREFERRED: a server that offers no TLS is spoken to in plain.
            Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer))
                if self.target.mode == SslMode::Preferred =>
            {
                self.plain.store(true, std::sync::atomic::Ordering::Relaxed);
                let conn = mysql_async::Conn::new(self.opts.clone()).await.map_err(bad)?;
                AsyncMysqlConnection::try_from(conn).await
            }
            Err(e) => Err(bad(e)),
        }
    }
}

/// SQLite: wait for locks instead of failing (set before WAL, or start-up races into "database is
/// locked"), WAL so readers never block the writer, enforced foreign keys, and a write-ahead log
/// cut back to 4 MiB whenever a checkpoint resets it (else it keeps its largest size for good).
/// Durable commits sync the log on each commit (`FULL`); relaxed ones leave that to checkpoints
/// (`NORMAL`: a process crash loses nothing, a power loss the last commits).
pub const fn sqlite_pragmas(commits: Commits) -> &'static str {
    macro_rules! pragmas {
        ($synchronous:literal) => {
            concat!(
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = ",
                $synchronous,
                "; PRAGMA foreign_keys = ON; PRAGMA journal_size_limit = 4194304;"
            )
        };
    }
    match commits {
        Commits::Durable => pragmas!("FULL"),
        Commits::Relaxed => pragmas!("NORMAL"),
    }
}

/// Whether a process's commits wait until they are on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commits {
    /// Each commit is on disk when it returns: web and admin, whose writes are acknowledged to a
    /// caller (a published message above all).
    Durable,
    /// A commit may return before its log reaches the disk (Postgres `synchronous_commit = off`,
    /// SQLite `synchronous = NORMAL`): the worker, all of whose writes (fan-outs, leases,
    /// outcomes, the operational events stored with them) can be derived again from committed
    /// messages. A database crash loses at most its last fraction of a second of them, which
    /// means a delivery made again: what at-least-once allows. MySQL has no per-session setting;
    /// there the server's `innodb_flush_log_at_trx_commit` decides for every process alike.
    Relaxed,
}

/// How a pool opens a connection.
type Connect<C> = Arc<dyn Fn() -> BoxFuture<'static, diesel::ConnectionResult<C>> + Send + Sync>;

fn manager<C>(url: String, connect_timeout: Duration, connect: Connect<C>) -> AsyncDieselConnectionManager<C>
where
    C: diesel_async::pooled_connection::PoolableConnection + 'static,
{
    let mut cfg = ManagerConfig::<C>::default();
    // The default recycling runs a query on every checkout; a broken connection shows itself on
    // first use instead, and readiness pings the database on its own.
    cfg.recycling_method = RecyclingMethod::Fast;
    cfg.custom_setup = Box::new(move |_url: &str| {
        let connect = connect.clone();
        async move {
            match tokio::time::timeout(connect_timeout, connect()).await {
                Ok(result) => result,
                Err(_) => Err(ConnectionError::BadConnection(format!("no connection within {connect_timeout:?}"))),
            }
        }
        .boxed()
    });
    AsyncDieselConnectionManager::new_with_config(url, cfg)
}

fn pool<C>(
    manager: AsyncDieselConnectionManager<C>,
    config: &config::Database,
    max_size: usize,
) -> Result<Pool<C>, DbError>
where
    C: diesel_async::pooled_connection::PoolableConnection + Send + 'static,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager,
{
    Pool::builder(manager)
        .max_size(max_size.max(1))
        .wait_timeout(Some(config.pool.acquire_timeout))
        .create_timeout(Some(config.pool.connect_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::Pool(e.to_string()))
}

/// Builds the pool for the backend the URL names, its connections committing as `commits`
/// says. Nothing connects here.
pub(super) fn build_pool(config: &config::Database, max_size: usize, commits: Commits) -> Result<Database, DbError> {
    let url = config.url.clone();
    let timeout = config.pool.connect_timeout;
    Ok(match backend_of(&url)? {
        Backend::Postgres => {
            let connector = Arc::new(PgConnector::new(&url)?);
            let connect: Connect<AsyncPgConnection> = Arc::new(move || {
                let connector = connector.clone();
                async move {
                    let mut conn = connector.connect().await?;
                    if commits == Commits::Relaxed {
                        use diesel_async::SimpleAsyncConnection;
                        conn.batch_execute("SET synchronous_commit = off")
                            .await
                            .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
                    }
                    Ok(conn)
                }
                .boxed()
            });
            Database::Postgres(pool(manager(url, timeout, connect), config, max_size)?)
        }
        Backend::Mysql => {
            let connector = Arc::new(MysqlConnector::new(&url)?);
            let connect: Connect<AsyncMysqlConnection> = Arc::new(move || {
                let connector = connector.clone();
                async move { connector.connect().await }.boxed()
            });
            Database::Mysql(pool(manager(url, timeout, connect), config, max_size)?)
        }
        Backend::Sqlite => {
            let manager = super::SqliteManager {
                path: sqlite_path(&url),
                pragmas: sqlite_pragmas(commits),
                connect_timeout: timeout,
            };
            let pool = deadpool::managed::Pool::builder(manager)
                .max_size(max_size.max(1))
                .wait_timeout(Some(config.pool.acquire_timeout))
                .create_timeout(Some(config.pool.connect_timeout))
                .runtime(deadpool::Runtime::Tokio1)
                .build()
                .map_err(|e| DbError::Pool(e.to_string()))?;
            Database::Sqlite(pool)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_backends() {
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(backend_of("postgresql://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(backend_of("mysql://root@h/db").unwrap(), Backend::Mysql);
        assert_eq!(backend_of("sqlite://herald.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert!(backend_of("redis://h").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn sqlite_urls_become_paths() {
        assert_eq!(sqlite_path("sqlite://herald.db"), "herald.db");
        assert_eq!(sqlite_path("sqlite:///var/lib/herald.db"), "/var/lib/herald.db");
        assert!(sqlite_path("sqlite::memory:").starts_with("file:herald-memory-"));
    }
}
