//! The formation under the real honcho and the repo's Procfile: several web and worker processes
//! on honcho's own PORT assignment, all ready, traffic through every web process delivered, all
//! exiting 0 when honcho is told to stop, what they held handed back at once, nothing lost.

use serde_json::json;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;
use testkit::{
    Backend, Client, Receiver, Running, TestDb, bin, get_json, poll_status, run_admin, temp_dir, workspace_root,
};

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

/// A base port with room for honcho's scheme (web at base.., worker at base+100..) and one more
/// worker port, which must stay closed.
fn base_port(webs: u16, workers: u16) -> u16 {
    loop {
        let base = 20_000 + (rand_port_offset() % 20_000);
        let mut offsets = (0..webs).chain(100..=100 + workers);
        let free = offsets.all(|d| std::net::TcpListener::bind(("127.0.0.1", base + d)).is_ok());
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

/// Runs `web=webs,worker=workers` under honcho on `backend` (with RabbitMQ when `amqp`): every
/// process becomes ready; messages published through both web ports are delivered; SIGTERM to
/// honcho while deliveries are under way stops every process with rc=0; a fresh worker then
/// delivers whatever was left, so nothing is lost, and before the stopped workers' leases would
/// have lapsed, so what they held but had not started was handed back.
async fn formation(backend: Backend, amqp: Option<&str>, webs: u16, workers: u16) {
    let Some(honcho) = honcho() else { return };
    let Some(db) = TestDb::create(backend).await else { return };
    let name = format!("{}{}", backend.name(), if amqp.is_some() { " + rabbitmq" } else { "" });
    assert!(run_admin(&["migrate", "up"], &[("DATABASE_URL", &db.url)]).status.success());
    let base = base_port(webs, workers);
    let bins = bin("herald-web").parent().expect("bin dir").display().to_string();
    let path = format!("{bins}:{}", std::env::var("PATH").unwrap_or_default());
    let procfile = workspace_root().join("Procfile");
    let app_root = temp_dir("honcho");
    let (base_text, scale) = (base.to_string(), format!("web={webs},worker={workers}"));
    let queue = format!("herald.formation.{base}");
    let mut env = vec![
        ("PATH", path.as_str()),
        ("DATABASE_URL", db.url.as_str()),
        ("HERALD_SERVE_HOST", "127.0.0.1"),
        ("HERALD_WORKER_HOST", "127.0.0.1"),
        ("HERALD_SECRETS_KEYS", testkit::TEST_SECRETS_KEYS),
        ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#),
        // Leases last the attempt timeout + 5 s: 65 s, well past LONG, so a delivery left leased
        // by a stopped worker (rather than handed back) would miss the final check.
        ("HERALD_DELIVERY_TIMEOUT", "60s"),
    ];
    if let Some(url) = amqp {
        env.extend([("AMQP_URL", url), ("HERALD_QUEUE_NAME", queue.as_str())]);
    }
    let args = ["--procfile", procfile.to_str().unwrap(), "--app-root", app_root.to_str().unwrap()];
    let mut formation = Running::start_program_logging_to(
        &honcho,
        &[&args[..], &["start", "--port", &base_text, "-c", &scale, "web", "worker"]].concat(),
        &env,
        &app_root.join("honcho.log"),
    );
    let web_ports: Vec<u16> = (0..webs).map(|i| base + i).collect();
    let worker_ports: Vec<u16> = (0..workers).map(|i| base + 100 + i).collect();
    for port in web_ports.iter().chain(&worker_ports) {
        let answer = poll_status(&format!("127.0.0.1:{port}"), "/health/ready", 200, LONG).await;
        assert_eq!(
            answer.as_ref().map(|a| a.0),
            Some(200),
            "{name}: port {port} not ready: {answer:?}\n{}",
            formation.lines().join("\n")
        );
    }
    let extra = format!("127.0.0.1:{}", base + 100 + workers);
    assert!(get_json(&extra, "/health/alive").await.is_err(), "{name}: only {workers} workers run");

    // Traffic through every web process, delivered while the formation runs.
    let receiver = Receiver::start_slow(Duration::from_millis(100), |_| 200);
    let token =
        String::from_utf8_lossy(&run_admin(&["token", "create", "--org", "o"], &[("DATABASE_URL", &db.url)]).stdout)
            .trim()
            .to_owned();
    let apis: Vec<Client> = web_ports.iter().map(|p| Client::new(&format!("127.0.0.1:{p}"), &token)).collect();
    apis[0].post("/app", &json!({"name": "A", "uid": "a"})).await;
    apis[1].post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    let mut sent = HashSet::new();
    for i in 0..MESSAGES {
        let (status, msg) =
            apis[i % apis.len()].post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"i": i}})).await;
        assert_eq!(status, 202, "{name}: {msg}");
        sent.insert(msg["id"].as_str().unwrap().to_owned());
    }
    assert!(receiver.wait_for(MESSAGES / 5, LONG).await.len() >= MESSAGES / 5, "{name}: deliveries under way");

    formation.signal("TERM");
    let exited = formation.wait_exit(LONG).await;
    let output = formation.lines().join("\n");
    assert!(exited.is_some(), "{name}: honcho did not exit:\n{output}");
    for process in (1..=webs).map(|i| format!("web.{i}")).chain((1..=workers).map(|i| format!("worker.{i}"))) {
        assert!(output.contains(&format!("{process} stopped (rc=0)")), "{name}: {process} did not exit 0:\n{output}");
    }
    // Whatever the formation had not delivered when it stopped is still in the database.
    let finisher = Running::start("herald-worker", &[], &[&env[1..], &[("HERALD_WORKER_PORT", "0")]].concat());
    let got: HashSet<String> =
        receiver.wait_for(MESSAGES, LONG).await.iter().map(|r| r.headers["webhook-id"].clone()).collect();
    assert_eq!(
        got,
        sent,
        "{name}: every message delivered, before or after the stop; finisher: {:?}",
        finisher.lines()
    );
}

const MESSAGES: usize = 100;

#[tokio::test(flavor = "multi_thread")]
async fn postgres_and_rabbitmq_web_2_worker_3_under_honcho_deliver_and_stop_gracefully() {
    let Some(url) = testkit::amqp_url() else { return };
    formation(Backend::Postgres, Some(&url), 2, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_default_web_2_worker_2_under_honcho_deliver_and_stop_gracefully() {
    formation(Backend::Sqlite, None, 2, 2).await;
}
