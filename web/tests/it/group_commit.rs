//! Group commit: concurrent publishes share one transaction, on every backend, and each
//! publisher still hears its own outcome (a used event id or an unknown application refuses that
//! publish alone). The crash test (worker/tests/it/crash.rs) shows every acknowledged publish
//! survives a database crash.

use futures_util::future::join_all;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use testkit::{Client, Herald, metric, on_every_backend};

/// Publishes sent at once per round.
const AT_ONCE: usize = 64;
/// Rounds to try before concluding publishes never shared a commit.
const ROUNDS: usize = 20;

/// Sends every `(app, body)` at once; the answers in the same order.
async fn publish_at_once(api: &Client, publishes: &[(String, Value)]) -> Vec<(u16, Value)> {
    let paths: Vec<String> = publishes.iter().map(|(app, _)| format!("/app/{app}/msg")).collect();
    join_all(publishes.iter().zip(&paths).map(|((_, body), path)| api.post(path, body))).await
}

/// Every message id of the application, paging through the list.
async fn listed(api: &Client, app: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut iterator = String::new();
    loop {
        let (status, page) = api.get(&format!("/app/{app}/msg?limit=250{iterator}")).await;
        assert_eq!(status, 200, "{page}");
        for m in page["data"].as_array().expect("data") {
            ids.insert(m["id"].as_str().expect("id").to_owned());
        }
        if page["done"] == true {
            return ids;
        }
        iterator = format!("&iterator={}", page["iterator"].as_str().expect("iterator"));
    }
}

on_every_backend! {
    async fn concurrent_publishes_share_commits_and_each_is_stored(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        let mut accepted = BTreeSet::new();
        for round in 0..ROUNDS {
            let publishes: Vec<(String, Value)> = (0..AT_ONCE)
                .map(|n| ("a".to_owned(), json!({"eventType": "x.y", "payload": {"round": round, "n": n}})))
                .collect();
            for (status, msg) in publish_at_once(&api, &publishes).await {
                assert_eq!(status, 202, "{msg}");
                accepted.insert(msg["id"].as_str().expect("id").to_owned());
            }
            let (batches, published) =
                (metric(&herald.address, "herald_publish_batch_size_count").await, metric(&herald.address, "herald_publish_batch_size_sum").await);
            if published > batches {
                assert_eq!(published as usize, accepted.len(), "every publish went through the group commit");
                assert_eq!(listed(&api, "a").await, accepted, "every accepted message is stored");
                return;
            }
        }
        panic!("{} publishes, {} at a time, never shared a commit", ROUNDS * AT_ONCE, AT_ONCE);
    }
}

on_every_backend! {
    async fn a_refused_publish_in_a_shared_commit_fails_alone(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        // Event ids already used: publishing them again must answer 409, whatever shares its commit.
        for n in 0..8 {
            let (status, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "eventId": format!("used-{n}"), "payload": {}})).await;
            assert_eq!(status, 202, "{msg}");
        }
        let mut accepted = listed(&api, "a").await;
        for round in 0..ROUNDS {
            // Mostly good publishes, with used event ids and an unknown application among them.
            let publishes: Vec<(String, Value)> = (0..AT_ONCE)
                .map(|n| match n % 8 {
                    0 => ("a".to_owned(), json!({"eventType": "x.y", "eventId": format!("used-{}", n / 8), "payload": {}})),
                    1 => ("missing".to_owned(), json!({"eventType": "x.y", "payload": {}})),
                    _ => ("a".to_owned(), json!({"eventType": "x.y", "eventId": format!("new-{round}-{n}"), "payload": {}})),
                })
                .collect();
            for (n, (status, msg)) in publish_at_once(&api, &publishes).await.into_iter().enumerate() {
                match n % 8 {
                    0 => assert_eq!(status, 409, "a used event id: {msg}"),
                    1 => assert_eq!(status, 404, "an unknown application: {msg}"),
                    _ => {
                        assert_eq!(status, 202, "{msg}");
                        accepted.insert(msg["id"].as_str().expect("id").to_owned());
                    }
                }
            }
            if metric(&herald.address, "herald_publish_batches_split_total").await > 0.0 {
                assert_eq!(listed(&api, "a").await, accepted, "exactly the accepted messages are stored");
                return;
            }
        }
        panic!("no used event id shared a commit in {ROUNDS} rounds of {AT_ONCE}");
    }
}
