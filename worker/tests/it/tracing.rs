//! Traces end to end, against a real OTLP/HTTP collector (a small server decoding the PyPI
//! `opentelemetry-proto` messages): the API request, the publish and each delivery attempt
//! arrive as one trace, linked parent to child, with the attributes operators filter on, even
//! when the worker starts only after the message was published.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Herald, Receiver, Running, on_every_backend};

const LONG: Duration = Duration::from_secs(30);
/// What a caller sends as its own trace context (linked, never made the parent).
const CALLERS: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// The collector, and the base URL to give Herald.
async fn collector() -> Option<(Running, String)> {
    let python = testkit::python_with(&["opentelemetry.proto"])?;
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otlp/collector.py");
    let running = Running::start_program(&python, &[&script.to_string_lossy()], &[]);
    let first = testkit::eventually(LONG, || async { running.records() }, |r| !r.is_empty()).await;
    let port = first.first().and_then(|r| r["port"].as_u64()).expect("the collector's port");
    Some((running, format!("http://127.0.0.1:{port}")))
}

/// The spans received so far.
fn spans(collector: &Running) -> Vec<Value> {
    collector.records().into_iter().filter(|r| r.get("span_id").is_some()).collect()
}

fn named<'a>(spans: &'a [Value], name: &str) -> Vec<&'a Value> {
    spans.iter().filter(|s| s["name"].as_str().is_some_and(|n| n == name || n.ends_with(name))).collect()
}

on_every_backend! {
    async fn a_message_is_one_trace_from_the_request_to_every_answer(backend) {
        let name = backend.name();
        let Some((collector, endpoint)) = collector().await else { return };
        let tracing = ("HERALD_TRACING_OTLP_ENDPOINT", endpoint.as_str());
        // The first attempt fails, the second succeeds: two attempt spans.
        let receiver = Receiver::start(|n| if n == 0 { 503 } else { 200 });
        let Some(mut herald) = Herald::start_with(backend, &[tracing]).await else { return };
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "Shop", "uid": "shop"})).await;
        let (_, ep) = api.post("/app/shop/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
        let token = herald.token("org-a");
        let published = testkit::http()
            .post(format!("http://{}/api/v1/app/shop/msg", herald.address))
            .bearer_auth(&token)
            .header("traceparent", CALLERS)
            .json(&json!({"eventType": "order.paid", "payload": {"id": 1}}))
            .send()
            .await
            .expect("publish");
        assert_eq!(published.status(), 202, "{name}");
        let msg: Value = published.json().await.expect("message");
        // The worker starts after the publish: the trace context comes from the database.
        herald.start_worker(&[
            tracing,
            ("HERALD_TRACING_SEND_TRACEPARENT", "true"),
            ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#),
            ("HERALD_DELIVERY_RETRY_SCHEDULE", r#"["100ms"]"#),
        ]);
        let arrived = receiver.wait_for(2, LONG).await;
        assert_eq!(arrived.len(), 2, "{name}");
        let all_there = |s: &Vec<Value>| named(s, "deliver").len() >= 2 && !named(s, "publish").is_empty()
            && !named(s, "/msg").is_empty();
        let got = testkit::eventually(LONG, || async { spans(&collector) }, all_there).await;

        let request = named(&got, "POST /api/v1/app/{app_id}/msg");
        assert_eq!(request.len(), 1, "{name}: one request span: {got:?}");
        let (request, publish) = (request[0], named(&got, "publish")[0]);
        assert_eq!(request["service"], "herald-web", "{name}");
        assert_eq!(request["attributes"]["http.response.status_code"], 202, "{name}: {request}");
        assert_eq!(request["attributes"]["http.request.method"], "POST", "{name}");
        assert_eq!(request["links"][0]["trace_id"], "0af7651916cd43dd8448eb211c80319c", "{name}: the caller's trace, linked");
        assert_ne!(request["trace_id"], "0af7651916cd43dd8448eb211c80319c", "{name}: not adopted as the parent");
        assert_eq!(publish["parent_span_id"], request["span_id"], "{name}: publish under the request");
        assert_eq!(publish["attributes"]["herald.message.id"], msg["id"], "{name}: {publish}");
        assert_eq!(publish["attributes"]["herald.event_type"], "order.paid", "{name}");
        let trace = request["trace_id"].as_str().expect("trace id");
        let mut attempts = named(&got, "deliver");
        attempts.sort_by_key(|s| s["attributes"]["herald.attempt.number"].as_i64());
        for (n, (span, code)) in attempts.iter().zip([503, 200]).enumerate() {
            assert_eq!(span["service"], "herald-worker", "{name}");
            assert_eq!(span["trace_id"], trace, "{name}: one trace: {span}");
            assert_eq!(span["parent_span_id"], publish["span_id"], "{name}: each attempt under the publish");
            let attributes = &span["attributes"];
            assert_eq!(attributes["herald.attempt.number"], n as i64 + 1, "{name}: {span}");
            assert_eq!(attributes["http.response.status_code"], code, "{name}: {span}");
            assert_eq!(attributes["herald.endpoint.id"], ep["id"], "{name}");
            assert_eq!(attributes["herald.event_type"], "order.paid", "{name}");
            assert!(attributes["herald.app.id"].as_str().is_some_and(|a| a.starts_with("app_")), "{name}: {span}");
            // The receiver got this attempt's own context.
            let sent = &arrived[n].headers["traceparent"];
            assert_eq!(sent, &format!("00-{trace}-{}-01", span["span_id"].as_str().unwrap()), "{name}");
        }
        assert_eq!(attempts[0]["status"], 2, "{name}: a failed attempt is an error span");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_endpoint_nothing_is_traced_and_receivers_get_no_traceparent() {
    let receiver = Receiver::start(|_| 200);
    let Some(mut herald) = Herald::start(testkit::Backend::Sqlite).await else { return };
    herald.start_worker(&[
        ("HERALD_TRACING_SEND_TRACEPARENT", "true"),
        ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#),
    ]);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "Shop", "uid": "shop"})).await;
    api.post("/app/shop/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    api.post("/app/shop/msg", &json!({"eventType": "order.paid", "payload": {}})).await;
    let arrived = receiver.wait_for(1, LONG).await;
    assert!(!arrived[0].headers.contains_key("traceparent"), "{:?}", arrived[0].headers);
    assert_eq!(herald.db.count_rows("message WHERE trace_context IS NOT NULL").await, 0);
}
