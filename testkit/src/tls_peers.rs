//! Database and broker servers of their own with TLS on, started by a test from the machine's
//! packages (PostgreSQL, MariaDB, RabbitMQ) on free loopback ports, with a certificate from a
//! test CA valid for `localhost` only (so connecting to 127.0.0.1 fails a host-name check), and
//! plain connections refused. Each stops and leaves nothing behind when dropped.

use crate::{TestCa, free_port, in_ci, temp_dir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start.
pub(crate) const START: Duration = Duration::from_secs(60);

/// Missing in CI is a failure; elsewhere the caller skips.
pub(crate) fn required(what: &str, found: bool) -> bool {
    if !found {
        assert!(!in_ci(), "{what} is required in CI");
        eprintln!("SKIP: {what} not installed; CI=true makes this a failure");
    }
    found
}

pub(crate) fn run(command: &mut Command) {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until something accepts connections on `port`; panics with `log`'s text if not.
pub(crate) fn wait_for_port(port: u16, log: &Path) {
    let deadline = Instant::now() + START;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "no server on {port}: {}", std::fs::read_to_string(log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server process and its directory.
struct Server {
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        // The whole process group: the servers' start scripts fork the real server.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `command` in its own process group, logging to `dir/server.log`.
pub(crate) fn spawn(mut command: Command, dir: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    let log = std::fs::File::create(dir.join("server.log")).expect("server log");
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"))
}

/// The server's certificate and key, copied where the server may read them (`owner`, when the
/// server runs as another user).
fn server_identity(ca: &TestCa, dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = ca.issue_for("server", "DNS:localhost");
    let (to_cert, to_key) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::copy(cert, &to_cert).expect("copy cert");
    std::fs::copy(key, &to_key).expect("copy key");
    (to_cert, to_key)
}

/// A PostgreSQL server of its own: `hostnossl` connections rejected, `certuser` only with a
/// client certificate the test CA signed for it, anyone else trusted over TLS. Database `herald`.
pub struct TlsPostgres {
    /// Its port on 127.0.0.1.
    pub port: u16,
    _server: Server,
}

/// `program` of PostgreSQL's `bin` directory, to run as the `postgres` user (PostgreSQL refuses
/// to run as root).
pub(crate) fn as_postgres(bin: &Path, program: &str) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--"]).arg(bin.join(program));
    command
}

/// Runs `commands` (each its own `-c`, so each its own transaction) as `postgres` over the Unix
/// socket in `socket_dir`, trying again until the server has started and takes them.
pub(crate) fn psql_until_done(socket_dir: &Path, port: u16, commands: &[&str]) {
    let ready = Instant::now() + START;
    loop {
        let mut psql = Command::new("psql");
        psql.arg("-h").arg(socket_dir);
        psql.args(["-p", &port.to_string(), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"]);
        for command in commands {
            psql.args(["-c", command]);
        }
        let out = psql.output().expect("psql");
        if out.status.success() {
            return;
        }
        assert!(Instant::now() < ready, "set-up failed: {}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("postgres").exists())
        .collect();
    found.sort();
    found.pop()
}

impl TlsPostgres {
    /// Starts one with a certificate from `ca`; `None` (a skip) where PostgreSQL is not installed.
    pub fn start(ca: &TestCa) -> Option<TlsPostgres> {
        let bin = postgres_bin();
        if !required("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)", bin.is_some()) {
            return None;
        }
        let bin = bin?;
        let dir = temp_dir("tls-postgres");
        let (cert, key) = server_identity(ca, &dir);
        std::fs::copy(&ca.cert, dir.join("ca.crt")).expect("copy CA");
        // PostgreSQL refuses to run as root, and wants its key private to the user it runs as.
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir));
        run(Command::new("chmod").arg("600").arg(&key));
        let data = dir.join("data");
        let as_postgres = |program: &str| as_postgres(&bin, program);
        run(as_postgres("initdb").args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"]).arg(&data));
        let hba = "local all all trust\nhostnossl all all 127.0.0.1/32 reject\n\
                   hostssl all certuser 127.0.0.1/32 cert\nhostssl all all 127.0.0.1/32 trust\n";
        std::fs::write(data.join("pg_hba.conf"), hba).expect("pg_hba.conf");
        let port = free_port();
        let mut server = as_postgres("postgres");
        server.arg("-D").arg(&data).args(["-p", &port.to_string(), "-k"]).arg(&dir);
        let setting = |name: &str, value: &Path| format!("{name}={}", value.display());
        server.args(["-c", "listen_addresses=127.0.0.1", "-c", "ssl=on", "-c", "fsync=off"]);
        server.args(["-c", &setting("ssl_cert_file", &cert), "-c", &setting("ssl_key_file", &key)]);
        server.args(["-c", &setting("ssl_ca_file", &dir.join("ca.crt"))]);
        let server = Server { child: spawn(server, &dir), dir: dir.clone() };
        wait_for_port(port, &dir.join("server.log"));
        // Over the Unix socket (trusted): the role and the database.
        // Two commands: CREATE DATABASE cannot run in the transaction one `-c` makes.
        let (role, database) = ("CREATE ROLE certuser LOGIN SUPERUSER", "CREATE DATABASE herald");
        psql_until_done(&dir, port, &[role, database]);
        Some(TlsPostgres { port, _server: server })
    }
}

/// A MariaDB server of its own requiring secure transport: user `herald` (no password) and
/// `certuser` (only with a client certificate from the test CA). Database `herald`.
pub struct TlsMariadb {
    /// Its port on 127.0.0.1.
    pub port: u16,
    _server: Server,
}

impl TlsMariadb {
    /// Starts one with a certificate from `ca`; `None` (a skip) where MariaDB is not installed.
    pub fn start(ca: &TestCa) -> Option<TlsMariadb> {
        let installed = Path::new("/usr/sbin/mariadbd").exists();
        if !required("MariaDB's server (mariadbd)", installed) {
            return None;
        }
        let dir = temp_dir("tls-mariadb");
        let (cert, key) = server_identity(ca, &dir);
        let data = dir.join("data");
        run(Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"]));
        let port = free_port();
        let socket = dir.join("mysqld.sock");
        let mut server = Command::new("/usr/sbin/mariadbd");
        server.arg("--no-defaults").arg(format!("--datadir={}", data.display()));
        server.arg(format!("--port={port}")).arg(format!("--socket={}", socket.display()));
        server.args(["--bind-address=127.0.0.1", "--user=root", "--require-secure-transport=ON", "--skip-log-bin"]);
        server.args(["--innodb-buffer-pool-size=16M", "--skip-name-resolve"]);
        server.arg(format!("--ssl-cert={}", cert.display())).arg(format!("--ssl-key={}", key.display()));
        server.arg(format!("--ssl-ca={}", ca.cert.display()));
        let server = Server { child: spawn(server, &dir), dir: dir.clone() };
        wait_for_port(port, &dir.join("server.log"));
        let sql = "CREATE DATABASE herald; CREATE USER 'herald'@'%'; GRANT ALL ON *.* TO 'herald'@'%'; \
                   CREATE USER 'certuser'@'%' REQUIRE X509; GRANT ALL ON *.* TO 'certuser'@'%';";
        run(Command::new("mariadb").arg(format!("--socket={}", socket.display())).args(["-uroot", "-e", sql]));
        Some(TlsMariadb { port, _server: server })
    }
}

/// A RabbitMQ node of its own listening only for TLS (amqps) and requiring a client certificate
/// from the test CA; user guest/guest.
pub struct TlsRabbitmq {
    /// Its amqps port on 127.0.0.1.
    pub port: u16,
    _server: Server,
}

impl TlsRabbitmq {
    /// Starts one with a certificate from `ca`; `None` (a skip) where RabbitMQ is not installed.
    pub fn start(ca: &TestCa) -> Option<TlsRabbitmq> {
        let script = Path::new("/usr/lib/rabbitmq/bin/rabbitmq-server");
        if !required("RabbitMQ's server (/usr/lib/rabbitmq/bin/rabbitmq-server)", script.exists()) {
            return None;
        }
        let dir = temp_dir("tls-rabbitmq");
        let (cert, key) = server_identity(ca, &dir);
        let (port, dist) = (free_port(), free_port());
        let config = format!(
            "listeners.tcp = none\nlisteners.ssl.default = {port}\nssl_options.cacertfile = {}\n\
             ssl_options.certfile = {}\nssl_options.keyfile = {}\nssl_options.verify = verify_peer\n\
             ssl_options.fail_if_no_peer_cert = true\nloopback_users = none\n",
            ca.cert.display(),
            cert.display(),
            key.display()
        );
        std::fs::write(dir.join("rabbitmq.conf"), config).expect("rabbitmq.conf");
        std::fs::write(dir.join("enabled_plugins"), "[].\n").expect("enabled_plugins");
        let mut server = Command::new(script);
        let at = |name: &str| dir.join(name).display().to_string();
        server
            .env("RABBITMQ_NODENAME", format!("herald-tls-{port}@localhost"))
            .env("RABBITMQ_DIST_PORT", dist.to_string())
            .env("RABBITMQ_MNESIA_BASE", at("mnesia"))
            .env("RABBITMQ_LOG_BASE", at("log"))
            .env("RABBITMQ_CONFIG_FILE", at("rabbitmq"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", at("enabled_plugins"))
            .env("RABBITMQ_PID_FILE", at("pid"));
        let server = Server { child: spawn(server, &dir), dir: dir.clone() };
        wait_for_port(port, &dir.join("server.log"));
        Some(TlsRabbitmq { port, _server: server })
    }
}
