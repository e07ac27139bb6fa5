//! `Idempotency-Key`: repeats replay the first response; concurrent duplicates create one
//! resource; keys are scoped to the token; failures are not remembered.

use serde_json::{Value, json};
use testkit::{Herald, backends};

async fn post(http: &reqwest::Client, url: &str, token: &str, key: &str, body: &Value) -> (u16, Value) {
    let response =
        http.post(url).bearer_auth(token).header("idempotency-key", key).json(body).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn repeats_and_concurrent_duplicates_create_one_resource() {
    for backend in backends() {
        let Some(herald) = Herald::start(backend).await else { continue };
        let name = backend.name();
        let (token, other) = (herald.token("org-a"), herald.token("org-a"));
        let http = testkit::http();
        let apps = format!("http://{}/api/v1/app", herald.address);

        let first = post(&http, &apps, &token, "key-1", &json!({"name": "Once"})).await;
        assert_eq!(first.0, 201, "{name}");
        let again = post(&http, &apps, &token, "key-1", &json!({"name": "Once"})).await;
        assert_eq!(again, first, "{name}: the first response is replayed");
        let other_token = post(&http, &apps, &other, "key-1", &json!({"name": "Once"})).await;
        assert_ne!(other_token.1["id"], first.1["id"], "{name}: keys are per token");

        // Twenty concurrent duplicates: one application, every caller gets its response.
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (http, apps, token) = (http.clone(), apps.clone(), token.clone());
                tokio::spawn(async move { post(&http, &apps, &token, "key-race", &json!({"name": "Raced"})).await })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            let (status, body) = task.await.expect("task");
            assert_eq!(status, 201, "{name}: {body}");
            ids.push(body["id"].as_str().expect("id").to_owned());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{name}: one resource for all duplicates");
        let api = testkit::Client::new(&herald.address, &token);
        let (_, list) = api.get("/app?limit=100").await;
        let raced = list["data"].as_array().unwrap().iter().filter(|a| a["name"] == "Raced").count();
        assert_eq!(raced, 1, "{name}");

        // A 4xx answer is remembered too; messages are covered like every POST.
        let bad = post(&http, &apps, &token, "key-bad", &json!({"name": ""})).await;
        assert_eq!(bad.0, 422);
        assert_eq!(post(&http, &apps, &token, "key-bad", &json!({"name": "fixed"})).await, bad);
        let msgs = format!("{apps}/{}/msg", first.1["id"].as_str().unwrap());
        let m1 = post(&http, &msgs, &token, "msg-key", &json!({"eventType": "a.b", "payload": {}})).await;
        let m2 = post(&http, &msgs, &token, "msg-key", &json!({"eventType": "a.b", "payload": {}})).await;
        assert_eq!((m1.0, &m1.1["id"]), (202, &m2.1["id"]), "{name}");
        let long = "k".repeat(300);
        assert_eq!(post(&http, &apps, &token, &long, &json!({"name": "x"})).await.0, 400);
    }
}
