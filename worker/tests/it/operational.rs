//! Operational webhooks end to end: an operator who created their organisation's
//! `herald-operational` application and an endpoint on it gets Svix's operational events from a
//! real worker, signed like any webhook and verified with the `svix` library's `Webhook`.

use super::delivery::verify_with_receiver_libraries;
use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Backend, Herald, Receiver, on_backends, on_every_backend};

const LONG: Duration = Duration::from_secs(30);
const LOOPBACK: (&str, &str) = ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#);
/// Five attempts: the fourth failure is `failing`, the fifth `exhausted`.
const FIVE_ATTEMPTS: (&str, &str) = ("HERALD_DELIVERY_RETRY_SCHEDULE", r#"["100ms", "100ms", "100ms", "100ms"]"#);

/// The operator's subscription: the reserved application and an endpoint on it at `receiver`
/// taking `types` (every type when `None`); returns the endpoint's signing secret.
async fn subscribe(api: &testkit::Client, receiver: &Receiver, types: Option<&[&str]>) -> String {
    let (status, _) = api.post("/app", &json!({"name": "Operations", "uid": "herald-operational"})).await;
    assert_eq!(status, 201);
    let mut endpoint = json!({"url": format!("{}/ops", receiver.url), "uid": "ops"});
    if let Some(types) = types {
        endpoint["filterTypes"] = json!(types);
    }
    let (status, _) = api.post("/app/herald-operational/endpoint", &endpoint).await;
    assert_eq!(status, 201);
    let (_, secret) = api.get("/app/herald-operational/endpoint/ops/secret").await;
    secret["key"].as_str().expect("secret").to_owned()
}

/// The bodies the operator's receiver got, parsed.
fn events(receiver: &Receiver) -> Vec<Value> {
    receiver.received().iter().map(|r| serde_json::from_slice(&r.body).expect("a JSON body")).collect()
}

/// Waits until the operator's receiver has an event of each of `types`; returns every event.
async fn wait_for_types(receiver: &Receiver, types: &[&str]) -> Vec<Value> {
    let has_all = |got: &Vec<Value>| types.iter().all(|t| got.iter().any(|e| e["type"] == *t));
    testkit::eventually(LONG, || async { events(receiver) }, has_all).await
}

fn of_type<'a>(events: &'a [Value], name: &str) -> &'a Value {
    events.iter().find(|e| e["type"] == name).unwrap_or_else(|| panic!("no {name} in {events:?}"))
}

on_every_backend! {
    async fn failing_and_exhausted_deliveries_reach_the_operator_signed(backend) {
        let name = backend.name();
        let (ops, broken) = (Receiver::start(|_| 200), Receiver::start(|_| 500));
        let Some(mut herald) = Herald::start(backend).await else { return };
        herald.start_worker(&[LOOPBACK, FIVE_ATTEMPTS]);
        let api = herald.client("org-a");
        let secret = subscribe(&api, &ops, None).await;
        api.post("/app", &json!({"name": "Shop", "uid": "shop"})).await;
        let (_, ep) = api.post("/app/shop/endpoint", &json!({"url": format!("{}/down", broken.url)})).await;
        let (_, msg) = api.post("/app/shop/msg", &json!({"eventType": "order.paid", "eventId": "order-7", "payload": {}})).await;

        let got = wait_for_types(&ops, &["message.attempt.failing", "message.attempt.exhausted"]).await;
        for (event, attempt) in [("message.attempt.failing", 4), ("message.attempt.exhausted", 5)] {
            let data = &of_type(&got, event)["data"];
            assert_eq!(data["appUid"], "shop", "{name}: {data}");
            assert_eq!(data["endpointId"], ep["id"], "{name}: {data}");
            assert_eq!(data["msgId"], msg["id"], "{name}: {data}");
            assert_eq!(data["msgEventId"], "order-7", "{name}: {data}");
            assert_eq!(data["lastAttempt"]["responseStatusCode"], 500, "{name}: {data}");
            // The attempt named is the n-th one of the message, as the API lists it.
            let (_, attempts) = api.get(&format!("/app/shop/attempt/msg/{}", msg["id"].as_str().unwrap())).await;
            let listed = attempts["data"].as_array().expect("attempts");
            let nth = &listed[listed.len() - attempt];
            assert_eq!(data["lastAttempt"]["id"], nth["id"], "{name}: {data} against {attempts}");
        }
        let created = of_type(&got, "endpoint.created");
        assert_eq!(created["data"]["endpointId"], ep["id"], "{name}");
        assert!(
            got.iter().all(|e| e["data"]["appUid"] != "herald-operational"),
            "{name}: nothing about the operational application itself: {got:?}"
        );
        verify_with_receiver_libraries(&secret, &ops.received()).await;
    }
}

on_every_backend! {
    async fn an_endpoint_disabled_for_failing_is_reported_with_why(backend) {
        let name = backend.name();
        let (ops, broken) = (Receiver::start(|_| 200), Receiver::start(|_| 500));
        let Some(mut herald) = Herald::start(backend).await else { return };
        herald.start_worker(&[
            LOOPBACK,
            ("HERALD_DELIVERY_RETRY_SCHEDULE", r#"["300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms"]"#),
            ("HERALD_DELIVERY_DISABLE_ENDPOINT_AFTER", "1s"),
        ]);
        let api = herald.client("org-a");
        let secret = subscribe(&api, &ops, Some(&["endpoint.disabled"])).await;
        api.post("/app", &json!({"name": "Shop", "uid": "shop"})).await;
        api.post("/app/shop/endpoint", &json!({"url": format!("{}/down", broken.url), "uid": "down"})).await;
        api.post("/app/shop/msg", &json!({"eventType": "order.paid", "payload": {}})).await;

        let got = wait_for_types(&ops, &["endpoint.disabled"]).await;
        let data = &of_type(&got, "endpoint.disabled")["data"];
        assert_eq!(data["trigger"], "automatic", "{name}: {data}");
        assert_eq!(data["appUid"], "shop", "{name}: {data}");
        assert_eq!(data["endpointUid"], "down", "{name}: {data}");
        let since = data["failSince"].as_str().expect("failSince");
        let (_, endpoint) = api.get("/app/shop/endpoint/down").await;
        assert_eq!(endpoint["disabled"], true, "{name}");
        assert!(since <= endpoint["updatedAt"].as_str().unwrap(), "{name}: failing since before it was disabled");
        assert!(got.iter().all(|e| e["type"] == "endpoint.disabled"), "{name}: the filter holds: {got:?}");
        verify_with_receiver_libraries(&secret, &ops.received()).await;
    }
}

on_every_backend! {
    async fn endpoint_calls_are_reported_and_an_org_without_the_application_gets_no_rows(backend) {
        let name = backend.name();
        let ops = Receiver::start(|_| 200);
        let Some(mut herald) = Herald::start(backend).await else { return };
        herald.start_worker(&[LOOPBACK]);
        let api = herald.client("org-a");
        subscribe(&api, &ops, None).await;
        api.post("/app", &json!({"name": "Shop", "uid": "shop"})).await;
        let url = "https://example.com/hook";
        api.post("/app/shop/endpoint", &json!({"url": url, "uid": "e1"})).await;
        api.patch("/app/shop/endpoint/e1", &json!({"uid": "e2"})).await;
        api.put("/app/shop/endpoint/e2", &json!({"url": url, "uid": "e2", "disabled": true})).await;
        // Neither a rotated secret nor new headers are reported (as in Svix).
        api.post("/app/shop/endpoint/e2/secret/rotate", &json!({})).await;
        api.put("/app/shop/endpoint/e2/headers", &json!({"headers": {"X-A": "b"}})).await;
        api.delete("/app/shop/endpoint/e2").await;

        let got = wait_for_types(&ops, &["endpoint.deleted"]).await;
        let seen: Vec<(&str, &str)> =
            got.iter().map(|e| (e["type"].as_str().unwrap(), e["data"]["endpointUid"].as_str().unwrap())).collect();
        let mut sorted = seen.clone();
        sorted.sort();
        let mut expected = vec![
            ("endpoint.created", "e1"),
            ("endpoint.updated", "e2"),
            ("endpoint.updated", "e2"),
            ("endpoint.disabled", "e2"),
            ("endpoint.deleted", "e2"),
        ];
        expected.sort();
        assert_eq!(sorted, expected, "{name}: {got:?}");
        let disabled = &of_type(&got, "endpoint.disabled")["data"];
        assert_eq!(disabled["trigger"], "manual", "{name}: {disabled}");
        assert_eq!(disabled["failSince"], Value::Null, "{name}: it was not failing: {disabled}");

        // An organisation that never subscribed: its calls store nothing besides themselves.
        let other = herald.client("org-b");
        other.post("/app", &json!({"name": "B", "uid": "b"})).await;
        other.post("/app/b/endpoint", &json!({"url": url, "uid": "e"})).await;
        other.patch("/app/b/endpoint/e", &json!({"disabled": true})).await;
        other.delete("/app/b/endpoint/e").await;
        assert_eq!(herald.db.count_rows("message WHERE org_id = 'org-b'").await, 0, "{name}");
    }
}

on_backends! {
    [Sqlite]
    async fn a_delivery_that_succeeds_after_failing_is_reported_recovered(backend) {
        let ops = Receiver::start(|_| 200);
        // Four failures, then a success.
        let flaky = Receiver::start(|n| if n < 4 { 503 } else { 200 });
        let Some(mut herald) = Herald::start(backend).await else { return };
        herald.start_worker(&[LOOPBACK, FIVE_ATTEMPTS]);
        let api = herald.client("org-a");
        subscribe(&api, &ops, Some(&["message.attempt.failing", "message.attempt.recovered"])).await;
        api.post("/app", &json!({"name": "Shop", "uid": "shop"})).await;
        api.post("/app/shop/endpoint", &json!({"url": format!("{}/flaky", flaky.url)})).await;
        let (_, msg) = api.post("/app/shop/msg", &json!({"eventType": "order.paid", "payload": {}})).await;

        let got = wait_for_types(&ops, &["message.attempt.failing", "message.attempt.recovered"]).await;
        let recovered = &of_type(&got, "message.attempt.recovered")["data"];
        assert_eq!(recovered["msgId"], msg["id"], "{recovered}");
        assert_eq!(recovered["lastAttempt"]["responseStatusCode"], 200, "{recovered}");
        assert_eq!(of_type(&got, "message.attempt.failing")["data"]["lastAttempt"]["responseStatusCode"], 503);
        assert_eq!(flaky.received().len(), 5);
    }
}

on_backends! {
    [Sqlite]
    async fn a_failing_operator_endpoint_does_not_feed_itself(backend) {
        // The operator's own receiver is down too: its deliveries exhaust, and that is not
        // reported to it (which would fail, and be reported, without end).
        let (ops, broken) = (Receiver::start(|_| 500), Receiver::start(|_| 500));
        let Some(mut herald) = Herald::start(backend).await else { return };
        herald.start_worker(&[LOOPBACK, FIVE_ATTEMPTS]);
        let api = herald.client("org-a");
        subscribe(&api, &ops, Some(&["message.attempt.exhausted"])).await;
        api.post("/app", &json!({"name": "Shop", "uid": "shop"})).await;
        api.post("/app/shop/endpoint", &json!({"url": format!("{}/down", broken.url)})).await;
        api.post("/app/shop/msg", &json!({"eventType": "order.paid", "payload": {}})).await;

        // The one event (exhausted) is tried five times, then given up.
        let tried = testkit::eventually(LONG, || async { ops.received().len() }, |n| *n >= 5).await;
        assert_eq!(tried, 5);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(ops.received().len(), 5, "no event about the operator's own failures");
        let stored = herald.db.count_rows("message").await;
        // The shop's message, endpoint.created, failing and exhausted: nothing more.
        assert_eq!(stored, 4);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn operational_events_travel_through_rabbitmq() {
    let Some(url) = testkit::amqp_url() else { return };
    let queue = format!("herald.test.ops.{}", std::process::id());
    let broker = [("AMQP_URL", url.as_str()), ("HERALD_QUEUE_NAME", queue.as_str())];
    let (ops, broken) = (Receiver::start(|_| 200), Receiver::start(|_| 500));
    let Some(mut herald) = Herald::start_with(Backend::Postgres, &broker).await else { return };
    // The database is polled far less often than the test lasts: only dispatch jobs published
    // by web (for the endpoint's creation) and by the worker (for the exhausted delivery) can
    // bring the events in time.
    herald.start_worker(&[
        broker[0],
        broker[1],
        LOOPBACK,
        // No retries: the first failure exhausts the delivery, with no retry left to wait for.
        ("HERALD_DELIVERY_RETRY_SCHEDULE", "[]"),
        ("HERALD_WORKER_POLL_INTERVAL", "10m"),
    ]);
    let api = herald.client("org-a");
    let secret = subscribe(&api, &ops, None).await;
    api.post("/app", &json!({"name": "Shop", "uid": "shop"})).await;
    api.post("/app/shop/endpoint", &json!({"url": format!("{}/down", broken.url)})).await;
    api.post("/app/shop/msg", &json!({"eventType": "order.paid", "payload": {}})).await;
    let got = wait_for_types(&ops, &["endpoint.created", "message.attempt.exhausted"]).await;
    assert_eq!(of_type(&got, "message.attempt.exhausted")["data"]["appUid"], "shop");
    verify_with_receiver_libraries(&secret, &ops.received()).await;
}
