//! Retention in the worker, on every backend: workers prune in the background without any
//! scheduler, and a delivery whose message's payload retention ended is not sent but ended with
//! an attempt that says why.

use serde_json::json;
use std::time::Duration;
use testkit::{Herald, Receiver, eventually, on_every_backend};

const LONG: Duration = Duration::from_secs(30);
const LOOPBACK: &str = r#"["127.0.0.0/8"]"#;

on_every_backend! {
    async fn workers_prune_in_the_background_without_a_scheduler(backend) {
        let receiver = Receiver::start(|_| 200);
        let Some(mut herald) = Herald::start(backend).await else { return };
        let env = [
            ("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK),
            ("HERALD_RETENTION_PRUNE_INTERVAL", "1s"),
            ("HERALD_RETENTION_MESSAGES", "2s"),
        ];
        herald.start_worker(&env);
        let second = herald.spawn_worker(&env);
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
        for i in 0..5 {
            assert_eq!(api.post("/app/a/msg", &json!({"eventType": "e", "payload": {"n": i}})).await.0, 202);
        }
        receiver.wait_for(5, LONG).await;

        let left = eventually(LONG, || herald.db.count_rows("message"), |n| *n == 0).await;
        assert_eq!(left, 0, "the workers pruned the old messages");
        assert_eq!(herald.db.count_rows("attempt").await, 0, "with their attempts");
        // Each message was deleted once, by whichever worker held the lease at the time (which
        // logs it when its prune is over).
        let workers = [herald.worker.as_ref().expect("worker"), &second];
        let pruned = || async {
            workers
                .iter()
                .flat_map(|w| w.records())
                .filter(|r| r["msg"] == "pruned")
                .map(|r| r["messages"].as_u64().unwrap_or(0))
                .sum::<u64>()
        };
        assert_eq!(eventually(LONG, pruned, |n| *n >= 5).await, 5, "the 'pruned' lines account for every message");
    }
}

on_every_backend! {
    async fn a_retry_after_the_payload_expired_is_not_sent_and_says_why(backend) {
        // Fails the first call; would accept the retry.
        let receiver = Receiver::start(|n| if n == 0 { 500 } else { 200 });
        let Some(mut herald) = Herald::start(backend).await else { return };
        herald.start_worker(&[
            ("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK),
            ("HERALD_DELIVERY_RETRY_SCHEDULE", r#"["2s"]"#),
            ("HERALD_RETENTION_PRUNE_INTERVAL", "0s"),
        ]);
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
        let (_, msg) = api
            .post("/app/a/msg", &json!({"eventType": "e", "payload": {"secret": 1}, "payloadRetentionHours": 1}))
            .await;
        let id = msg["id"].as_str().expect("id").to_owned();
        receiver.wait_for(1, LONG).await;
        // The hour passes (no prune has run: the retry itself must notice).
        assert_eq!(herald.db.execute("UPDATE message SET expires_at = '2000-01-01 00:00:00'").await, 1);

        let path = format!("/app/a/attempt/msg/{id}");
        let attempts = eventually(LONG, || async { api.get(&path).await.1 }, |a| {
            a["data"].as_array().is_some_and(|d| d.len() == 2)
        })
        .await;
        let unsent = &attempts["data"][0];
        assert_eq!(unsent["responseStatusCode"], 0, "{attempts}");
        assert!(unsent["response"].as_str().is_some_and(|r| r.contains("expunged")), "{attempts}");
        assert_eq!(unsent["status"], 2, "recorded as failed");
        assert_eq!(receiver.received().len(), 1, "the retry was not sent");
        let status = api.get(&format!("/app/a/msg/{id}/endpoint")).await.1;
        assert_eq!(status["data"][0]["status"], 2, "the delivery ended: {status}");
        let shown = api.get(&format!("/app/a/msg/{id}")).await.1;
        assert_eq!(shown["payload"], json!({}), "{shown}");
    }
}
