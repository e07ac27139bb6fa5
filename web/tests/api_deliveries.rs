//! The API's view of delivery work on every backend: resend and send-example create real
//! deliveries; the message ↔ endpoint listings and stats show them; recover answers as Svix's;
//! app-portal tokens see one application; logout revokes.

use serde_json::json;
use testkit::{Client, Herald, backends};

#[tokio::test(flavor = "multi_thread")]
async fn resend_and_send_example_create_deliveries() {
    for backend in backends() {
        let Some(herald) = Herald::start(backend).await else { continue };
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

#[tokio::test(flavor = "multi_thread")]
async fn app_portal_tokens_see_one_application_and_logout_revokes() {
    for backend in backends() {
        let Some(herald) = Herald::start(backend).await else { continue };
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
