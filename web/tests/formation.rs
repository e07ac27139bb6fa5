//! The formation under the real honcho and the repo's Procfile: several web and worker processes
//! on honcho's own PORT assignment, all ready, all exiting 0 when honcho is told to stop.

use std::path::PathBuf;
use std::time::Duration;
use testkit::{Backend, Running, TestDb, bin, get_json, poll_status, run_admin, temp_dir, workspace_root};

const LONG: Duration = Duration::from_secs(30);

fn honcho() -> Option<PathBuf> {
    let path = std::env::var("HONCHO").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join(".venv/bin/honcho"));
    if path.exists() {
        return Some(path);
    }
    assert!(!testkit::in_ci(), "honcho is required in CI (scripts/test.sh installs it); looked at {}", path.display());
    eprintln!("SKIP: honcho not found at {}; run scripts/test.sh", path.display());
    None
}

/// A base port with room for honcho's scheme (web at base.., worker at base+100..).
fn base_port() -> u16 {
    loop {
        let base = 20_000 + (rand_port_offset() % 20_000);
        let free = [0, 1, 100, 101].iter().all(|d| std::net::TcpListener::bind(("127.0.0.1", base + d)).is_ok());
        if free {
            return base;
        }
    }
}

fn rand_port_offset() -> u16 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    (nanos / 1000) as u16
}

#[tokio::test(flavor = "multi_thread")]
async fn web_and_workers_scale_under_honcho_and_exit_0_on_sigterm() {
    let Some(honcho) = honcho() else { return };
    let Some(db) = TestDb::create(Backend::Sqlite).await else {
        return;
    };
    assert!(run_admin(&["migrate", "up"], &[("DATABASE_URL", &db.url)]).status.success());
    let base = base_port();
    let bins = bin("herald-web").parent().expect("bin dir").display().to_string();
    let path = format!("{bins}:{}", std::env::var("PATH").unwrap_or_default());
    let procfile = workspace_root().join("Procfile");
    let app_root = temp_dir("honcho");
    let base_text = base.to_string();
    let mut formation = Running::start_program(
        &honcho,
        &[
            "--procfile",
            procfile.to_str().unwrap(),
            "--app-root",
            app_root.to_str().unwrap(),
            "start",
            "--port",
            &base_text,
            "-c",
            "web=2,worker=2",
            "web",
            "worker",
        ],
        &[
            ("PATH", &path),
            ("DATABASE_URL", &db.url),
            ("HERALD_SERVE_HOST", "127.0.0.1"),
            ("HERALD_WORKER_HOST", "127.0.0.1"),
            ("HERALD_SECRETS_KEYS", testkit::TEST_SECRETS_KEYS),
        ],
    );
    for port in [base, base + 1, base + 100, base + 101] {
        let address = format!("127.0.0.1:{port}");
        let answer = poll_status(&address, "/health/ready", 200, LONG).await;
        assert_eq!(
            answer.as_ref().map(|a| a.0),
            Some(200),
            "port {port} not ready: {answer:?}\n{}",
            formation.lines().join("\n")
        );
    }
    assert!(get_json(&format!("127.0.0.1:{}", base + 102), "/health/alive").await.is_err(), "only two workers run");

    formation.signal("TERM");
    formation.wait_exit(LONG).await.expect("honcho exits");
    let output = formation.lines().join("\n");
    for name in ["web.1", "web.2", "worker.1", "worker.2"] {
        assert!(output.contains(&format!("{name} stopped (rc=0)")), "{name} did not exit 0:\n{output}");
    }
}
