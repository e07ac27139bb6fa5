//! The database-queue delivery path end to end, on every backend: messages published through the
//! API reach a real receiver on loopback, signed (Standard Webhooks), filtered, retried on
//! failure, exhausted after the schedule; loopback is refused unless allowed.

use herald::signing::sign;
use serde_json::json;
use std::time::Duration;
use testkit::{Backend, Herald, Receiver, backends};

const LONG: Duration = Duration::from_secs(30);
const LOOPBACK: &str = r#"["127.0.0.0/8"]"#;
const FAST_RETRIES: &str = r#"["100ms", "100ms", "100ms"]"#;

async fn started(backend: Backend, worker_env: &[(&str, &str)]) -> Option<(Herald, testkit::Client)> {
    let mut herald = Herald::start(backend).await?;
    herald.start_worker(worker_env);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    Some((herald, api))
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_reach_the_receiver_signed_and_filtered() {
    for backend in backends() {
        let name = backend.name();
        let receiver = Receiver::start(|_| 200);
        let Some((herald, api)) = started(backend, &[("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK)]).await else {
            continue;
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
        // The filtered-out event never arrives, and the attempts are on record.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(receiver.received().len(), 5, "{name}: user.signup is filtered out");
        let (_, attempts) = api.get(&format!("/app/a/attempt/msg/{}", sent[0])).await;
        assert_eq!(attempts["data"][0]["status"], 0, "{name}: {attempts}");
        assert_eq!(attempts["data"][0]["responseStatusCode"], 200);
        assert_eq!(api.get(&format!("/app/a/endpoint/{}/stats", ep["id"].as_str().unwrap())).await.1["success"], 5);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_retried_then_exhausted() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let name = backend.name();
        // Fails twice, then succeeds.
        let flaky = Receiver::start(|n| if n < 2 { 503 } else { 200 });
        let broken = Receiver::start(|_| 500);
        let env = [("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK), ("HERALD_DELIVERY_RETRY_SCHEDULE", FAST_RETRIES)];
        let Some((herald, api)) = started(backend, &env).await else { continue };
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

        let (_, endpoints) = api.get(&format!("/app/a/msg/{id}/endpoint")).await;
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
    let deadline = std::time::Instant::now() + LONG;
    let attempts = loop {
        let (_, attempts) = api.get(&path).await;
        if attempts["data"].as_array().is_some_and(|a| a.len() == 2) || std::time::Instant::now() > deadline {
            break attempts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for attempt in attempts["data"].as_array().expect("attempts") {
        assert_eq!(attempt["status"], 2, "{attempt}");
        assert!(attempt["response"].as_str().unwrap().contains("SSRF"), "a clear reason: {attempt}");
    }
    assert!(receiver.received().is_empty(), "nothing reached loopback");
    let _ = &herald;
}
