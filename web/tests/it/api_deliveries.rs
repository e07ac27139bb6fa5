//! The API's view of delivery work on every backend: resend and send-example create real
//! deliveries; the message ↔ endpoint listings and stats show them; recover answers as Svix's;
//! app-portal tokens see one application; logout revokes.

use serde_json::json;
use testkit::{Client, Herald, on_every_backend};

on_every_backend! {
    async fn resend_and_send_example_create_deliveries(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let name = backend.name();
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        let (_, ep) = api.post("/app/a/endpoint", &json!({"url": "https://example.com/h", "uid": "ep"})).await;
        let ep_id = ep["id"].as_str().unwrap().to_owned();
        let (_, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"k": 1}})).await;
        let msg_id = msg["id"].as_str().unwrap().to_owned();

        // No attempts yet (the worker makes them).
        let (status, attempts) = api.get(&format!("/app/a/attempt/msg/{msg_id}")).await;
        assert_eq!((status, attempts["data"].clone()), (200, json!([])), "{name}");
        assert_eq!(api.get("/app/a/attempt/endpoint/ep").await.0, 200);
        assert_eq!(api.get(&format!("/app/a/msg/{msg_id}/attempt/atmpt_01NOSUCH0000000000000000000")).await.0, 404);

        // Resend schedules a manual delivery, visible from both sides.
        assert_eq!(api.post(&format!("/app/a/msg/{msg_id}/endpoint/ep/resend"), &json!({})).await.0, 202, "{name}");
        assert_eq!(
            api.post(&format!("/app/a/msg/{msg_id}/endpoint/ep/resend"), &json!({})).await.0,
            202,
            "again: same delivery"
        );
        let (_, endpoints) = api.get(&format!("/app/a/msg/{msg_id}/endpoint")).await;
        assert_eq!(endpoints["data"].as_array().unwrap().len(), 1, "{name}: {endpoints}");
        assert_eq!(endpoints["data"][0]["id"], ep_id.as_str());
        assert_eq!(endpoints["data"][0]["statusText"], "pending");
        assert!(endpoints["data"][0]["nextAttempt"].is_string());
        let (_, messages) = api.get("/app/a/endpoint/ep/msg").await;
        assert_eq!(messages["data"][0]["id"], msg_id.as_str(), "{name}: {messages}");
        assert_eq!(messages["data"][0]["payload"], json!({"k": 1}));
        assert_eq!(api.get("/app/a/endpoint/ep/stats").await.1["pending"], 1, "{name}");

        // send-example: a message for this endpoint only.
        let (status, example) = api.post("/app/a/endpoint/ep/send-example", &json!({"eventType": "x.y"})).await;
        assert_eq!(status, 200, "{name}: {example}");
        assert!(example["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(api.get("/app/a/endpoint/ep/stats").await.1["pending"], 2, "{name}");

        // The listings' filters.
        let count = |v: &serde_json::Value| v["data"].as_array().map_or(0, Vec::len);
        assert_eq!(count(&api.get("/app/a/endpoint/ep/msg?status=1").await.1), 2, "{name}: both pending");
        assert_eq!(count(&api.get("/app/a/endpoint/ep/msg?status=0").await.1), 0, "{name}: none succeeded yet");
        assert_eq!(count(&api.get("/app/a/endpoint/ep/msg?event_types=x.y").await.1), 2, "{name}");
        assert_eq!(count(&api.get("/app/a/endpoint/ep/msg?event_types=other").await.1), 0, "{name}");
        assert_eq!(count(&api.get("/app/a/endpoint/ep/msg?before=2000-01-01T00:00:00Z").await.1), 0, "{name}");
        assert_eq!(count(&api.get("/app/a/endpoint/ep/msg?channel=none").await.1), 0, "{name}");
        assert_eq!(api.get("/app/a/endpoint/ep/msg?status=9").await.0, 422);
        let (status, _) =
            api.get(&format!("/app/a/attempt/msg/{msg_id}?status_code_class=200&channel=c&event_types=x.y")).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(api.get("/app/a/attempt/endpoint/ep?status_code_class=250").await.0, 422);
        assert_eq!(api.get("/app/a/attempt/endpoint/ep?after=soon").await.0, 422);

        let (status, task) = api.post("/app/a/endpoint/ep/recover", &json!({"since": "2020-01-01T00:00:00Z"})).await;
        assert_eq!(status, 202, "{name}: {task}");
        assert_eq!(task["task"], "endpoint.recover");
        assert_eq!(api.post("/app/a/endpoint/ep/recover", &json!({"since": "last week"})).await.0, 422);
        assert_eq!(
            api.post(&format!("/app/a/msg/{msg_id}/endpoint/ep_01NOSUCH0000000000000000000/resend"), &json!({}))
                .await
                .0,
            404
        );
    }
}

on_every_backend! {
    async fn app_portal_tokens_see_one_application_and_logout_revokes(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let org = herald.client("org-a");
        org.post("/app", &json!({"name": "Mine", "uid": "mine"})).await;
        org.post("/app", &json!({"name": "Other", "uid": "other"})).await;
        org.post("/event-type", &json!({"name": "x.y", "description": "d"})).await;

        let (status, access) = org.post("/auth/app-portal-access/mine", &json!({"expiry": 3600})).await;
        assert_eq!(status, 200, "{access}");
        assert!(access["url"].as_str().is_some_and(|u| u.starts_with("http")));
        let portal = Client::new(&herald.address, access["token"].as_str().unwrap());
        assert_eq!(portal.get("/app/mine").await.0, 200);
        assert_eq!(portal.post("/app/mine/endpoint", &json!({"url": "https://e.com"})).await.0, 201);
        assert_eq!(portal.get("/app/other").await.0, 404, "another application is invisible");
        assert_eq!(portal.get("/app/other/endpoint").await.0, 404);
        assert_eq!(portal.get("/app").await.0, 403, "org-wide listing is refused");
        assert_eq!(portal.post("/app", &json!({"name": "x"})).await.0, 403);
        assert_eq!(portal.post("/event-type", &json!({"name": "a.b", "description": "d"})).await.0, 403);
        assert_eq!(portal.get("/event-type").await.0, 200, "event types are readable");
        assert_eq!(portal.post("/auth/app-portal-access/mine", &json!({})).await.0, 403);
        assert_eq!(org.post("/auth/app-portal-access/missing", &json!({})).await.0, 404);
        assert_eq!(org.post("/auth/app-portal-access/mine", &json!({"expiry": 0})).await.0, 422);

        assert_eq!(portal.post("/auth/logout", &json!({})).await.0, 204);
        assert_eq!(portal.get("/app/mine").await.0, 401, "logout revokes the token");
        assert_eq!(org.get("/app/mine").await.0, 200, "other tokens are unaffected");
    }
}

/// Asks for portal access to `mine` with forged proxy headers; returns the link handed out.
async fn portal_link(herald: &Herald) -> String {
    let token = herald.token("org-a");
    let response = testkit::http()
        .post(format!("http://{}/api/v1/auth/app-portal-access/mine", herald.address))
        .bearer_auth(token)
        .header("x-forwarded-host", "attacker.example")
        .header("x-forwarded-proto", "javascript")
        .header("forwarded", "host=attacker.example;proto=javascript")
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    body["url"].as_str().expect("url").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn portal_links_come_from_the_listening_address_never_from_request_headers() {
    let Some(herald) = Herald::start(testkit::Backend::Sqlite).await else { return };
    herald.client("org-a").post("/app", &json!({"name": "Mine", "uid": "mine"})).await;
    let url = portal_link(&herald).await;
    assert!(url.starts_with(&format!("http://{}/portal/#app=app_", herald.address)), "{url}");
    assert!(!url.contains("attacker"), "{url}");
}

#[tokio::test(flavor = "multi_thread")]
async fn portal_links_come_from_the_configured_public_url() {
    let env = [("HERALD_SERVE_PUBLIC_URL", "https://hooks.example.com/herald/")];
    let Some(herald) = Herald::start_with(testkit::Backend::Sqlite, &env).await else { return };
    herald.client("org-a").post("/app", &json!({"name": "Mine", "uid": "mine"})).await;
    let url = portal_link(&herald).await;
    assert!(url.starts_with("https://hooks.example.com/herald/portal/#app=app_"), "{url}");
}

on_every_backend! {
    async fn portal_tokens_cannot_change_or_delete_their_application(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let name = backend.name();
        let org = herald.client("org-a");
        org.post("/app", &json!({"name": "Mine", "uid": "mine"})).await;
        let (_, access) = org.post("/auth/app-portal-access/mine", &json!({})).await;
        let portal = Client::new(&herald.address, access["token"].as_str().expect("token"));
        assert_eq!(portal.patch("/app/mine", &json!({"name": "Taken", "uid": "taken"})).await.0, 403, "{name}");
        assert_eq!(portal.put("/app/mine", &json!({"name": "Taken"})).await.0, 403, "{name}");
        assert_eq!(portal.delete("/app/mine").await.0, 403, "{name}");
        let (status, app) = org.get("/app/mine").await;
        assert_eq!((status, &app["name"]), (200, &json!("Mine")), "{name}: unchanged");
        assert_eq!(portal.post("/app/mine/endpoint", &json!({"url": "https://e.com"})).await.0, 201, "{name}");
    }
}

on_every_backend! {
    async fn malformed_optional_bodies_are_refused_and_change_nothing(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let name = backend.name();
        let org = herald.client("org-a");
        org.post("/app", &json!({"name": "Mine", "uid": "mine"})).await;
        org.post("/app/mine/endpoint", &json!({"url": "https://e.com", "uid": "ep"})).await;
        let tokens = herald.db.count_rows("api_token").await;
        for body in [r#"{"expiry": -5}"#, r#"{"expiry": "60"}"#, r#"{"expiry": 60.5}"#, r#"{"expiry": "#, "[]"] {
            let (status, error) = org.raw("POST", "/auth/app-portal-access/mine", "application/json", body).await;
            assert!(matches!(status, 400 | 422), "{name}: {body} answered {status} {error}");
            assert!(error["code"].is_string() || error["detail"].is_array(), "{name}: an error body: {error}");
        }
        assert_eq!(herald.db.count_rows("api_token").await, tokens, "{name}: no token made");
        let (status, _) = org.raw("POST", "/auth/app-portal-access/mine", "application/json", "").await;
        assert_eq!(status, 200, "{name}: no body at all is fine");

        let (_, before) = org.get("/app/mine/endpoint/ep/secret").await;
        for body in [r#"{"gracePeriodSeconds": "0"}"#, r#"{"gracePeriodSeconds": -1}"#, r#"{"key": 5}"#, "{"] {
            let (status, error) =
                org.raw("POST", "/app/mine/endpoint/ep/secret/rotate", "application/json", body).await;
            assert!(matches!(status, 400 | 422), "{name}: {body} answered {status} {error}");
        }
        assert_eq!(org.get("/app/mine/endpoint/ep/secret").await.1, before, "{name}: the secret is unchanged");
        let (status, _) = org.raw("POST", "/app/mine/endpoint/ep/secret/rotate", "application/json", "").await;
        assert_eq!(status, 200, "{name}: no body rotates with a new secret");
        assert_ne!(org.get("/app/mine/endpoint/ep/secret").await.1, before, "{name}");
    }
}

on_every_backend! {
    async fn endpoint_stats_count_the_window_asked_for(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        api.post("/app/a/endpoint", &json!({"url": "https://example.com/h", "uid": "ep"})).await;
        let (_, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {}})).await;
        let msg_id = msg["id"].as_str().unwrap().to_owned();
        // Without a worker, a resend is the one delivery: made now, pending.
        api.post(&format!("/app/a/msg/{msg_id}/endpoint/ep/resend"), &json!({})).await;
        let pending = |since: &str, until: &str| {
            let path = format!("/app/a/endpoint/ep/stats?since={since}&until={until}");
            let api = api.clone();
            async move { api.get(&path).await.1["pending"].clone() }
        };
        assert_eq!(pending("2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z").await, 1);
        assert_eq!(pending("2999-01-01T00:00:00Z", "2999-01-02T00:00:00Z").await, 0, "a window in the future");
        assert_eq!(pending("2000-01-01T00:00:00Z", "2000-01-02T00:00:00Z").await, 0, "a window in the past");
        let (status, body) = api.get("/app/a/endpoint/ep/stats?since=yesterday").await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["detail"][0]["loc"], json!(["query", "since"]));
    }
}
