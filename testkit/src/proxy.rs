//! Real egress proxies from Debian's packages, started on loopback for one test: tinyproxy (HTTP
//! CONNECT and plain HTTP, optionally with basic auth, and behind TLS from socat as an HTTPS
//! proxy) and Dante (SOCKS5). Each sends its outgoing
//! connections from its own loopback address, so a receiver can tell what came through it.

use crate::{Running, free_port, temp_dir};
use std::path::Path;
use std::time::{Duration, Instant};

/// tinyproxy's outgoing address.
pub const TINYPROXY_SOURCE: &str = "127.0.0.2";
/// Dante's outgoing address.
pub const DANTE_SOURCE: &str = "127.0.0.3";

/// A proxy process listening on 127.0.0.1.
pub struct Proxy {
    /// The port it listens on.
    pub port: u16,
    /// The process (stopped when dropped).
    pub process: Running,
}

impl Proxy {
    /// tinyproxy, asking for `credentials` (user, password) when given. `None` (with a notice
    /// printed) when tinyproxy is not installed and this is not CI; in CI that is a failure.
    pub fn tinyproxy(credentials: Option<(&str, &str)>) -> Option<Proxy> {
        let program = installed("tinyproxy", "/usr/bin/tinyproxy")?;
        let dir = temp_dir("tinyproxy");
        let port = free_port();
        let auth = credentials.map(|(user, password)| format!("BasicAuth {user} {password}\n")).unwrap_or_default();
        // No ConnectPort line: CONNECT may reach any port (the receivers' are random).
        let config = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nBind {TINYPROXY_SOURCE}\n\
             ViaProxyName \"egress-test\"\nLogLevel Info\nMaxClients 100\n{auth}"
        );
        let file = dir.join("tinyproxy.conf");
        std::fs::write(&file, config).expect("write tinyproxy.conf");
        let process = Running::start_program(program, &["-d", "-c", &file.to_string_lossy()], &[]);
        Some(Proxy { port, process: listening(process, port) })
    }

    /// TLS in front of the proxy listening on `inner` (socat, serving `cert` and `key`): an
    /// HTTPS proxy, which clients reach over TLS.
    pub fn tls_in_front_of(inner: u16, cert: &Path, key: &Path) -> Option<Proxy> {
        let program = installed("socat", "/usr/bin/socat")?;
        let port = free_port();
        let listen = format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={},key={}",
            cert.display(),
            key.display()
        );
        let process = Running::start_program(program, &[&listen, &format!("TCP:127.0.0.1:{inner}")], &[]);
        Some(Proxy { port, process: listening(process, port) })
    }

    /// Dante's SOCKS5 server, without authentication.
    pub fn dante() -> Option<Proxy> {
        let program = installed("danted", "/usr/sbin/danted")?;
        let dir = temp_dir("dante");
        let port = free_port();
        let config = format!(
            "logoutput: stderr\ninternal: 127.0.0.1 port = {port}\nexternal: {DANTE_SOURCE}\n\
             socksmethod: none\nclientmethod: none\nuser.privileged: root\nuser.unprivileged: nobody\n\
             client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\nsocks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n"
        );
        let file = dir.join("danted.conf");
        std::fs::write(&file, config).expect("write danted.conf");
        let process = Running::start_program(program, &["-f", &file.to_string_lossy()], &[]);
        Some(Proxy { port, process: listening(process, port) })
    }
}

fn installed(name: &str, path: &'static str) -> Option<&'static Path> {
    let path = Path::new(path);
    if path.exists() {
        return Some(path);
    }
    assert!(!crate::in_ci(), "{name} is required in CI (.ci/run installs it)");
    eprintln!("SKIP: {name} is not installed (apt-get install tinyproxy dante-server socat)");
    None
}

/// Waits until the proxy accepts connections.
fn listening(process: Running, port: u16) -> Running {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the proxy did not listen on {port}: {:?}", process.stderr_lines());
        std::thread::sleep(Duration::from_millis(20));
    }
    process
}
