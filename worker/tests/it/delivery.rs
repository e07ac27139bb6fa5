//! The database-queue delivery path end to end, on every backend: messages published through the
//! API reach a real receiver on loopback, signed (Standard Webhooks), filtered, retried on
//! failure, exhausted after the schedule; loopback is refused unless allowed.

use herald::signing::sign;
use serde_json::json;
use std::time::Duration;
use testkit::{Backend, Herald, Receiver, on_backends, on_every_backend};

const LONG: Duration = Duration::from_secs(30);
const LOOPBACK: &str = r#"["127.0.0.0/8"]"#;
const FAST_RETRIES: &str = r#"["100ms", "100ms", "100ms"]"#;

/// GETs `path` until `done` holds for the answer (or LONG passes); returns the last answer.
async fn eventually(api: &testkit::Client, path: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    testkit::eventually(LONG, || async { api.get(path).await.1 }, done).await
}

async fn started(backend: Backend, worker_env: &[(&str, &str)]) -> Option<(Herald, testkit::Client)> {
    let mut herald = Herald::start(backend).await?;
    herald.start_worker(worker_env);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    Some((herald, api))
}

on_every_backend! {
    async fn messages_reach_the_receiver_signed_and_filtered(backend) {
        let name = backend.name();
        let receiver = Receiver::start(|_| 200);
        let Some((herald, api)) = started(backend, &[("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK)]).await else {
            return;
        };
        let (_, ep) = api
            .post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url), "eventTypes": ["invoice.paid"]}))
            .await;
        let secret = api.get(&format!("/app/a/endpoint/{}/secret", ep["id"].as_str().unwrap())).await.1["key"]
            .as_str()
            .unwrap()
            .to_owned();
        api.put(
            &format!("/app/a/endpoint/{}/headers", ep["id"].as_str().unwrap()),
            &json!({"headers": {"X-Tenant": "a"}}),
        )
        .await;

        let mut sent = Vec::new();
        for i in 0..5 {
            let (status, msg) =
                api.post("/app/a/msg", &json!({"eventType": "invoice.paid", "payload": {"n": i}})).await;
            assert_eq!(status, 202);
            sent.push(msg["id"].as_str().unwrap().to_owned());
        }
        api.post("/app/a/msg", &json!({"eventType": "user.signup", "payload": {}})).await;

        let got = receiver.wait_for(5, LONG).await;
        assert_eq!(got.len(), 5, "{name}: {:?}", herald.worker.as_ref().map(|w| w.lines()));
        let key = herald::model::secret::key_bytes(&secret).expect("key");
        for request in &got {
            let id = &request.headers["webhook-id"];
            assert!(sent.contains(id), "{name}: unexpected message {id}");
            let timestamp: i64 = request.headers["webhook-timestamp"].parse().expect("timestamp");
            assert_eq!(
                request.headers["webhook-signature"],
                sign(&key, id, timestamp, &request.body),
                "{name}: signature"
            );
            assert_eq!(request.headers["content-type"], "application/json");
            assert_eq!(request.headers["x-tenant"], "a", "custom headers are sent");
            assert!(request.headers["user-agent"].starts_with("Herald/"));
            assert_eq!(request.path, "/hook");
        }
        verify_with_receiver_libraries(&secret, &got).await;
        // The filtered-out event never arrives, and the attempts are on record.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.received().len(), 5, "{name}: user.signup is filtered out");
        let attempts =
            eventually(&api, &format!("/app/a/attempt/msg/{}", sent[0]), |a| a["data"][0]["status"] == 0).await;
        assert_eq!(attempts["data"][0]["status"], 0, "{name}: {attempts}");
        assert_eq!(attempts["data"][0]["responseStatusCode"], 200);
        let stats_path = format!("/app/a/endpoint/{}/stats", ep["id"].as_str().unwrap());
        assert_eq!(eventually(&api, &stats_path, |s| s["success"] == 5).await["success"], 5, "{name}");
        // The worker's metrics count the attempts.
        let worker = herald.worker.as_ref().expect("worker");
        let metrics_url = format!("http://{}/metrics", worker.address().await);
        let text = testkit::eventually(
            LONG,
            || async { testkit::http().get(&metrics_url).send().await.expect("metrics").text().await.expect("text") },
            |text| text.contains("herald_delivery_attempts_total{outcome=\"success\"} 5"),
        )
        .await;
        assert!(text.contains("herald_delivery_attempts_total{outcome=\"success\"} 5"), "{name}: {text}");
        assert!(text.contains("herald_delivery_attempt_duration_seconds_count 5"), "{name}: {text}");
        assert!(text.contains("herald_deliveries_due"), "{name}: {text}");
        // Where each first attempt's time went: every point of its way is timed once.
        let recorded = "herald_message_progress_seconds_count{point=\"recorded\"} 5";
        let text = testkit::eventually(
            LONG,
            || async { testkit::http().get(&metrics_url).send().await.expect("metrics").text().await.expect("text") },
            |text| text.contains(recorded),
        )
        .await;
        for point in ["sending", "answered", "recorded"] {
            let line = format!("herald_message_progress_seconds_count{{point=\"{point}\"}} 5");
            assert!(text.contains(&line), "{name}: {line} in {text}");
        }
        // Six messages were picked and fanned out (one matched no endpoint).
        for point in ["picked", "fanned_out"] {
            let line = format!("herald_message_progress_seconds_count{{point=\"{point}\"}} 6");
            assert!(text.contains(&line), "{name}: {line} in {text}");
        }
        let web = testkit::http().get(format!("http://{}/metrics", herald.address)).send().await.expect("metrics");
        let web = web.text().await.expect("text");
        assert!(web.contains("herald_message_progress_seconds_count{point=\"stored\"} 6"), "{name}: {web}");
    }
}

on_backends! {
    [Sqlite, Postgres]
    async fn failures_are_retried_then_exhausted(backend) {
        let name = backend.name();
        // Fails twice, then succeeds.
        let flaky = Receiver::start(|n| if n < 2 { 503 } else { 200 });
        let broken = Receiver::start(|_| 500);
        let env = [("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK), ("HERALD_DELIVERY_RETRY_SCHEDULE", FAST_RETRIES)];
        let Some((herald, api)) = started(backend, &env).await else { return };
        api.post("/app/a/endpoint", &json!({"url": format!("{}/flaky", flaky.url), "uid": "flaky"})).await;
        api.post("/app/a/endpoint", &json!({"url": format!("{}/broken", broken.url), "uid": "broken"})).await;
        let (_, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;
        let id = msg["id"].as_str().unwrap();

        assert_eq!(flaky.wait_for(3, LONG).await.len(), 3, "{name}: two failures, then success");
        assert_eq!(broken.wait_for(4, LONG).await.len(), 4, "{name}: first try and three retries");
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(broken.received().len(), 4, "{name}: nothing after the schedule ends");
        let ids: Vec<String> = flaky.received().iter().map(|r| r.headers["webhook-id"].clone()).collect();
        assert!(ids.iter().all(|i| i == id), "{name}: webhook-id is stable across retries");

        let settled = |e: &serde_json::Value| {
            e["data"]
                .as_array()
                .is_some_and(|d| d.iter().all(|x| x["statusText"] == "success" || x["statusText"] == "fail"))
        };
        let endpoints = eventually(&api, &format!("/app/a/msg/{id}/endpoint"), settled).await;
        let state = |uid: &str| {
            endpoints["data"].as_array().unwrap().iter().find(|e| e["uid"] == uid).unwrap()["statusText"].clone()
        };
        assert_eq!(state("flaky"), "success", "{name}: {endpoints}");
        assert_eq!(state("broken"), "fail", "{name}: exhausted shows as fail");
        let (_, attempts) = api.get(&format!("/app/a/attempt/msg/{id}?status=2")).await;
        assert_eq!(attempts["data"].as_array().unwrap().len(), 6, "{name}: 2 flaky + 4 broken failures");
        let _ = &herald;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_is_refused_unless_allowed() {
    let receiver = Receiver::start(|_| 200);
    let Some((herald, api)) = started(Backend::Sqlite, &[("HERALD_DELIVERY_RETRY_SCHEDULE", "[]")]).await else {
        return;
    };
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    let literal = receiver.url.replace("127.0.0.1", "localhost");
    api.post("/app/a/endpoint", &json!({"url": format!("{literal}/by-name")})).await;
    let (_, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;
    let path = format!("/app/a/attempt/msg/{}", msg["id"].as_str().unwrap());
    let attempts = eventually(&api, &path, |a| a["data"].as_array().is_some_and(|a| a.len() == 2)).await;
    for attempt in attempts["data"].as_array().expect("attempts") {
        assert_eq!(attempt["status"], 2, "{attempt}");
        let reason = attempt["response"].as_str().unwrap();
        assert!(reason.contains("refused by policy"), "a clear reason: {attempt}");
        // Attempts are the tenant's to read: they say nothing of what a name resolves to.
        assert!(!reason.contains("127.0.0.1") && !reason.contains("loopback"), "{attempt}");
    }
    assert!(receiver.received().is_empty(), "nothing reached loopback");
    // The operator's log has the detail.
    let worker = herald.worker.as_ref().expect("worker").lines();
    let detail: Vec<_> = worker.iter().filter(|l| l.contains("refused by the SSRF policy")).collect();
    assert!(detail.iter().any(|l| l.contains("127.0.0.1")), "{worker:?}");
}

/// Runs the receivers' own verifiers (PyPI `standardwebhooks` and `svix`) over what arrived.
pub(crate) async fn verify_with_receiver_libraries(secret: &str, requests: &[testkit::Received]) {
    use base64::Engine;
    let requests: Vec<_> = requests
        .iter()
        .map(|r| json!({"headers": r.headers, "body": base64::engine::general_purpose::STANDARD.encode(&r.body)}))
        .collect();
    testkit::verify_signatures(secret, &requests).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_signs_with_both_secrets_during_the_grace_period_and_svix_headers_on_request() {
    let receiver = Receiver::start(|_| 200);
    let env = [("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK), ("HERALD_DELIVERY_HEADER_STYLE", "svix")];
    let Some((herald, api)) = started(Backend::Sqlite, &env).await else { return };
    let (_, ep) = api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url), "uid": "ep"})).await;
    let old = api.get("/app/a/endpoint/ep/secret").await.1["key"].as_str().unwrap().to_owned();
    let (_, rotated) = api.post("/app/a/endpoint/ep/secret/rotate", &json!({"gracePeriodSeconds": 2})).await;
    let new = rotated["key"].as_str().unwrap().to_owned();
    api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"during": "grace"}})).await;
    let first = receiver.wait_for(1, LONG).await[0].clone();
    assert!(first.headers.contains_key("svix-id") && !first.headers.contains_key("webhook-id"), "svix header style");
    let signatures: Vec<&str> = first.headers["svix-signature"].split(' ').collect();
    assert_eq!(signatures.len(), 2, "two signatures during the grace period: {signatures:?}");
    let timestamp: i64 = first.headers["svix-timestamp"].parse().unwrap();
    let id = &first.headers["svix-id"];
    for secret in [&old, &new] {
        let expected = sign(&herald::model::secret::key_bytes(secret).unwrap(), id, timestamp, &first.body);
        assert!(signatures.contains(&expected.as_str()), "a signature for each secret");
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"after": "grace"}})).await;
    let second = receiver.wait_for(2, LONG).await[1].clone();
    let timestamp: i64 = second.headers["svix-timestamp"].parse().unwrap();
    let expected =
        sign(&herald::model::secret::key_bytes(&new).unwrap(), &second.headers["svix-id"], timestamp, &second.body);
    assert_eq!(second.headers["svix-signature"], expected, "only the new secret after the grace period");
    let _ = (&herald, ep);
}

on_backends! {
    [Sqlite, Postgres, Mysql]
    async fn throttle_rate_holds_across_workers_and_nothing_fails(backend) {
        let name = backend.name();
        let receiver = Receiver::start(|_| 200);
        let Some((mut herald, api)) = started(backend, &[("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK)]).await else {
            return;
        };
        // A second worker: the limit is shared, not per process.
        let _first = herald.worker.take();
        herald.start_worker(&[("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK)]);
        api.post(
            "/app/a/endpoint",
            &json!({"url": format!("{}/limited", receiver.url), "uid": "limited", "throttleRate": 5}),
        )
        .await;
        for i in 0..20 {
            api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"i": i}})).await;
        }
        let started_at = std::time::Instant::now();
        let got = receiver.wait_for(20, LONG).await;
        assert_eq!(got.len(), 20, "{name}: every message arrives; none fails for the limit");
        // 20 messages at 5 per second cannot take less than three whole windows.
        assert!(started_at.elapsed() >= Duration::from_secs(2), "{name}: the limit was not enforced");
        // The receiver can have the last requests before the worker has recorded them.
        let stats = eventually(&api, "/app/a/endpoint/limited/stats", |s| s["success"] == 20).await;
        assert_eq!(stats["success"], 20, "{name}: {stats}");
        let (_, failures) = api.get("/app/a/attempt/endpoint/limited?status=2").await;
        assert_eq!(failures["data"], json!([]), "{name}: waiting is not failing");
    }
}

on_backends! {
    [Postgres, Sqlite]
    async fn idle_workers_are_woken_and_resend_delivers_again(backend) {
        let woken_by = match backend {
            Backend::Postgres => "listening for work notifications",
            _ => "watching the database for new work",
        };
        woken_then_resent(backend, woken_by).await;
    }
}

async fn woken_then_resent(backend: Backend, woken_by: &str) {
    let receiver = Receiver::start(|_| 200);
    // A poll interval far longer than the test: only a wake-up (LISTEN/NOTIFY on Postgres, the
    // write-ahead log watched on SQLite) can deliver in time.
    let env = [("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK), ("HERALD_WORKER_POLL_INTERVAL", "10m")];
    let Some((herald, api)) = started(backend, &env).await else { return };
    let worker = herald.worker.as_ref().expect("worker");
    assert!(worker.wait_for_msg(0, woken_by, LONG).await.is_some(), "{:?}", worker.lines());
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url), "uid": "ep"})).await;
    let (_, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"woken": true}})).await;
    assert_eq!(receiver.wait_for(1, LONG).await.len(), 1, "delivered without waiting for a poll");

    // Resend makes a manual delivery of the same message.
    let id = msg["id"].as_str().unwrap();
    assert_eq!(api.post(&format!("/app/a/msg/{id}/endpoint/ep/resend"), &json!({})).await.0, 202);
    let got = receiver.wait_for(2, LONG).await;
    assert_eq!(got.len(), 2, "resend delivers");
    assert_eq!(got[1].headers["webhook-id"], id);
    let attempts =
        eventually(&api, &format!("/app/a/attempt/msg/{id}"), |a| a["data"].as_array().is_some_and(|d| d.len() == 2))
            .await;
    let triggers: Vec<i64> =
        attempts["data"].as_array().unwrap().iter().filter_map(|a| a["triggerType"].as_i64()).collect();
    assert!(triggers.contains(&1), "the resend is recorded as manual: {attempts}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotating_in_a_loop_keeps_a_bounded_number_of_signatures() {
    let receiver = Receiver::start(|_| 200);
    let Some((herald, api)) = started(Backend::Sqlite, &[("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK)]).await else {
        return;
    };
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url), "uid": "ep"})).await;
    let mut keys = Vec::new();
    for _ in 0..20 {
        let (status, rotated) =
            api.post("/app/a/endpoint/ep/secret/rotate", &json!({"gracePeriodSeconds": 3600})).await;
        assert_eq!(status, 200, "{rotated}");
        keys.push(rotated["key"].as_str().expect("key").to_owned());
    }
    api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;
    let got = receiver.wait_for(1, LONG).await;
    assert_eq!(got.len(), 1, "{:?}", herald.worker.as_ref().map(|w| w.lines()));
    let request = &got[0];
    let signatures: Vec<&str> = request.headers["webhook-signature"].split(' ').collect();
    assert_eq!(signatures.len(), 5, "the current secret and the four newest rotated out: {signatures:?}");
    let timestamp: i64 = request.headers["webhook-timestamp"].parse().expect("timestamp");
    let id = &request.headers["webhook-id"];
    for key in &keys[keys.len() - 5..] {
        let bytes = herald::model::secret::key_bytes(key).expect("key");
        assert!(signatures.contains(&sign(&bytes, id, timestamp, &request.body).as_str()), "signed with {key}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_named_in_the_environment_is_not_a_way_around_the_ssrf_policy() {
    // A "proxy" on loopback (allowed) that records what it is asked to forward.
    let proxy = Receiver::start(|_| 200);
    let env = [
        ("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK),
        ("HERALD_DELIVERY_RETRY_SCHEDULE", "[]"),
        ("HTTP_PROXY", proxy.url.as_str()),
        ("http_proxy", proxy.url.as_str()),
        ("ALL_PROXY", proxy.url.as_str()),
    ];
    let Some((herald, api)) = started(Backend::Sqlite, &env).await else { return };
    // A name only the proxy would resolve (to anywhere, an internal address included).
    api.post("/app/a/endpoint", &json!({"url": "http://internal.invalid/hook"})).await;
    let (_, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;
    let path = format!("/app/a/attempt/msg/{}", msg["id"].as_str().unwrap());
    let attempts = eventually(&api, &path, |a| a["data"][0].is_object()).await;
    assert_eq!(attempts["data"][0]["status"], 2, "{attempts}");
    assert!(proxy.received().is_empty(), "the delivery went through the proxy: {:?}", proxy.received());
    let _ = &herald;
}

on_every_backend! {
    async fn an_endpoint_deleted_mid_delivery_costs_the_other_outcomes_nothing(backend) {
        // Both receivers hold their answer, so both deliveries are in flight when one endpoint
        // goes, and their outcomes reach the recorder together.
        let kept = Receiver::start_slow(Duration::from_millis(1500), |_| 200);
        let deleted = Receiver::start_slow(Duration::from_millis(1500), |_| 200);
        let Some((herald, api)) = started(backend, &[("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK)]).await else { return };
        let (_, ep) = api.post("/app/a/endpoint", &json!({"url": format!("{}/kept", kept.url)})).await;
        let kept_id = ep["id"].as_str().expect("id").to_owned();
        let (_, ep) = api.post("/app/a/endpoint", &json!({"url": format!("{}/gone", deleted.url)})).await;
        let gone_id = ep["id"].as_str().expect("id").to_owned();
        let (_, msg) = api.post("/app/a/msg", &json!({"eventType": "e", "payload": {}})).await;
        let msg_id = msg["id"].as_str().expect("id").to_owned();
        kept.wait_for(1, LONG).await;
        deleted.wait_for(1, LONG).await;
        assert_eq!(api.delete(&format!("/app/a/endpoint/{gone_id}")).await.0, 204);

        let attempts = eventually(&api, &format!("/app/a/attempt/msg/{msg_id}"), |a| {
            a["data"].as_array().is_some_and(|d| !d.is_empty())
        })
        .await;
        let data = attempts["data"].as_array().expect("data");
        assert_eq!(data.len(), 1, "only the kept endpoint's attempt is stored: {attempts}");
        assert_eq!(data[0]["endpointId"], kept_id.as_str());
        assert_eq!(data[0]["status"], 0, "succeeded");
        let worker = herald.worker.as_ref().expect("worker");
        let storing = |r: &serde_json::Value| r["msg"].as_str().is_some_and(|m| m.starts_with("storing delivery outcomes failed"));
        let failed: Vec<_> = worker.records().into_iter().filter(storing).collect();
        assert!(failed.is_empty(), "storing the outcomes never failed: {failed:?}");
        assert_eq!(kept.received().len(), 1, "the kept endpoint's delivery was not sent again");
    }
}
