//! A Postgres crash loses nothing acknowledged. The worker commits without waiting for the disk
//! (its writes can all be derived again from committed messages), web waits for every message it
//! acknowledges (its group commit answers each publisher after the commit holding its message).
//! So while messages are published and delivered, the test's own Postgres is
//! crashed (`pg_ctl stop -m immediate`: its unflushed log is gone, as in a crash) and started
//! again; every message web answered 202 for must then reach the receiver at least once.

use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::{Backend, CrashablePostgres, Herald, Receiver, TestDb};

const PUBLISHERS: usize = 8;
/// Messages acknowledged before the crash, and after the restart.
const BEFORE: usize = 400;
const AFTER: usize = 400;
const DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_crash_loses_no_acknowledged_message() {
    let Some(mut postgres) = tokio::task::spawn_blocking(CrashablePostgres::start).await.expect("start") else {
        return;
    };
    let url = postgres.url();
    let receiver = Receiver::start(|_| 200);
    let env = [("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#)];
    let mut herald = Herald::start_on(TestDb::on_own_server(Backend::Postgres, &url), &env).await;
    herald.start_worker(&[env[0], ("HERALD_WORKER_POLL_INTERVAL", "200ms")]);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;

    // Publishers that keep going through the crash: a publish that fails is simply not
    // acknowledged (and may or may not have been stored); only 202s count.
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let stop = Arc::new(AtomicUsize::new(0));
    let token = herald.token("org-a");
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (acknowledged, stop, address, token) =
                (acknowledged.clone(), stop.clone(), herald.address.clone(), token.clone());
            tokio::spawn(async move {
                let http = testkit::http();
                let mut n = 0;
                while stop.load(Ordering::Relaxed) == 0 {
                    n += 1;
                    let sent = http
                        .post(format!("http://{address}/api/v1/app/a/msg"))
                        .bearer_auth(&token)
                        .json(&json!({"eventType": "x.y", "payload": {"publisher": p, "n": n}}))
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == 202 => {
                            let body: serde_json::Value = response.json().await.expect("json");
                            acknowledged.lock().unwrap().insert(body["id"].as_str().expect("id").to_owned());
                        }
                        _ => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            })
        })
        .collect();
    let count = |set: &Arc<Mutex<HashSet<String>>>| set.lock().unwrap().len();
    let started = Instant::now();
    while count(&acknowledged) < BEFORE {
        assert!(started.elapsed() < DEADLINE, "publishing never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered_before = receiver.received().len();
    tokio::task::block_in_place(|| postgres.crash());
    let at_crash = count(&acknowledged);
    tokio::time::sleep(Duration::from_secs(1)).await;
    tokio::task::block_in_place(|| postgres.restart());
    while count(&acknowledged) < at_crash + AFTER {
        assert!(started.elapsed() < DEADLINE, "publishing never resumed after the restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(1, Ordering::Relaxed);
    for publisher in publishers {
        publisher.await.expect("publisher");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let delivered =
        || -> HashSet<String> { receiver.received().iter().map(|r| r.headers["webhook-id"].clone()).collect() };
    while !acknowledged.is_subset(&delivered()) && started.elapsed() < DEADLINE {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = delivered();
    let missing: Vec<_> = acknowledged.difference(&got).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages never arrived: {missing:?}",
        missing.len(),
        acknowledged.len()
    );
    assert!(delivered_before > 0, "deliveries were under way when Postgres crashed");
    // The publishes went through web's group commit, several to a commit: what was crashed under
    // is the shared commit, not only single inserts.
    let commits = testkit::metric(&herald.address, "herald_publish_batch_size_count").await;
    let published = testkit::metric(&herald.address, "herald_publish_batch_size_sum").await;
    assert!(published > commits, "publishes shared commits: {published} in {commits} commits");
    let requests = receiver.received().len();
    eprintln!(
        "postgres crash: {} messages acknowledged ({at_crash} before the crash) in {commits} commits, {requests} requests, {} duplicates, {:.1} s",
        acknowledged.len(),
        requests - got.len(),
        started.elapsed().as_secs_f64()
    );
}
