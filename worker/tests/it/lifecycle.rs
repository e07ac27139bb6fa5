//! herald-worker as a real process: health on its own port (PORT honoured), readiness that
//! includes the broker when one is configured, exit 0 on SIGTERM.

use std::time::Duration;
use testkit::{Backend, Running, TestDb, free_port, get_json, poll_status, run_admin};

const LONG: Duration = Duration::from_secs(20);

async fn migrated_sqlite() -> Option<TestDb> {
    let db = TestDb::create(Backend::Sqlite).await?;
    assert!(run_admin(&["migrate", "up"], &[("HERALD_DATABASE_URL", &db.url)]).status.success());
    Some(db)
}

/// The RabbitMQ that tests use; CI requires it.

#[tokio::test(flavor = "multi_thread")]
async fn worker_serves_health_on_port_and_stops_cleanly() {
    let Some(db) = migrated_sqlite().await else {
        return;
    };
    let port = free_port().to_string();
    let mut worker = Running::start(
        "herald-worker",
        &[],
        &[("DATABASE_URL", db.url.as_str()), ("PORT", port.as_str()), ("HERALD_WORKER_HOST", "127.0.0.1")],
    );
    let address = worker.address().await;
    assert!(address.ends_with(&format!(":{port}")), "PORT sets worker.port: {address}");
    assert_eq!(get_json(&address, "/health/alive").await.expect("alive").0, 200);
    let (status, body) = poll_status(&address, "/health/ready", 200, LONG).await.expect("ready");
    assert_eq!(status, 200, "{body}");
    assert!(body["checks"].get("broker").is_none(), "no broker configured: {body}");
    let record = worker.records().into_iter().next().expect("a record");
    assert_eq!(record["process"], "worker");

    worker.signal("TERM");
    assert_eq!(worker.wait_exit(LONG).await.and_then(|s| s.code()), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_includes_the_broker_when_one_is_configured() {
    let Some(db) = migrated_sqlite().await else {
        return;
    };
    let Some(url) = testkit::amqp_url() else { return };
    let env =
        [("HERALD_DATABASE_URL", db.url.as_str()), ("HERALD_WORKER_HOST", "127.0.0.1"), ("HERALD_WORKER_PORT", "0")];

    let mut up = env.to_vec();
    up.push(("AMQP_URL", url.as_str()));
    let mut worker = Running::start("herald-worker", &[], &up);
    let address = worker.address().await;
    let (status, body) = poll_status(&address, "/health/ready", 200, LONG).await.expect("ready");
    assert_eq!(status, 200, "RabbitMQ must be reachable for this test: {body}");
    assert_eq!(body["checks"]["broker"]["ok"], true);
    worker.signal("TERM");
    assert_eq!(worker.wait_exit(LONG).await.and_then(|s| s.code()), Some(0));

    // A broker that does not answer keeps the worker alive but not ready; the URL's password
    // never reaches the logs.
    let mut down = env.to_vec();
    down.push(("HERALD_QUEUE_URL", "amqp://guest:hunter2@127.0.0.1:1/%2f"));
    let mut worker = Running::start("herald-worker", &[], &down);
    let address = worker.address().await;
    assert!(worker.wait_for_msg(0, "broker unreachable, retrying", LONG).await.is_some());
    let (status, body) = get_json(&address, "/health/ready").await.expect("ready answers");
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["broker"]["ok"], false, "{body}");
    assert!(!worker.lines().join("\n").contains("hunter2"), "password leaked into logs");
    worker.signal("TERM");
    assert_eq!(worker.wait_exit(LONG).await.and_then(|s| s.code()), Some(0));
}
