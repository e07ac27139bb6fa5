//! The RabbitMQ transport: web publishes a dispatch job per message, workers consume it and fan
//! out at once — with the database poll set far beyond the test, only the broker can deliver in
//! time.

use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;
use testkit::{Backend, Herald, Receiver, on_backends};

const LONG: Duration = Duration::from_secs(30);

on_backends! {
    [Sqlite, Mysql]
    async fn messages_flow_through_rabbitmq(backend) {
        let Some(url) = testkit::amqp_url() else { return };
        let name = backend.name();
        let queue = format!("herald.test.{:016x}", rand_suffix());
        let broker = [("AMQP_URL", url.as_str()), ("HERALD_QUEUE_NAME", queue.as_str())];
        let Some(mut herald) = Herald::start_with(backend, &broker).await else { return };
        herald.start_worker(&[
            broker[0],
            broker[1],
            ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#),
            ("HERALD_WORKER_POLL_INTERVAL", "10m"),
        ]);
        let worker = herald.worker.as_ref().expect("worker");
        assert!(
            worker.wait_for_msg(0, "consuming dispatch jobs", LONG).await.is_some(),
            "{name}: {:?}",
            worker.lines()
        );
        let receiver = Receiver::start(|_| 200);
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
        let mut sent = HashSet::new();
        for i in 0..20 {
            let (status, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"i": i}})).await;
            assert_eq!(status, 202);
            sent.insert(msg["id"].as_str().unwrap().to_owned());
        }
        let got: HashSet<String> =
            receiver.wait_for(20, LONG).await.iter().map(|r| r.headers["webhook-id"].clone()).collect();
        assert_eq!(got, sent, "{name}: every message through the broker");
        assert!(
            herald.problems().iter().all(|l| !l.contains("dispatch publish failed")),
            "{name}: {:?}",
            herald.problems()
        );
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_holds_leases_only_for_deliveries_it_has_slots_for() {
    const CONCURRENCY: i64 = 4;
    const MESSAGES: usize = 60;
    let Some(url) = testkit::amqp_url() else { return };
    let queue = format!("herald.test.{:016x}", rand_suffix());
    let broker = [("AMQP_URL", url.as_str()), ("HERALD_QUEUE_NAME", queue.as_str())];
    let Some(mut herald) = Herald::start_with(Backend::Postgres, &broker).await else { return };
    // The broker consumer's fan-out and the database loop's claims both take work: together they
    // must never lease more than the worker has slots for.
    herald.start_worker(&[
        broker[0],
        broker[1],
        ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#),
        ("HERALD_WORKER_CONCURRENCY", "4"),
        ("HERALD_WORKER_POLL_INTERVAL", "20ms"),
    ]);
    let worker = herald.worker.as_ref().expect("worker");
    assert!(worker.wait_for_msg(0, "consuming dispatch jobs", LONG).await.is_some(), "{:?}", worker.lines());
    let receiver = Receiver::start_slow(Duration::from_millis(150), |_| 200);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    for i in 0..MESSAGES {
        api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"i": i}})).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut most_held = 0;
    while receiver.received().len() < MESSAGES && std::time::Instant::now() < deadline {
        most_held = most_held.max(herald.db.count_rows("delivery WHERE status = 1").await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(receiver.received().len(), MESSAGES, "every message delivered");
    eprintln!("most deliveries held at once: {most_held}");
    assert!(most_held <= CONCURRENCY, "held {most_held} leases with {CONCURRENCY} slots");
}

/// A `Running` process's `/metrics` text.
async fn metrics_of(process: &testkit::Running) -> String {
    let url = format!("http://{}/metrics", process.address().await);
    testkit::http().get(url).send().await.expect("metrics").text().await.expect("text")
}

fn counter(metrics: &str, name: &str) -> f64 {
    metrics.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn during_a_broker_outage_web_holds_a_bounded_buffer_and_the_sweep_delivers_what_was_skipped() {
    const MESSAGES: usize = 100;
    // Nothing listens there: the broker is down for the whole test.
    let down = format!("amqp://guest:guest@127.0.0.1:{}/%2f", testkit::free_port());
    let broker = [("AMQP_URL", down.as_str()), ("HERALD_QUEUE_PUBLISH_BUFFER", "8")];
    let Some(mut herald) = Herald::start_with(Backend::Sqlite, &broker).await else { return };
    herald.start_worker(&[broker[0], ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#)]);
    let receiver = Receiver::start(|_| 200);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    for i in 0..MESSAGES {
        let (status, _) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"i": i}})).await;
        assert_eq!(status, 202, "publishing never waits for the broker");
    }
    // Every job is either skipped or still in the buffer (8) or in the round being tried (8).
    let skipped = testkit::eventually(
        LONG,
        || async { counter(&metrics_of(&herald.web).await, "herald_dispatch_jobs_skipped_total") },
        |skipped| *skipped >= (MESSAGES - 16) as f64,
    )
    .await;
    assert!(skipped >= (MESSAGES - 16) as f64, "skipped {skipped}");
    let failing: Vec<_> =
        herald.web.lines().into_iter().filter(|l| l.contains("publishing dispatch jobs failed")).collect();
    assert_eq!(failing.len(), 1, "said once: {failing:?}");
    // The workers' sweep fans the messages out from the database.
    let got = receiver.wait_for(MESSAGES, Duration::from_secs(60)).await;
    let ids: HashSet<String> = got.iter().map(|r| r.headers["webhook-id"].clone()).collect();
    assert_eq!(ids.len(), MESSAGES, "every message delivered by the sweep");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_database_down_a_worker_backs_off_says_so_once_and_loses_no_job() {
    const MESSAGES: usize = 20;
    let Some(url) = testkit::amqp_url() else { return };
    let queue = format!("herald.test.{:016x}", rand_suffix());
    let broker = [("AMQP_URL", url.as_str()), ("HERALD_QUEUE_NAME", queue.as_str())];
    let Some(herald) = Herald::start_with(Backend::Postgres, &broker).await else { return };
    let receiver = Receiver::start(|_| 200);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    // A worker whose database is not there, on the broker where the jobs wait.
    let missing = format!("{}_missing", herald.db.url);
    let cut_off =
        [("HERALD_DATABASE_URL", missing.as_str()), broker[0], broker[1], ("HERALD_WORKER_POLL_INTERVAL", "10ms")];
    let mut broken = testkit::Running::start("herald-worker", &[], &cut_off);
    assert!(broken.wait_for_msg(0, "consuming dispatch jobs", LONG).await.is_some(), "{:?}", broken.lines());
    for i in 0..MESSAGES {
        api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"i": i}})).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let lines = broken.lines();
    let said = |text: &str| lines.iter().filter(|l| l.contains(text)).count();
    let loud = lines.iter().filter(|l| l.contains("\"WARN\"") || l.contains("\"ERRO\"")).count();
    assert!(loud <= 5, "{loud} warnings in 5 s: {:#?}", &lines[..lines.len().min(20)]);
    assert_eq!(said("dispatch jobs failing"), 1, "{lines:#?}");
    assert_eq!(said("database work failing"), 1, "{lines:#?}");
    broken.signal("TERM");
    let _ = broken.wait_exit(LONG).await;
    // The jobs went back to the queue: a worker with its database delivers every message.
    let worker = herald.spawn_worker(&[broker[0], broker[1], ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#)]);
    let got = receiver.wait_for(MESSAGES, LONG).await;
    assert_eq!(got.len(), MESSAGES, "{:?}", worker.lines());
}

/// Extra environment for a process.
type Env<'a> = [(&'a str, &'a str)];

/// A worker's broker connection with `url` (and `env`): whether it starts consuming before it
/// says the broker is unreachable; the worker's log either way.
async fn consumes(herald: &Herald, url: &str, env: &[(&str, &str)]) -> (bool, Vec<String>) {
    let mut all = vec![("AMQP_URL", url)];
    all.extend_from_slice(env);
    let worker = herald.spawn_worker(&all);
    let said = |lines: &Vec<String>| {
        lines.iter().any(|l| l.contains("consuming dispatch jobs") || l.contains("broker unreachable"))
    };
    let lines = testkit::eventually(LONG, || async { worker.lines() }, said).await;
    (lines.iter().any(|l| l.contains("consuming dispatch jobs")), lines)
}

#[tokio::test(flavor = "multi_thread")]
async fn amqps_verifies_the_broker_and_presents_a_client_certificate() {
    let (dir, other_dir) = (testkit::temp_dir("amqps-ca"), testkit::temp_dir("amqps-other-ca"));
    let (ca, other) = (testkit::TestCa::new(&dir), testkit::TestCa::new(&other_dir));
    let Some(broker) = testkit::TlsRabbitmq::start(&ca) else { return };
    let (cert, key) = ca.issue_for("herald", "DNS:herald");
    let client = format!("certfile={}&keyfile={}", cert.display(), key.display());
    let (ca_file, other_file) = (ca.cert.display().to_string(), other.cert.display().to_string());
    let url = |host: &str, params: &str| format!("amqps://guest:guest@{host}:{}/%2f?{params}", broker.port);
    let Some(herald) = Herald::start(Backend::Sqlite).await else { return };
    let trusting = [("SSL_CERT_FILE", ca_file.as_str())];
    let cases: [(String, &Env, bool); 6] = [
        (url("localhost", &format!("cacertfile={ca_file}&{client}")), &[], true),
        (url("127.0.0.1", &format!("cacertfile={ca_file}&{client}")), &[], false),
        (url("localhost", &format!("cacertfile={other_file}&{client}")), &[], false),
        (url("localhost", &client), &[], false),
        (url("localhost", &client), &trusting, true),
        (url("localhost", &format!("cacertfile={ca_file}")), &[], false),
    ];
    for (url, env, expected) in &cases {
        let (connected, lines) = consumes(&herald, url, env).await;
        assert_eq!(connected, *expected, "{url} {env:?}: {lines:?}");
    }
    // And messages flow through it end to end.
    let good = url("localhost", &format!("cacertfile={ca_file}&{client}"));
    let queue = format!("herald.test.tls.{}", std::process::id());
    let env = [("AMQP_URL", good.as_str()), ("HERALD_QUEUE_NAME", queue.as_str())];
    let Some(mut flowing) = Herald::start_with(Backend::Sqlite, &env).await else { return };
    let allowed = ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#);
    flowing.start_worker(&[env[0], env[1], allowed, ("HERALD_WORKER_POLL_INTERVAL", "10m")]);
    let worker = flowing.worker.as_ref().expect("worker");
    assert!(worker.wait_for_msg(0, "consuming dispatch jobs", LONG).await.is_some(), "{:?}", worker.lines());
    let receiver = Receiver::start(|_| 200);
    let api = flowing.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;
    assert_eq!(receiver.wait_for(1, LONG).await.len(), 1, "through amqps: {:?}", worker.lines());
}
