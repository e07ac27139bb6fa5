//! Messages through real HTTP on every backend: create (stored verbatim, 202), event id
//! de-duplication, filters, content on and off, expunge, size limit, inline application creation.

use serde_json::json;
use testkit::{Backend, Herald, on_every_backend};

on_every_backend! {
    async fn messages(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let name = backend.name();
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "app-a"})).await;

        let (status, msg) = api
            .post("/app/app-a/msg", &json!({"eventType": "user.signup", "eventId": "evt-1", "payload": {"user": {"id": 7}}, "channels": ["ch-1"]}))
            .await;
        assert_eq!(status, 202, "{name}: {msg}");
        let id = msg["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("msg_"));
        assert_eq!(msg["payload"], json!({"user": {"id": 7}}));
        assert!(msg["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));

        // The event id is unique per application.
        let (status, body) =
            api.post("/app/app-a/msg", &json!({"eventType": "user.signup", "eventId": "evt-1", "payload": {}})).await;
        assert_eq!(status, 409, "{name}: {body}");

        // More messages for the filters.
        api.post("/app/app-a/msg", &json!({"eventType": "invoice.paid", "payload": {"n": 1}, "channels": ["ch-2"]}))
            .await;
        api.post("/app/app-a/msg", &json!({"eventType": "invoice.paid", "payload": {"n": 2}})).await;

        assert_eq!(api.get(&format!("/app/app-a/msg/{id}")).await.1["eventId"], "evt-1");
        assert_eq!(api.get("/app/app-a/msg/evt-1").await.1["id"], id.as_str(), "{name}: get by event id");
        let (_, all) = api.get("/app/app-a/msg").await;
        let types: Vec<&str> = all["data"].as_array().unwrap().iter().filter_map(|m| m["eventType"].as_str()).collect();
        assert_eq!(types, ["invoice.paid", "invoice.paid", "user.signup"], "{name}: newest first");
        let (_, filtered) = api.get("/app/app-a/msg?event_types=user.signup").await;
        assert_eq!(filtered["data"].as_array().unwrap().len(), 1, "{name}");
        let (_, filtered) = api.get("/app/app-a/msg?channel=ch-2").await;
        assert_eq!(filtered["data"][0]["payload"], json!({"n": 1}), "{name}");
        // `_` is a LIKE wildcard: a channel with one must match itself only.
        api.post("/app/app-a/msg", &json!({"eventType": "a.b", "payload": {}, "channels": ["project_1337"]})).await;
        api.post("/app/app-a/msg", &json!({"eventType": "a.b", "payload": {}, "channels": ["projectX1337"]})).await;
        let (_, underscored) = api.get("/app/app-a/msg?channel=project_1337").await;
        assert_eq!(underscored["data"].as_array().map(Vec::len), Some(1), "{name}: {underscored}");
        let (_, none) = api.get("/app/app-a/msg?before=2000-01-01T00:00:00Z").await;
        assert_eq!(none["data"], json!([]));
        let (_, some) = api.get("/app/app-a/msg?after=2000-01-01T00:00:00Z&limit=2").await;
        assert_eq!((some["data"].as_array().unwrap().len(), &some["done"]), (2, &json!(false)));
        assert_eq!(api.get("/app/app-a/msg?after=yesterday").await.0, 422);
        let (_, bare) = api.get("/app/app-a/msg?with_content=false").await;
        assert_eq!(bare["data"][0]["payload"], json!({}));

        // Expunge keeps the message, drops the payload.
        assert_eq!(api.delete(&format!("/app/app-a/msg/{id}/content")).await.0, 204);
        let (status, expunged) = api.get(&format!("/app/app-a/msg/{id}")).await;
        assert_eq!((status, &expunged["payload"]), (200, &json!({})), "{name}");

        // The application is created inline when named and missing.
        let (status, body) = api
            .post("/app/new-app/msg", &json!({"eventType": "a.b", "payload": {}, "application": {"name": "Inline"}}))
            .await;
        assert_eq!(status, 202, "{name}: {body}");
        assert_eq!(api.get("/app/new-app").await.1["name"], "Inline");
        assert_eq!(api.post("/app/missing-app/msg", &json!({"eventType": "a.b", "payload": {}})).await.0, 404);
        assert_eq!(herald.client("org-b").get(&format!("/app/app-a/msg/{id}")).await.0, 404, "another org");

        for bad in [
            json!({"eventType": "a b", "payload": {}}),
            json!({"eventType": "a.b", "payload": [1]}),
            json!({"eventType": "a.b"}),
            json!({"eventType": "a.b", "payload": {}, "channels": []}),
            json!({"eventType": "a.b", "payload": {}, "channels": ["1", "2", "3", "4", "5", "6"]}),
            json!({"eventType": "a.b", "payload": {}, "payloadRetentionPeriod": 1}),
        ] {
            let (status, body) = api.post("/app/app-a/msg", &bad).await;
            assert_eq!(status, 422, "{name}: {bad} → {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn payloads_are_kept_verbatim_and_limited_in_size() {
    let Some(herald) = Herald::start_with(Backend::Sqlite, &[("HERALD_API_MAX_PAYLOAD_BYTES", "2048")]).await else {
        return;
    };
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    // Key order, spacing and number spelling survive, so signatures cover exactly what was sent.
    let text = r#"{"eventType":"x.y","payload":{ "z": 1.50, "a": [true, null] }}"#;
    let (status, msg) = api.raw("POST", "/app/a/msg", "application/json", text).await;
    assert_eq!(status, 202, "{msg}");
    let raw = testkit::http()
        .get(format!("http://{}/api/v1/app/a/msg/{}", herald.address, msg["id"].as_str().unwrap()))
        .bearer_auth(herald.token("org-a"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    assert!(raw.contains(r#""payload":{ "z": 1.50, "a": [true, null] }"#), "{raw}");

    let big = json!({"eventType": "x.y", "payload": {"blob": "x".repeat(3000)}});
    let (status, body) = api.post("/app/a/msg", &big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "payload_too_large");
    assert_eq!(api.get("/app/a/msg").await.1["data"].as_array().map(Vec::len), Some(1), "nothing stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_of_large_payloads_are_paged_within_a_memory_budget() {
    const MESSAGES: usize = 80;
    let Some(herald) = Herald::start(testkit::Backend::Sqlite).await else { return };
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    let big = "x".repeat(1_000_000);
    for i in 0..MESSAGES {
        let (status, _) = api
            .post("/app/a/msg?with_content=false", &json!({"eventType": "x.y", "payload": {"i": i, "big": big}}))
            .await;
        assert_eq!(status, 202);
    }
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let api = herald.client("org-a");
            tokio::spawn(async move {
                let (mut seen, mut iterator) = (0, None::<String>);
                loop {
                    let path = match &iterator {
                        Some(it) => format!("/app/a/msg?limit=250&with_content=true&iterator={it}"),
                        None => "/app/a/msg?limit=250&with_content=true".to_owned(),
                    };
                    let (status, page) = api.get(&path).await;
                    assert_eq!(status, 200);
                    let items = page["data"].as_array().expect("data");
                    assert!(items.len() <= 16, "a page holds at most 16 MiB of payloads: {}", items.len());
                    assert!(items.iter().all(|m| m["payload"]["big"].as_str().map(str::len) == Some(1_000_000)));
                    seen += items.len();
                    if page["done"] == true {
                        return seen;
                    }
                    iterator = page["iterator"].as_str().map(str::to_owned);
                }
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("lister"), MESSAGES, "every message is listed, page by page");
    }
    let peak = testkit::peak_rss(herald.web.pid());
    eprintln!("web peak RSS {} MiB", peak >> 20);
    assert!(peak < 512 << 20, "web's peak RSS was {} MiB", peak >> 20);
    // Without content no payload is read, and the page is as long as asked.
    let (_, light) = api.get("/app/a/msg?limit=250&with_content=false").await;
    assert_eq!(light["data"].as_array().map(Vec::len), Some(MESSAGES));
    assert_eq!(light["data"][0]["payload"], json!({}));
}

on_every_backend! {
    async fn payload_retention_is_given_in_days_or_hours_never_both(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        for good in [json!({"payloadRetentionHours": 1}), json!({"payloadRetentionHours": 2160})] {
            let mut body = json!({"eventType": "a.b", "payload": {}});
            body.as_object_mut().expect("object").extend(good.as_object().expect("object").clone());
            assert_eq!(api.post("/app/a/msg", &body).await.0, 202, "{body}");
        }
        for bad in [
            json!({"payloadRetentionHours": 0}),
            json!({"payloadRetentionHours": 2161}),
            json!({"payloadRetentionHours": 5, "payloadRetentionPeriod": 5}),
        ] {
            let mut body = json!({"eventType": "a.b", "payload": {}});
            body.as_object_mut().expect("object").extend(bad.as_object().expect("object").clone());
            let (status, answer) = api.post("/app/a/msg", &body).await;
            assert_eq!(status, 422, "{body} → {answer}");
            assert_eq!(answer["detail"][0]["loc"], json!(["body", "payloadRetentionHours"]), "{answer}");
        }
        assert_eq!(herald.db.count_rows("message").await, 2, "a refused message is not stored");
    }
}

on_every_backend! {
    async fn a_payload_past_its_retention_reads_as_empty_before_any_prune(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        let (_, msg) =
            api.post("/app/a/msg", &json!({"eventType": "a.b", "payload": {"k": 1}, "payloadRetentionHours": 1})).await;
        let path = format!("/app/a/msg/{}", msg["id"].as_str().expect("id"));
        assert_eq!(api.get(&path).await.1["payload"], json!({"k": 1}));

        assert_eq!(herald.db.execute("UPDATE message SET expires_at = '2000-01-01 00:00:00'").await, 1);
        assert_eq!(api.get(&path).await.1["payload"], json!({}), "expired: shown as expunged");
        assert_eq!(api.get("/app/a/msg").await.1["data"][0]["payload"], json!({}), "in lists too");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn payload_retention_hours_set_when_the_payload_expires() {
    // Read back through SQL, which is Postgres's here: the API never shows the expiry.
    let Some(herald) = Herald::start(Backend::Postgres).await else { return };
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/msg", &json!({"eventType": "a.b", "payload": {}, "payloadRetentionHours": 3})).await;
    api.post("/app/a/msg", &json!({"eventType": "a.b", "payload": {}, "payloadRetentionPeriod": 5})).await;
    api.post("/app/a/msg", &json!({"eventType": "a.b", "payload": {}})).await;
    let with = |span: &str| format!("UPDATE message SET tags = NULL WHERE expires_at = created_at + interval '{span}'");
    assert_eq!(herald.db.execute(&with("3 hours")).await, 1);
    assert_eq!(herald.db.execute(&with("5 days")).await, 1);
    assert_eq!(herald.db.execute(&with("90 days")).await, 1, "Svix's default: 90 days");
}
