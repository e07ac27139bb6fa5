//! Test support for Herald's integration tests: the real binaries run as child processes, each
//! test gets its own database on each backend, and tests talk to the processes over real HTTP.

mod api;
mod crashable;
mod database;
mod metrics;
mod process;
mod proxy;
mod receiver;
mod signatures;
mod tls_peers;

pub use api::{Client, Herald};
pub use crashable::CrashablePostgres;
pub use database::{HeldLock, TestDb, backends};
pub use herald::db::Backend;
pub use metrics::metric;
pub use process::{Running, TEST_SECRETS_KEYS, bin, get_json, poll_status, run_admin};
pub use proxy::{DANTE_SOURCE, Proxy, TINYPROXY_SOURCE};
pub use receiver::{Received, Receiver};
pub use signatures::verify_signatures;
pub use tls_peers::{TlsMariadb, TlsPostgres, TlsRabbitmq};

use std::path::PathBuf;

/// A fresh, empty directory under the system temp dir, for config files and SQLite databases.
pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("herald-test-{label}-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Whether this run is CI's, where a missing service is a failure and never a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The peak resident memory of process `pid` so far (Linux's VmHWM), in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).expect("kB") * 1024
}

/// A TCP port that was free a moment ago, for tests that must know a port before starting.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// The workspace root (where the Procfile and README live).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_owned()
}

/// An HTTP client for tests. The workspace builds reqwest without a default TLS provider (the
/// worker installs ring), so install it here too before any client is made.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The test virtualenv's Python (`HERALD_TEST_PYTHON`, else `.venv/bin/python`, both prepared by
/// scripts/test.sh) when it can import every module in `modules`. Missing in CI is a failure;
/// elsewhere the caller skips.
pub fn python_with(modules: &[&str]) -> Option<PathBuf> {
    let python = std::env::var("HERALD_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".venv/bin/python"));
    let imports = format!("import {}", modules.join(", "));
    let usable = std::process::Command::new(&python).args(["-c", &imports]).output().is_ok_and(|o| o.status.success());
    if usable {
        return Some(python);
    }
    assert!(!in_ci(), "CI needs a Python that can `{imports}` (scripts/test.sh installs it): {}", python.display());
    eprintln!("SKIP: no Python that can `{imports}` at {}; run scripts/test.sh", python.display());
    None
}

/// A self-signed certificate for 127.0.0.1 with common name `cn`, made by the `openssl` command
/// in `dir`: returns the paths of the certificate and key PEM files.
pub fn self_signed(dir: &std::path::Path, cn: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={cn}"), "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    (cert, key)
}

/// A certificate authority made by the `openssl` command in a directory, for TLS peers a test
/// starts (receivers, databases, brokers) and the clients that must trust them.
pub struct TestCa {
    dir: PathBuf,
    /// The CA's certificate (PEM): what a client is told to trust.
    pub cert: PathBuf,
    key: PathBuf,
}

impl TestCa {
    /// A new CA in `dir`.
    pub fn new(dir: &std::path::Path) -> TestCa {
        let (cert, key) = (dir.join("ca.crt"), dir.join("ca.key"));
        openssl(
            &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"],
            &["-subj", "/CN=Herald test CA", "-keyout", &key.to_string_lossy(), "-out", &cert.to_string_lossy()],
        );
        TestCa { dir: dir.to_owned(), cert, key }
    }

    /// A certificate the CA signs for `cn`, valid for 127.0.0.1 and localhost (and `cn` as a DNS
    /// name): returns the paths of the certificate and key PEM files.
    pub fn issue(&self, cn: &str) -> (PathBuf, PathBuf) {
        self.issue_for(cn, &format!("IP:127.0.0.1,DNS:localhost,DNS:{cn}"))
    }

    /// Like [`TestCa::issue_for`] with an RSA key in PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`), the
    /// only client key the MySQL driver reads.
    pub fn issue_rsa_for(&self, cn: &str, names: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = self.issue_with(cn, names, &["-newkey", "rsa:2048"]);
        let path = key.to_string_lossy().into_owned();
        openssl(&["rsa", "-traditional"], &["-in", &path, "-out", &path]);
        (cert, key)
    }

    /// A certificate the CA signs for `cn` with exactly the subject alternative names `names`
    /// (OpenSSL's syntax: `DNS:localhost,IP:…`).
    pub fn issue_for(&self, cn: &str, names: &str) -> (PathBuf, PathBuf) {
        self.issue_with(cn, names, &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
    }

    fn issue_with(&self, cn: &str, names: &str, key_kind: &[&str]) -> (PathBuf, PathBuf) {
        let (cert, key, csr, ext) = (
            self.dir.join(format!("{cn}.crt")),
            self.dir.join(format!("{cn}.key")),
            self.dir.join(format!("{cn}.csr")),
            self.dir.join(format!("{cn}.ext")),
        );
        let extensions = format!("subjectAltName={names}\nbasicConstraints=CA:FALSE\n");
        std::fs::write(&ext, extensions).expect("write extensions");
        let path = |p: &PathBuf| p.to_string_lossy().into_owned();
        let request: Vec<&str> = ["req"].into_iter().chain(key_kind.iter().copied()).chain(["-nodes"]).collect();
        openssl(&request, &["-subj", &format!("/CN={cn}"), "-keyout", &path(&key), "-out", &path(&csr)]);
        openssl(
            &["x509", "-req", "-days", "2", "-CAcreateserial"],
            &[
                "-in",
                &path(&csr),
                "-CA",
                &path(&self.cert),
                "-CAkey",
                &path(&self.key),
                "-extfile",
                &path(&ext),
                "-out",
                &path(&cert),
            ],
        );
        (cert, key)
    }
}

fn openssl(command: &[&str], args: &[&str]) {
    let out = std::process::Command::new("openssl").args(command).args(args).output().expect("run openssl");
    assert!(out.status.success(), "openssl {command:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The test RabbitMQ (`TEST_AMQP_URL`, else guest on 127.0.0.1:5672) when it can be reached (or
/// is named explicitly). Unreachable in CI is a failure; elsewhere the caller skips.
pub fn amqp_url() -> Option<String> {
    let named = std::env::var("TEST_AMQP_URL").ok();
    if named.is_some() || std::net::TcpStream::connect("127.0.0.1:5672").is_ok() {
        return Some(named.unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()));
    }
    assert!(!in_ci(), "RabbitMQ is required in CI (TEST_AMQP_URL or 127.0.0.1:5672)");
    eprintln!("SKIP: RabbitMQ unreachable; CI=true makes this a failure");
    None
}

/// The fully static release binaries scripts/test.sh builds (`HERALD_STATIC_BIN_DIR`), when they
/// are there and this runs as root (chroot and image runs need it). Missing in CI is a failure;
/// elsewhere the caller skips.
pub fn static_bins() -> Option<PathBuf> {
    let dir = std::env::var("HERALD_STATIC_BIN_DIR").ok().map(PathBuf::from).filter(|d| d.join("herald-web").exists());
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if dir.is_some() && root {
        return dir;
    }
    assert!(!in_ci(), "CI needs the static binaries (HERALD_STATIC_BIN_DIR, scripts/test.sh) and root");
    eprintln!("SKIP: no static binaries in HERALD_STATIC_BIN_DIR, or not root");
    None
}

/// Declares a test that must hold on every backend as one test per backend:
/// `on_every_backend! { async fn name(backend) { … } }` makes the module `name` with the tests
/// `Postgres`, `Mysql` and `Sqlite`, each running the body with its [`Backend`]. Each backend
/// passes or fails on its own and says which (a loop inside one test stops at the first
/// failing backend and hides the rest), and they run in parallel.
#[macro_export]
macro_rules! on_every_backend {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        $crate::on_backends! { [Postgres, Mysql, Sqlite] $(#[$meta])* async fn $name($backend) $body }
    };
}

/// Like [`on_every_backend!`] for the backends listed: `on_backends! { [Sqlite, Postgres]
/// async fn name(backend) { … } }` (for what only some backends have, or a test too heavy to
/// run on all three).
#[macro_export]
macro_rules! on_backends {
    ([$($variant:ident),+] $(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        $(#[$meta])*
        // Each test is named for its backend, as the enum spells it.
        #[allow(non_snake_case)]
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn test_body($backend: $crate::Backend) $body

            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $variant() {
                    test_body($crate::Backend::$variant).await
                }
            )+
        }
    };
}

/// Runs `probe` every 50 ms until its answer satisfies `done`, and returns that answer, or the
/// last one once `timeout` has passed: for conditions that become true some time after an
/// action (a delivery arriving, a log line written), instead of a hand-written deadline loop.
/// The caller asserts on what it gets, so a failure shows the last state seen.
pub async fn eventually<T, F, Fut>(timeout: std::time::Duration, mut probe: F, done: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let answer = probe().await;
        if done(&answer) || tokio::time::Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
