//! A PostgreSQL server of the test's own that the test may crash and start again: `pg_ctl stop
//! -m immediate` ends every server process at once, with no shutdown checkpoint and whatever
//! sat in its shared memory lost (its WAL buffers above all), as a crash of the server would;
//! the next start recovers from the log on disk. Database `herald`, trusted on 127.0.0.1.

use crate::free_port;
use crate::tls_peers::{as_postgres, postgres_bin, psql_until_done, required, run, spawn, wait_for_port};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The server; stopped, and its directory removed, when dropped.
pub struct CrashablePostgres {
    /// Its port on 127.0.0.1.
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
    server: Option<Child>,
}

impl CrashablePostgres {
    /// Starts one; `None` (a skip) where PostgreSQL's server binaries are not installed.
    pub fn start() -> Option<CrashablePostgres> {
        let bin = postgres_bin();
        if !required("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)", bin.is_some()) {
            return None;
        }
        let dir = crate::temp_dir("crashable-postgres");
        // PostgreSQL refuses to run as root.
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir));
        let mut server = CrashablePostgres { port: free_port(), bin: bin?, dir, server: None };
        run(server.as_postgres("initdb").args(["-A", "trust", "-U", "postgres", "-D"]).arg(server.data()));
        server.boot();
        psql_until_done(&server.dir, server.port, &["CREATE DATABASE herald"]);
        Some(server)
    }

    /// Herald's URL for its database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/herald", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn as_postgres(&self, program: &str) -> Command {
        as_postgres(&self.bin, program)
    }

    /// Starts the server on its data and port (durable settings: fsync and synchronous commits
    /// on, as in production).
    fn boot(&mut self) {
        let mut server = self.as_postgres("postgres");
        server.arg("-D").arg(self.data()).args(["-p", &self.port.to_string(), "-k"]).arg(&self.dir);
        server.args(["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"]);
        self.server = Some(spawn(server, &self.dir));
        wait_for_port(self.port, &self.dir.join("server.log"));
    }

    /// Crashes the server: every process ends at once, nothing is flushed.
    pub fn crash(&mut self) {
        run(self.as_postgres("pg_ctl").args(["stop", "-m", "immediate", "-D"]).arg(self.data()));
        if let Some(mut child) = self.server.take() {
            let _ = child.wait();
        }
    }

    /// Starts it again after a crash; it recovers from its log before it takes connections.
    pub fn restart(&mut self) {
        self.boot();
    }
}

impl Drop for CrashablePostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
