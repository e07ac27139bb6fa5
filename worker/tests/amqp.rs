//! The RabbitMQ transport: web publishes a dispatch job per message, workers consume it and fan
//! out at once — with the database poll set far beyond the test, only the broker can deliver in
//! time.

use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;
use testkit::{Backend, Herald, Receiver};

const LONG: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn messages_flow_through_rabbitmq() {
    let Some(url) = testkit::amqp_url() else { return };
    for backend in [Backend::Sqlite, Backend::Mysql] {
        let name = backend.name();
        let queue = format!("herald.test.{:016x}", rand_suffix());
        let broker = [("AMQP_URL", url.as_str()), ("HERALD_QUEUE_NAME", queue.as_str())];
        let Some(mut herald) = Herald::start_with(backend, &broker).await else { continue };
        herald.start_worker(&[
            broker[0],
            broker[1],
            ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#),
            ("HERALD_WORKER_POLL_INTERVAL", "10m"),
        ]);
        let worker = herald.worker.as_ref().expect("worker");
        assert!(
            worker.wait_for_msg(0, "consuming dispatch jobs", LONG).await.is_some(),
            "{name}: {:?}",
            worker.lines()
        );
        let receiver = Receiver::start(|_| 200);
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "A", "uid": "a"})).await;
        api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
        let mut sent = HashSet::new();
        for i in 0..20 {
            let (status, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"i": i}})).await;
            assert_eq!(status, 202);
            sent.insert(msg["id"].as_str().unwrap().to_owned());
        }
        let got: HashSet<String> =
            receiver.wait_for(20, LONG).await.iter().map(|r| r.headers["webhook-id"].clone()).collect();
        assert_eq!(got, sent, "{name}: every message through the broker");
        assert!(
            herald.problems().iter().all(|l| !l.contains("dispatch publish failed")),
            "{name}: {:?}",
            herald.problems()
        );
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}
