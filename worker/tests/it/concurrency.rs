//! `worker.concurrency` changed in the worker's config file while it runs: raising it starts the
//! waiting deliveries at once, lowering it lets the running attempts finish and then holds the
//! worker to the new number, and a stop after a shrink still drains cleanly.

use serde_json::json;
use std::path::Path;
use std::time::Duration;
use testkit::{Backend, Herald, Receiver, Running, temp_dir};

const LONG: Duration = Duration::from_secs(20);
/// How long the receiver holds every request: long enough that, at one slot, no second request
/// can arrive within the windows this test waits.
const HOLD: Duration = Duration::from_secs(6);

/// Writes like an editor does: a new file renamed over the old one.
fn save(path: &Path, concurrency: u32) {
    let tmp = path.with_extension("tmp~");
    let text = format!(
        "worker:\n  host: 127.0.0.1\n  port: 0\n  concurrency: {concurrency}\n  poll_interval: 100ms\n\
         delivery:\n  allowed_cidrs: [\"127.0.0.0/8\"]\n"
    );
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

async fn resized_to(worker: &Running, new: u32) {
    let seen = worker.wait_for_record(0, LONG, |r| r["msg"] == "worker concurrency changed" && r["new"] == new).await;
    assert!(seen.is_some(), "no resize to {new} logged: {:?}", worker.lines());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrency_follows_the_config_file_up_and_down() {
    let Some(herald) = Herald::start(Backend::Sqlite).await else {
        return;
    };
    let dir = temp_dir("concurrency");
    let file = dir.join("herald.yaml");
    save(&file, 1);
    let mut worker =
        Running::start("herald-worker", &["-c", file.to_str().unwrap()], &[("HERALD_DATABASE_URL", &herald.db.url)]);
    assert!(worker.wait_for_msg(0, "delivering from the database queue", LONG).await.is_some());

    let receiver = Receiver::start_slow(HOLD, |_| 200);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    let (status, _) = api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    assert_eq!(status, 201);
    let publish = |n: usize| {
        let api = &api;
        async move {
            for i in 0..n {
                let (status, body) = api.post("/app/a/msg", &json!({"eventType": "e", "payload": {"i": i}})).await;
                assert_eq!(status, 202, "{body}");
            }
        }
    };

    // One slot: the first request is held, nothing else is sent meanwhile.
    publish(6).await;
    assert_eq!(receiver.wait_for(1, LONG).await.len(), 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.received().len(), 1, "one slot, one request at a time");

    // Six slots: the five waiting start while the first is still held (at one slot, the sixth
    // could only arrive after five holds, 30 s).
    save(&file, 6);
    resized_to(&worker, 6).await;
    assert_eq!(receiver.wait_for(6, HOLD * 2).await.len(), 6, "all six run at once after the raise");

    // Two slots: the six running finish; of four new messages, two start and two wait.
    save(&file, 2);
    resized_to(&worker, 2).await;
    publish(4).await;
    assert_eq!(receiver.wait_for(8, LONG).await.len(), 8);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.received().len(), 8, "two slots after the shrink: the last two wait");

    // A stop after the shrink waits for the two in flight, then exits 0; the rest stay queued.
    worker.signal("TERM");
    assert_eq!(worker.wait_exit(LONG).await.and_then(|s| s.code()), Some(0), "{:?}", worker.lines());
    assert_eq!(receiver.received().len(), 8);
}
