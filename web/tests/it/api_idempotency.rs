//! `Idempotency-Key`: repeats replay the first response; concurrent duplicates create one
//! resource; keys are scoped to the token; failures are not remembered.

use serde_json::{Value, json};
use testkit::{Herald, on_backends, on_every_backend};

async fn post(http: &reqwest::Client, url: &str, token: &str, key: &str, body: &Value) -> (u16, Value) {
    let response =
        http.post(url).bearer_auth(token).header("idempotency-key", key).json(body).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

on_every_backend! {
    async fn repeats_and_concurrent_duplicates_create_one_resource(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
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

on_every_backend! {
    async fn a_key_with_an_invalid_token_is_refused_and_stores_nothing(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let name = backend.name();
        let http = testkit::http();
        let base = format!("http://{}/api/v1", herald.address);
        for (path, body) in [("/app", json!({"name": "A"})), ("/app/a/msg", json!({"eventType": "a.b", "payload": {}}))]
        {
            for token in ["bogus", "tok_0000000000000000000000000000.c2VjcmV0"] {
                let (status, error) = post(&http, &format!("{base}{path}"), token, "fresh-key", &body).await;
                assert_eq!(status, 401, "{name} {path}: {error}");
            }
        }
        assert_eq!(herald.db.count_rows("idempotency_key").await, 0, "{name}: nothing stored without a valid token");
    }
}

/// Publishes message `i` with its own key until web answers 202; returns the message id and
/// how many tries it took.
async fn publish_until_accepted(address: &str, token: &str, i: usize) -> (String, usize) {
    let http = testkit::http();
    for tries in 1.. {
        let sent = http
            .post(format!("http://{address}/api/v1/app/a/msg"))
            .bearer_auth(token)
            .header("idempotency-key", format!("crash-{i}"))
            .json(&json!({"eventType": "x.y", "payload": {"i": i}}))
            .timeout(std::time::Duration::from_secs(10))
            .send()
            .await;
        if let Ok(response) = sent
            && response.status() == 202
            && let Ok(body) = response.json::<Value>().await
        {
            return (body["id"].as_str().expect("message id").to_owned(), tries);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    unreachable!()
}

on_backends! {
    [Sqlite, Postgres]
    async fn a_key_stores_exactly_one_message_however_often_web_is_killed(backend) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{Arc, Mutex};
        const MESSAGES: usize = 1500;
        const PUBLISHERS: usize = 32;
        const KILLS: usize = 3;
        let Some(mut herald) = Herald::start(backend).await else { return };
        let name = backend.name();
        let token = herald.token("org-a");
        herald.client("org-a").post("/app", &json!({"name": "A", "uid": "a"})).await;
        let next = Arc::new(AtomicUsize::new(0));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let started = std::time::Instant::now();
        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|_| {
                let (next, acknowledged, address, token) =
                    (next.clone(), acknowledged.clone(), herald.address.clone(), token.clone());
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= MESSAGES {
                            return;
                        }
                        let began = std::time::Instant::now();
                        let (id, tries) = publish_until_accepted(&address, &token, i).await;
                        acknowledged.lock().unwrap().push((i, id, tries, began.elapsed()));
                    }
                })
            })
            .collect();
        for kill in 1..=KILLS {
            while next.load(Ordering::Relaxed) < MESSAGES * kill / (KILLS + 1) {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            herald.kill_and_restart_web(&[]).await;
        }
        for publisher in publishers {
            publisher.await.expect("publisher");
        }
        let acknowledged = acknowledged.lock().unwrap().clone();
        let ids: std::collections::HashSet<_> = acknowledged.iter().map(|(_, id, _, _)| id.clone()).collect();
        assert_eq!(acknowledged.len(), MESSAGES, "{name}");
        assert_eq!(ids.len(), MESSAGES, "{name}: every key answered with its own message");
        let stored = herald.db.count_rows("message").await;
        let retried = acknowledged.iter().filter(|(_, _, tries, _)| *tries > 1).count();
        let longest = acknowledged.iter().map(|(_, _, _, took)| *took).max().unwrap_or_default();
        eprintln!(
            "{name}: {MESSAGES} acknowledged, {stored} stored, {retried} retried, longest publish {longest:?}, \
             {KILLS} SIGKILLs, {:.1} s",
            started.elapsed().as_secs_f64()
        );
        assert_eq!(stored, MESSAGES as i64, "{name}: one stored message per key");
    }
}
