//! SQLite under async code. diesel's SQLite connection is synchronous, so every call runs on
//! tokio's blocking threads through diesel-async's `SyncConnectionWrapper`. Its default spawner
//! waits for an abandoned call with `block_in_place` when a future is dropped mid-query (a failed
//! extractor, a timeout, a client gone), which panics on actix's single-threaded runtimes. This
//! spawner lets an abandoned call finish on its own instead, and the pool hands the connection
//! out again only once every call on it has finished.

use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};
use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::sync_connection_wrapper::{SpawnBlocking, SyncConnectionWrapper};
use futures_util::future::BoxFuture;
use std::error::Error;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// Calls still running on one connection.
#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// Runs a connection's blocking calls; dropping a call's future detaches it instead of blocking.
pub struct Spawner {
    handle: tokio::runtime::Handle,
    in_flight: Arc<InFlight>,
}

impl SpawnBlocking for Spawner {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        self.in_flight.count.fetch_add(1, Ordering::SeqCst);
        let in_flight = self.in_flight.clone();
        let join = self.handle.spawn_blocking(move || {
            // `task` owns the wrapper's handle on the connection; it is released when task returns.
            let result = task();
            if in_flight.count.fetch_sub(1, Ordering::SeqCst) == 1 {
                in_flight.idle.notify_waiters();
            }
            result
        });
        Box::pin(async move { join.await.map_err(|e| Box::new(e) as Box<dyn Error + Send + Sync>) })
    }

    fn get_runtime() -> Self {
        Spawner { handle: tokio::runtime::Handle::current(), in_flight: Arc::default() }
    }
}

/// The SQLite connection type the pool hands out.
pub type SqliteAsync = SyncConnectionWrapper<SqliteConnection, Spawner>;

/// A pooled SQLite connection with the count of its running calls.
pub struct SqliteConn {
    conn: SqliteAsync,
    in_flight: Arc<InFlight>,
}

impl Deref for SqliteConn {
    type Target = SqliteAsync;
    fn deref(&self) -> &SqliteAsync {
        &self.conn
    }
}

impl DerefMut for SqliteConn {
    fn deref_mut(&mut self) -> &mut SqliteAsync {
        &mut self.conn
    }
}

/// Opens SQLite connections for the pool and takes them back once they are idle.
pub struct SqliteManager {
    /// File path or SQLite URI.
    pub path: String,
    /// Statements run on each new connection.
    pub pragmas: &'static str,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
}

/// Switching a new database to WAL while another process does the same can answer "database is
/// locked" without waiting on busy_timeout (SQLite's deadlock avoidance), so that step is retried.
const PRAGMA_RETRIES: u32 = 200;

fn open(path: &str, pragmas: &str) -> Result<SqliteConnection, ConnectionError> {
    let mut conn = SqliteConnection::establish(path)?;
    let mut attempts = 0;
    loop {
        match diesel::connection::SimpleConnection::batch_execute(&mut conn, pragmas) {
            Ok(()) => return Ok(conn),
            Err(e) if attempts < PRAGMA_RETRIES && e.to_string().contains("locked") => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(ConnectionError::BadConnection(e.to_string())),
        }
    }
}

impl deadpool::managed::Manager for SqliteManager {
    type Type = SqliteConn;
    type Error = ConnectionError;

    async fn create(&self) -> Result<SqliteConn, ConnectionError> {
        let (path, pragmas) = (self.path.clone(), self.pragmas);
        let opening = tokio::task::spawn_blocking(move || open(&path, pragmas));
        let conn = match tokio::time::timeout(self.connect_timeout, opening).await {
            Ok(Ok(result)) => result?,
            Ok(Err(e)) => return Err(ConnectionError::BadConnection(e.to_string())),
            Err(_) => {
                return Err(ConnectionError::BadConnection(format!("no connection within {:?}", self.connect_timeout)));
            }
        };
        let spawner = Spawner::get_runtime();
        let in_flight = spawner.in_flight.clone();
        Ok(SqliteConn { conn: SyncConnectionWrapper::with_runtime(conn, spawner), in_flight })
    }

    async fn recycle(
        &self,
        obj: &mut SqliteConn,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<ConnectionError> {
        // Wait for calls abandoned by a dropped future; only then is the connection free.
        loop {
            let idle = obj.in_flight.idle.notified();
            if obj.in_flight.count.load(Ordering::SeqCst) == 0 {
                break;
            }
            idle.await;
        }
        if obj.conn.is_broken() {
            return Err(deadpool::managed::RecycleError::Message("connection left in a transaction".into()));
        }
        Ok(())
    }
}
