//! Nothing is lost under faults, at scale: 2 000 messages are published while workers are
//! SIGKILLed and replaced again and again, web is SIGKILLed and restarted, and (on the RabbitMQ
//! transport) the broker is restarted. Every message must reach the receiver at least once,
//! counted by `webhook-id`; the duplicate rate is printed. On both transports, on SQLite and
//! Postgres.
//!
//! Restarting RabbitMQ disturbs every other test using it, so nextest runs this test alone
//! (`.config/nextest.toml`).

use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::{Backend, Herald, Receiver, Running, on_backends};

const MESSAGES: usize = 2000;
const PUBLISHERS: usize = 8;
const WORKERS: usize = 2;
const DEADLINE: Duration = Duration::from_secs(180);
/// A worker is SIGKILLed (and replaced) this often while deliveries are under way.
const KILL_EVERY: Duration = Duration::from_secs(1);

/// Publishes message `i` until the API accepts it. A request cut by web's death may or may not
/// have stored the message, so every retry carries the same `Idempotency-Key`: the message is
/// stored once and the retry learns its id.
async fn publish(address: &str, token: &str, i: usize) -> String {
    let http = testkit::http();
    loop {
        let sent = http
            .post(format!("http://{address}/api/v1/app/a/msg"))
            .bearer_auth(token)
            .header("idempotency-key", format!("chaos-{i}"))
            .json(&json!({"eventType": "x.y", "payload": {"i": i}}))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Ok(response) = sent
            && response.status() == 202
            && let Ok(body) = response.json::<serde_json::Value>().await
        {
            return body["id"].as_str().expect("message id").to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn restart_rabbitmq() {
    for step in ["stop_app", "start_app"] {
        let out = std::process::Command::new("rabbitmqctl").arg(step).output().expect("run rabbitmqctl");
        assert!(out.status.success(), "rabbitmqctl {step}: {}", String::from_utf8_lossy(&out.stderr));
        if step == "stop_app" {
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}

fn wait_for_rabbitmq() {
    let out = std::process::Command::new("rabbitmqctl").args(["await_startup", "--timeout", "60"]).output();
    assert!(out.is_ok_and(|o| o.status.success()), "RabbitMQ came back");
}

async fn run(backend: Backend, amqp: Option<&str>) {
    let name = format!("{} + {}", backend.name(), if amqp.is_some() { "rabbitmq" } else { "database queue" });
    let queue = format!("herald.chaos.{:016x}", rand::random::<u64>());
    let mut env = vec![("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#)];
    if let Some(url) = amqp {
        env.extend([("AMQP_URL", url), ("HERALD_QUEUE_NAME", queue.as_str())]);
    }
    let worker_env = [env.as_slice(), &[("HERALD_DELIVERY_TIMEOUT", "2s"), ("HERALD_LOG_LEVEL", "warn")]].concat();
    let receiver = Receiver::start(|_| 200);
    let Some(mut herald) = Herald::start_with(backend, &env).await else { return };
    let token = herald.token("org-a");
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    let mut workers: Vec<Running> = (0..WORKERS).map(|_| herald.spawn_worker(&worker_env)).collect();

    let next = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(Mutex::new(HashSet::new()));
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|_| {
            let (next, sent, address, token) = (next.clone(), sent.clone(), herald.address.clone(), token.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= MESSAGES {
                        return;
                    }
                    let id = publish(&address, &token, i).await;
                    sent.lock().unwrap().insert(id);
                }
            })
        })
        .collect();

    let started = Instant::now();
    let (mut web_killed, mut broker_restarted, mut kills) = (false, amqp.is_none(), 0);
    let delivered = |receiver: &Receiver| -> HashSet<String> {
        receiver.received().iter().map(|r| r.headers["webhook-id"].clone()).collect()
    };
    loop {
        let published = next.load(Ordering::Relaxed).min(MESSAGES);
        let arrived = delivered(&receiver).len();
        if published >= MESSAGES && publishers.iter().all(|p| p.is_finished()) && arrived >= MESSAGES {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "{name}: stuck at {arrived} of {MESSAGES} delivered");
        // Faults while the messages are still coming in and being delivered.
        if arrived < MESSAGES * 9 / 10 && started.elapsed() >= KILL_EVERY * kills as u32 {
            let victim = kills % WORKERS;
            workers[victim].signal("KILL");
            workers[victim] = herald.spawn_worker(&worker_env);
            kills += 1;
        }
        if !web_killed && published >= MESSAGES / 3 {
            herald.kill_and_restart_web(&env).await;
            web_killed = true;
        }
        if !broker_restarted && published >= MESSAGES * 2 / 3 {
            tokio::task::spawn_blocking(restart_rabbitmq).await.expect("restart RabbitMQ");
            broker_restarted = true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), MESSAGES, "{name}: every publish got its own message id");
    let got = delivered(&receiver);
    let missing: Vec<_> = sent.difference(&got).collect();
    assert!(missing.is_empty(), "{name}: {} of {MESSAGES} never arrived: {missing:?}", missing.len());
    assert!(web_killed && broker_restarted && kills > 0, "{name}: every fault happened");
    let requests = receiver.received().len();
    eprintln!(
        "{name}: {MESSAGES} messages, {requests} requests, duplicate rate {:.2} %, {kills} worker SIGKILLs, \
         web SIGKILLed once{}, {:.1} s",
        100.0 * (requests - MESSAGES) as f64 / MESSAGES as f64,
        if amqp.is_some() { ", RabbitMQ restarted once" } else { "" },
        started.elapsed().as_secs_f64()
    );
    for mut worker in workers {
        worker.signal("TERM");
        let _ = worker.wait_exit(Duration::from_secs(30)).await;
    }
}

on_backends! {
    [Sqlite, Postgres]
    async fn two_thousand_messages_survive_killed_workers_and_web_on_the_database_queue(backend) {
        run(backend, None).await;
    }
}

on_backends! {
    [Sqlite, Postgres]
    async fn two_thousand_messages_survive_killed_processes_and_a_broker_restart_on_rabbitmq(backend) {
        let Some(url) = testkit::amqp_url() else { return };
        run(backend, Some(&url)).await;
        wait_for_rabbitmq();
    }
}
