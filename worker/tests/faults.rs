//! Stopping and killing workers loses nothing: SIGTERM lets the attempts in flight finish and
//! exits 0; SIGKILL leaves leases that lapse, and another worker delivers what was left.
//! Failing endpoints are disabled after `delivery.disable_endpoint_after`.

use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;
use testkit::{Backend, Herald, Receiver, backends};

const LONG: Duration = Duration::from_secs(60);
const LOOPBACK: (&str, &str) = ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#);

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_delivery_finishes_it_and_exits_0() {
    let receiver = Receiver::start_slow(Duration::from_millis(1500), |_| 200);
    let Some(mut herald) = Herald::start(Backend::Sqlite).await else { return };
    herald.start_worker(&[LOOPBACK]);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/slow", receiver.url)})).await;
    let (_, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;

    assert_eq!(receiver.wait_for(1, LONG).await.len(), 1, "the attempt is under way");
    let worker = herald.worker.as_mut().expect("worker");
    worker.signal("TERM");
    let exit = worker.wait_exit(LONG).await.expect("worker exits");
    assert_eq!(exit.code(), Some(0));
    let (_, attempts) = api.get(&format!("/app/a/attempt/msg/{}", msg["id"].as_str().unwrap())).await;
    assert_eq!(attempts["data"][0]["status"], 0, "the in-flight attempt finished and was recorded: {attempts}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkilled_workers_lose_nothing() {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        let name = backend.name();
        let receiver = Receiver::start_slow(Duration::from_millis(50), |_| 200);
        let Some(mut herald) = Herald::start(backend).await else { continue };
        let worker_env = [LOOPBACK, ("HERALD_DELIVERY_TIMEOUT", "1s"), ("HERALD_WORKER_CONCURRENCY", "8")];
        herald.start_worker(&worker_env);
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;

        let mut sent = HashSet::new();
        for round in 0..4 {
            for i in 0..25 {
                let (status, msg) =
                    api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"round": round, "i": i}})).await;
                assert_eq!(status, 202, "{name}");
                sent.insert(msg["id"].as_str().unwrap().to_owned());
            }
            // Kill the worker mid-flight, then start a fresh one.
            tokio::time::sleep(Duration::from_millis(200)).await;
            herald.worker.as_ref().expect("worker").signal("KILL");
            herald.start_worker(&worker_env);
        }
        let deadline = std::time::Instant::now() + LONG;
        let delivered = loop {
            let ids: HashSet<String> = receiver.received().iter().map(|r| r.headers["webhook-id"].clone()).collect();
            if ids.len() >= sent.len() || std::time::Instant::now() > deadline {
                break ids;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let missing: Vec<_> = sent.difference(&delivered).collect();
        assert!(missing.is_empty(), "{name}: {} of {} never arrived: {missing:?}", missing.len(), sent.len());
        let total = receiver.received().len();
        eprintln!(
            "{name}: {} messages, {total} requests, duplicates {:.1} %",
            sent.len(),
            100.0 * (total - sent.len()) as f64 / sent.len() as f64
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_that_only_fail_are_disabled_and_a_success_resets_the_clock() {
    for backend in backends() {
        let name = backend.name();
        let broken = Receiver::start(|_| 500);
        let Some(mut herald) = Herald::start(backend).await else { continue };
        herald.start_worker(&[
            LOOPBACK,
            (
                "HERALD_DELIVERY_RETRY_SCHEDULE",
                r#"["300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms"]"#,
            ),
            ("HERALD_DELIVERY_DISABLE_ENDPOINT_AFTER", "1s"),
        ]);
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        api.post("/app/a/endpoint", &json!({"url": format!("{}/down", broken.url), "uid": "down"})).await;
        api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;
        let deadline = std::time::Instant::now() + LONG;
        while api.get("/app/a/endpoint/down").await.1["disabled"] != true {
            assert!(std::time::Instant::now() < deadline, "{name}: endpoint never disabled");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Disabled endpoints get no new messages.
        let before = broken.received().len();
        tokio::time::sleep(Duration::from_millis(700)).await;
        api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(broken.received().len() <= before + 1, "{name}: at most the attempt already under way");
        // Re-enabling starts the clock over.
        let (_, ep) = api.patch("/app/a/endpoint/down", &json!({"disabled": false})).await;
        assert_eq!(ep["disabled"], false, "{name}");
    }
}
