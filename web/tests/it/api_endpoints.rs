//! Endpoints through real HTTP on every backend: CRUD, secrets (generated, supplied, rotated),
//! custom headers, stats, validation, and isolation between applications and orgs.

use serde_json::json;
use testkit::{Backend, Herald, on_every_backend};

on_every_backend! {
    async fn endpoints(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let name = backend.name();
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "app-a"})).await;
        api.post("/app", &json!({"name": "B", "uid": "app-b"})).await;

        let (status, ep) = api
            .post(
                "/app/app-a/endpoint",
                &json!({"url": "https://example.com/hook", "uid": "ep-1", "eventTypes": ["user.signup"], "channels": ["c1"], "metadata": {"k": "v"}}),
            )
            .await;
        assert_eq!(status, 201, "{name}: {ep}");
        let id = ep["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("ep_"));
        assert_eq!(ep["eventTypes"], json!(["user.signup"]));
        assert_eq!(ep["channels"], json!(["c1"]));
        assert_eq!(ep["disabled"], false);
        assert!(ep.get("secret").is_none(), "the secret is not part of EndpointOut");

        // Lookups by id and uid, only under the right application.
        assert_eq!(api.get("/app/app-a/endpoint/ep-1").await.1["id"], id.as_str());
        assert_eq!(api.get(&format!("/app/app-a/endpoint/{id}")).await.0, 200);
        assert_eq!(api.get(&format!("/app/app-b/endpoint/{id}")).await.0, 404, "{name}: another app's endpoint");
        assert_eq!(herald.client("org-b").get(&format!("/app/app-a/endpoint/{id}")).await.0, 404);
        assert_eq!(api.post("/app/app-a/endpoint", &json!({"url": "https://x.example", "uid": "ep-1"})).await.0, 409);
        assert_eq!(
            api.post("/app/app-b/endpoint", &json!({"url": "https://x.example", "uid": "ep-1"})).await.0,
            201,
            "uids are per app"
        );

        // The secret: generated as whsec_ + base64 of 24 bytes; rotation returns the new one.
        let (status, secret) = api.get("/app/app-a/endpoint/ep-1/secret").await;
        assert_eq!(status, 200);
        let first = secret["key"].as_str().unwrap().to_owned();
        assert!(first.starts_with("whsec_") && first.len() == 38, "{first}");
        let (status, rotated) = api.post("/app/app-a/endpoint/ep-1/secret/rotate", &json!({})).await;
        assert_eq!(status, 200, "{name}: {rotated}");
        let second = rotated["key"].as_str().unwrap().to_owned();
        assert_ne!(first, second);
        assert_eq!(api.get("/app/app-a/endpoint/ep-1/secret").await.1["key"], second.as_str());
        let chosen = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let (_, rotated) = api.post("/app/app-a/endpoint/ep-1/secret/rotate", &json!({"key": chosen})).await;
        assert_eq!(rotated["key"], chosen);
        assert_eq!(api.post("/app/app-a/endpoint/ep-1/secret/rotate", &json!({"key": "whsec_short"})).await.0, 422);
        let (_, supplied) = api
            .post(
                "/app/app-a/endpoint",
                &json!({"url": "https://example.com/2", "secret": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
            )
            .await;
        let path = format!("/app/app-a/endpoint/{}/secret", supplied["id"].as_str().unwrap());
        assert_eq!(api.get(&path).await.1["key"], chosen, "a supplied secret gets its whsec_ prefix");

        // Headers.
        assert_eq!(
            api.put("/app/app-a/endpoint/ep-1/headers", &json!({"headers": {"X-One": "1", "X-Two": "2"}})).await.0,
            204
        );
        assert_eq!(
            api.patch("/app/app-a/endpoint/ep-1/headers", &json!({"headers": {"X-One": null, "X-Three": "3"}})).await.0,
            204
        );
        let (_, headers) = api.get("/app/app-a/endpoint/ep-1/headers").await;
        assert_eq!(headers["headers"], json!({"X-Three": "3", "X-Two": "2"}), "{name}");
        assert_eq!(api.put("/app/app-a/endpoint/ep-1/headers", &json!({"headers": {"webhook-id": "x"}})).await.0, 422);
        assert_eq!(api.put("/app/app-a/endpoint/ep-1/headers", &json!({"headers": {"bad header": "x"}})).await.0, 422);

        // Update, patch, stats, delete.
        let (status, body) =
            api.put("/app/app-a/endpoint/ep-1", &json!({"url": "https://example.com/new", "uid": "ep-1"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["eventTypes"], serde_json::Value::Null, "PUT replaces filters");
        let (_, body) = api.patch("/app/app-a/endpoint/ep-1", &json!({"disabled": true, "channels": ["c2"]})).await;
        assert_eq!((body["disabled"].as_bool(), body["channels"].clone()), (Some(true), json!(["c2"])));
        assert_eq!(body["url"], "https://example.com/new");
        let (status, stats) = api.get("/app/app-a/endpoint/ep-1/stats").await;
        assert_eq!(status, 200);
        assert_eq!(stats, json!({"success": 0, "fail": 0, "pending": 0, "sending": 0, "canceled": 0}));
        let (_, list) = api.get("/app/app-a/endpoint").await;
        assert_eq!(list["data"].as_array().unwrap().len(), 2, "{name}");
        assert_eq!(api.delete("/app/app-a/endpoint/ep-1").await.0, 204);
        assert_eq!(api.get("/app/app-a/endpoint/ep-1").await.0, 404);

        // Invalid input.
        for bad in [
            json!({"url": "ftp://example.com"}),
            json!({"url": "not a url"}),
            json!({"url": "https://e.com", "eventTypes": []}),
            json!({"url": "https://e.com", "eventTypes": ["a.b", "a.b"]}),
            json!({"url": "https://e.com", "channels": ["a b"]}),
            json!({"url": "https://e.com", "throttleRate": 0}),
            json!({"url": "https://e.com", "secret": "whsec_tooshort"}),
            json!({"uid": "x"}),
        ] {
            let (status, body) = api.post("/app/app-a/endpoint", &bad).await;
            assert_eq!(status, 422, "{name}: {bad} → {body}");
        }
        // Deleting the application removes its endpoints.
        assert_eq!(api.delete("/app/app-b").await.0, 204);
        assert_eq!(api.get("/app/app-b/endpoint").await.0, 404);
    }
}

on_every_backend! {
    async fn urls_are_normalised_and_what_a_url_cannot_hold_is_refused(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let name = backend.name();
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        for bad in [
            "https://e.com/a\r\nX-Injected: 1",
            " https://e.com/",
            "https://e.com/ ",
            "https://e.com/\ta",
            "https://e .com/",
            "https://e.com/a b",
            "https://e.com/\u{0}",
            "https://e.com/\u{a0}",
        ] {
            let (status, body) = api.post("/app/a/endpoint", &json!({ "url": bad })).await;
            assert_eq!(status, 422, "{name}: {bad:?} → {body}");
            assert_eq!(body["detail"][0]["loc"], json!(["body", "url"]), "{name}: {body}");
        }
        let (status, endpoint) =
            api.post("/app/a/endpoint", &json!({"url": "HTTPS://Example.COM:443/a/../b?q=1", "uid": "ep"})).await;
        assert_eq!(status, 201, "{name}: {endpoint}");
        assert_eq!(endpoint["url"], "https://example.com/b?q=1", "{name}");
        let (status, _) = api.patch("/app/a/endpoint/ep", &json!({"url": "https://e.com/\r\n"})).await;
        assert_eq!(status, 422, "{name}: PATCH refuses it too");
        let (status, _) = api.put("/app/a/endpoint/ep", &json!({"url": " https://e.com/"})).await;
        assert_eq!(status, 422, "{name}: PUT refuses it too");
        assert_eq!(api.get("/app/a/endpoint/ep").await.1["url"], "https://example.com/b?q=1", "{name}: unchanged");
        let (_, list) = api.get("/app/a/endpoint").await;
        assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{name}: nothing stored: {list}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hop_by_hop_and_encoding_headers_are_refused_as_custom_headers() {
    let Some(herald) = Herald::start(testkit::Backend::Sqlite).await else { return };
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": "https://e.com/", "uid": "ep"})).await;
    for header in ["TE", "Upgrade", "Expect", "Content-Encoding", "Proxy-Connection", "Keep-Alive", "Trailer"] {
        let (status, body) = api.put("/app/a/endpoint/ep/headers", &json!({"headers": {header: "x"}})).await;
        assert_eq!(status, 422, "{header}: {body}");
        let (status, _) = api.patch("/app/a/endpoint/ep/headers", &json!({"headers": {header: "x"}})).await;
        assert_eq!(status, 422, "{header}");
    }
    assert_eq!(api.get("/app/a/endpoint/ep/headers").await.1["headers"], json!({}));
}

const HEADERS: usize = 8;
const DESCRIPTIONS: usize = 8;
const ROTATIONS: usize = 4;

on_every_backend! {
    async fn concurrent_changes_to_an_endpoint_never_lose_one_another(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let name = backend.name();
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        let (_, created) = api.post("/app/a/endpoint", &json!({"url": "https://e.com/", "uid": "ep"})).await;
        assert_eq!(created["version"], 1);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..HEADERS {
            let api = herald.client("org-a");
            tasks.spawn(async move {
                api.patch("/app/a/endpoint/ep/headers", &json!({"headers": {format!("X-H{i}"): "v"}})).await
            });
        }
        for i in 0..DESCRIPTIONS {
            let api = herald.client("org-a");
            tasks.spawn(async move { api.patch("/app/a/endpoint/ep", &json!({"description": format!("d{i}")})).await });
        }
        for _ in 0..ROTATIONS {
            let api = herald.client("org-a");
            tasks.spawn(async move { api.post("/app/a/endpoint/ep/secret/rotate", &json!({})).await });
        }
        let api_disable = herald.client("org-a");
        tasks.spawn(async move { api_disable.patch("/app/a/endpoint/ep", &json!({"disabled": true})).await });
        let mut rotated = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (status, body) = done.expect("task");
            assert!(matches!(status, 200 | 204), "{name}: {status} {body}");
            if let Some(key) = body["key"].as_str() {
                rotated.push(key.to_owned());
            }
        }
        let (_, endpoint) = api.get("/app/a/endpoint/ep").await;
        let changes = HEADERS + DESCRIPTIONS + ROTATIONS + 1;
        assert_eq!(endpoint["version"], 1 + changes, "{name}: every change bumped the version once: {endpoint}");
        assert_eq!(endpoint["disabled"], true, "{name}");
        let description = endpoint["description"].as_str().unwrap_or_default();
        assert!((0..DESCRIPTIONS).any(|i| description == format!("d{i}")), "{name}: {endpoint}");
        let (_, headers) = api.get("/app/a/endpoint/ep/headers").await;
        let kept = headers["headers"].as_object().map_or(0, |h| h.len());
        assert_eq!(kept, HEADERS, "{name}: every header added concurrently is there: {headers}");
        let (_, secret) = api.get("/app/a/endpoint/ep/secret").await;
        assert!(rotated.iter().any(|k| secret["key"] == *k), "{name}: the secret is one a rotation handed out");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_stored_value_is_a_logged_500_never_a_silent_default() {
    let Some(herald) = Herald::start(Backend::Sqlite).await else { return };
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    let (_, endpoint) = api.post("/app/a/endpoint", &json!({"url": "https://example.com/hook", "uid": "e"})).await;
    let (status, _) = api.put("/app/a/endpoint/e/headers", &json!({"headers": {"X-Tenant": "acme"}})).await;
    assert_eq!(status, 204);
    let id = endpoint["id"].as_str().expect("id");
    assert_eq!(
        herald.db.execute(&format!("UPDATE endpoint SET headers = '{{\"X-Tenant\":' WHERE id = '{id}'")).await,
        1
    );

    // Not `{}` (which a PATCH would then have written back, losing the headers for good).
    let (status, body) = api.get("/app/a/endpoint/e/headers").await;
    assert_eq!((status, body["code"].as_str()), (500, Some("internal_error")), "{body}");
    let logged = herald
        .web
        .wait_for_record(0, std::time::Duration::from_secs(5), |r| r["msg"] == "request" && r["status"] == 500)
        .await
        .expect("the 500 is logged");
    assert!(logged["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{logged}");
    assert_eq!(
        (logged["level"].as_str(), logged["fault"].as_str()),
        (Some("ERRO"), Some("internal error")),
        "{logged}"
    );
    let error = logged["error"].as_str().unwrap_or_default();
    let row = format!("stored JSON in endpoint {id}, column headers is not a valid");
    assert!(error.contains(&row), "names the row, the column and the type: {error}");
    let internal = herald.problems().into_iter().filter(|l| l.contains("internal error")).count();
    assert_eq!(internal, 1, "logged once");
}

on_every_backend! {
    async fn a_disabled_endpoint_says_a_call_disabled_it_until_enabled_again(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let name = backend.name();
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        let (_, created) = api.post("/app/a/endpoint", &json!({"url": "https://example.com/1", "uid": "off", "disabled": true})).await;
        assert_eq!(created["disabledTrigger"], "manual", "{name}: created disabled: {created}");
        let (_, on) = api.patch("/app/a/endpoint/off", &json!({"disabled": false})).await;
        assert_eq!(on["disabledTrigger"], json!(null), "{name}: enabled: {on}");
        let (_, off) = api.patch("/app/a/endpoint/off", &json!({"disabled": true})).await;
        assert_eq!(off["disabledTrigger"], "manual", "{name}: patched: {off}");
        let (_, put) = api.put("/app/a/endpoint/off", &json!({"url": "https://example.com/1", "disabled": false})).await;
        assert_eq!(put["disabledTrigger"], json!(null), "{name}: put: {put}");
        assert_eq!(put["failSince"], json!(null), "{name}: never failed: {put}");
    }
}
