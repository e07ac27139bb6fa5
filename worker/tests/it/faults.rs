//! Stopping and killing workers loses nothing: SIGTERM lets the attempts in flight finish and
//! exits 0; SIGKILL leaves leases that lapse, and another worker delivers what was left.
//! Failing endpoints are disabled after `delivery.disable_endpoint_after`.

use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;
use testkit::{Backend, Herald, Receiver, on_backends, on_every_backend};

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

on_backends! {
    [Sqlite, Postgres, Mysql]
    async fn sigkilled_workers_lose_nothing(backend) {
        let name = backend.name();
        let receiver = Receiver::start_slow(Duration::from_millis(50), |_| 200);
        let Some(mut herald) = Herald::start(backend).await else { return };
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
        let delivered = testkit::eventually(
            LONG,
            || async { receiver.received().iter().map(|r| r.headers["webhook-id"].clone()).collect::<HashSet<String>>() },
            |ids| ids.len() >= sent.len(),
        )
        .await;
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

on_every_backend! {
    async fn endpoints_that_only_fail_are_disabled_and_a_success_resets_the_clock(backend) {
        let name = backend.name();
        let broken = Receiver::start(|_| 500);
        let Some(mut herald) = Herald::start(backend).await else { return };
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
        let endpoint =
            testkit::eventually(LONG, || async { api.get("/app/a/endpoint/down").await.1 }, |e| e["disabled"] == true).await;
        assert_eq!(endpoint["disabled"], true, "{name}: endpoint never disabled");
        assert_eq!(endpoint["disabledTrigger"], "automatic", "{name}: {endpoint}");
        assert!(endpoint["failSince"].is_string(), "{name}: {endpoint}");
        // Disabled endpoints get no new messages.
        let before = broken.received().len();
        tokio::time::sleep(Duration::from_millis(700)).await;
        api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(broken.received().len() <= before + 1, "{name}: at most the attempt already under way");
        // Re-enabling starts the clock over.
        let (_, ep) = api.patch("/app/a/endpoint/down", &json!({"disabled": false})).await;
        assert_eq!(ep["disabled"], false, "{name}");
        assert_eq!((ep["disabledTrigger"].clone(), ep["failSince"].clone()), (json!(null), json!(null)), "{name}: {ep}");
    }
}

/// Waits until the message's first attempt is on record; returns the attempt list.
async fn first_attempt(api: &testkit::Client, msg: &serde_json::Value) -> serde_json::Value {
    let path = format!("/app/a/attempt/msg/{}", msg["id"].as_str().expect("message id"));
    testkit::eventually(LONG, || async { api.get(&path).await.1 }, |a| a["data"][0].is_object()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undecryptable_secret_fails_the_attempt_and_nothing_unsigned_is_sent() {
    let receiver = Receiver::start(|_| 200);
    let Some(mut herald) = Herald::start(Backend::Sqlite).await else { return };
    // The worker was given another key than the one web sealed the secrets with.
    let other_key = ("HERALD_SECRETS_KEYS", r#"["AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="]"#);
    herald.start_worker(&[LOOPBACK, other_key, ("HERALD_DELIVERY_RETRY_SCHEDULE", r#"["1h"]"#)]);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    let mut messages = Vec::new();
    for i in 0..3 {
        messages.push(api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"i": i}})).await.1);
    }
    for msg in &messages {
        let attempts = first_attempt(&api, msg).await;
        assert_eq!(attempts["data"][0]["status"], 2, "a failed attempt: {attempts}");
        let reason = attempts["data"][0]["response"].as_str().unwrap_or_default();
        assert!(reason.contains("secrets.keys"), "the reason is on the attempt: {attempts}");
    }
    assert!(receiver.received().is_empty(), "nothing was sent: {:?}", receiver.received());
    let worker = herald.worker.as_ref().expect("worker");
    let refusals: Vec<_> = worker.lines().into_iter().filter(|l| l.contains("refusing to send unsigned")).collect();
    assert_eq!(refusals.len(), 1, "logged once per endpoint, not per delivery: {refusals:?}");
    assert!(refusals[0].contains("\"ERRO\""), "{refusals:?}");
    let metrics = testkit::http()
        .get(format!("http://{}/metrics", worker.address().await))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("herald_delivery_unsigned_refusals_total 3"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn endless_response_bodies_are_cut_at_max_response_bytes_and_memory_stays_bounded() {
    const RECEIVERS: usize = 64;
    const PER_RECEIVER: u64 = 64 << 20;
    let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let receivers: Vec<_> = (0..RECEIVERS).map(|_| Receiver::start_streaming(PER_RECEIVER, written.clone())).collect();
    let Some(mut herald) = Herald::start(Backend::Sqlite).await else { return };
    herald.start_worker(&[
        LOOPBACK,
        ("HERALD_WORKER_CONCURRENCY", "64"),
        ("HERALD_DELIVERY_TIMEOUT", "30s"),
        ("HERALD_DELIVERY_MAX_RESPONSE_BYTES", "4096"),
    ]);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    for receiver in &receivers {
        api.post("/app/a/endpoint", &json!({"url": format!("{}/stream", receiver.url)})).await;
    }
    let (_, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;
    let path = format!("/app/a/msg/{}/endpoint?limit=250", msg["id"].as_str().expect("id"));
    let ended =
        |list: serde_json::Value| list["data"].as_array().map_or(0, |d| d.iter().filter(|e| e["status"] == 0).count());
    let done = testkit::eventually(LONG, || async { ended(api.get(&path).await.1) }, |n| *n == RECEIVERS).await;
    assert_eq!(done, RECEIVERS, "every attempt ended (a 200 with its body cut is a success)");
    let peak = testkit::peak_rss(herald.worker.as_ref().expect("worker").pid());
    let out = written.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("worker peak RSS {} MiB; receivers wrote {} MiB in all", peak >> 20, out >> 20);
    assert!(peak < 128 << 20, "the worker's peak RSS was {} MiB", peak >> 20);
    // What a receiver got out before the worker hung up is what socket buffers hold, not the body.
    assert!(out < RECEIVERS as u64 * PER_RECEIVER / 4, "receivers wrote {} MiB", out >> 20);
    let attempts = first_attempt(&api, &msg).await;
    assert_eq!(attempts["data"][0]["response"].as_str().map(str::len), Some(4096), "{attempts}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_body_that_times_out_is_a_failed_attempt() {
    let receiver = Receiver::start_stalling(1000, 10);
    let Some(mut herald) = Herald::start(Backend::Sqlite).await else { return };
    herald.start_worker(&[
        LOOPBACK,
        ("HERALD_DELIVERY_TIMEOUT", "1s"),
        ("HERALD_DELIVERY_RETRY_SCHEDULE", r#"["1h"]"#),
    ]);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/stall", receiver.url)})).await;
    let (_, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;
    let attempts = first_attempt(&api, &msg).await;
    assert_eq!(attempts["data"][0]["status"], 2, "failed: {attempts}");
    let reason = attempts["data"][0]["response"].as_str().unwrap_or_default();
    assert!(reason.contains("reading the response failed"), "{attempts}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_success_stops_the_failure_clock_even_when_the_workers_copy_of_the_endpoint_is_stale() {
    // Request 0 succeeds slowly (its attempt loaded the endpoint before any failure); request 1
    // fails at once and starts the clock meanwhile; request 2 fails well after request 0's success.
    let receiver = Receiver::start_scripted(|n| match n {
        0 => (Duration::from_millis(1500), 200),
        _ => (Duration::ZERO, 500),
    });
    let Some(mut herald) = Herald::start(Backend::Sqlite).await else { return };
    herald.start_worker(&[
        LOOPBACK,
        ("HERALD_DELIVERY_RETRY_SCHEDULE", r#"["1h"]"#),
        ("HERALD_DELIVERY_DISABLE_ENDPOINT_AFTER", "1s"),
    ]);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url), "uid": "ep"})).await;
    let (_, slow) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"n": 0}})).await;
    assert_eq!(receiver.wait_for(1, LONG).await.len(), 1);
    let (_, failing) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"n": 1}})).await;
    assert_eq!(first_attempt(&api, &failing).await["data"][0]["status"], 2);
    assert_eq!(first_attempt(&api, &slow).await["data"][0]["status"], 0);
    // Longer than disable_endpoint_after since request 1's failure.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, last) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"n": 2}})).await;
    assert_eq!(first_attempt(&api, &last).await["data"][0]["status"], 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, endpoint) = api.get("/app/a/endpoint/ep").await;
    assert_eq!(endpoint["disabled"], false, "one failure after a success must not disable: {endpoint}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_whose_stored_filter_does_not_read_is_left_out_and_the_others_still_get_theirs() {
    let (good, damaged) = (Receiver::start(|_| 200), Receiver::start(|_| 200));
    let Some(mut herald) = Herald::start(Backend::Sqlite).await else { return };
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/good", good.url)})).await;
    let (_, endpoint) =
        api.post("/app/a/endpoint", &json!({"url": format!("{}/damaged", damaged.url), "channels": ["c"]})).await;
    let id = endpoint["id"].as_str().expect("endpoint id");
    assert_eq!(herald.db.execute(&format!("UPDATE endpoint SET channels = '[\"c\"' WHERE id = '{id}'")).await, 1);
    herald.start_worker(&[LOOPBACK]);

    // Before, the damaged filter read as "no filter" and took every message.
    api.post("/app/a/msg", &json!({"eventType": "x.y", "channels": ["other"], "payload": {}})).await;
    assert_eq!(good.wait_for(1, LONG).await.len(), 1, "the readable endpoint gets its message");
    let worker = herald.worker.as_ref().expect("worker");
    let said = worker.wait_for_msg(0, "endpoint left out of the fan-out", LONG).await.expect("logged");
    let error = said["error"].as_str().unwrap_or_default();
    assert!(error.contains(&format!("endpoint {id}, column channels")), "names the row: {said}");
    assert!(damaged.received().is_empty(), "nothing for the damaged endpoint: {:?}", damaged.received());
}
