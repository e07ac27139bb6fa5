//! `herald-admin prune` against a running formation on every backend: what each retention
//! setting removes, what it must never remove, a dry run, and a prune interrupted or killed
//! part-way. Ages are made short by config (seconds, not days); the workers' own background
//! pruning is off here, so only the command under test removes anything.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Backend, Herald, Receiver, Running, eventually, on_every_backend, run_admin};

const LONG: Duration = Duration::from_secs(30);
const LOOPBACK: &str = r#"["127.0.0.0/8"]"#;

/// Web and a worker (not pruning) on a fresh database, an application `a` and an endpoint at a
/// receiver answering `status`, with `worker_env` for the worker.
async fn formation(
    backend: Backend,
    status: u16,
    worker_env: &[(&str, &str)],
) -> Option<(Herald, testkit::Client, Receiver, String)> {
    let receiver = Receiver::start(move |_| status);
    let mut herald = Herald::start(backend).await?;
    let mut env = vec![("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK), ("HERALD_RETENTION_PRUNE_INTERVAL", "0s")];
    env.extend_from_slice(worker_env);
    herald.start_worker(&env);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    let (_, ep) = api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    let endpoint = ep["id"].as_str().expect("endpoint id").to_owned();
    Some((herald, api, receiver, endpoint))
}

/// Publishes `n` messages; their ids.
async fn publish(api: &testkit::Client, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let (status, msg) = api.post("/app/a/msg", &json!({"eventType": "invoice.paid", "payload": {"n": i}})).await;
        assert_eq!(status, 202, "{msg}");
        ids.push(msg["id"].as_str().expect("id").to_owned());
    }
    ids
}

/// Waits until the database holds `n` attempts.
async fn attempts_recorded(herald: &Herald, n: i64) {
    let got = eventually(LONG, || herald.db.count_rows("attempt"), |c| *c >= n).await;
    assert_eq!(got, n, "attempts recorded");
}

/// Runs `herald-admin prune` with `args` and `env` on `herald`'s database: its exit success and
/// its JSON lines (output is not a terminal here).
fn prune(herald: &Herald, args: &[&str], env: &[(&str, &str)]) -> (bool, Vec<Value>) {
    let mut all = vec![("HERALD_DATABASE_URL", herald.db.url.as_str())];
    all.extend_from_slice(env);
    let mut argv = vec!["prune"];
    argv.extend_from_slice(args);
    let out = run_admin(&argv, &all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(out.status.success(), "prune: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), lines)
}

/// The summary line's count for `job`.
fn summary(lines: &[Value], job: &str) -> u64 {
    let last = lines.last().expect("a summary line");
    last["summary"][job].as_u64().unwrap_or_else(|| panic!("no {job} in {last}"))
}

/// Messages for a prune to be stopped part-way through, one per batch: enough that even SQLite
/// (about a millisecond a batch) is still at it when the test's signal arrives.
const PART_WAY: usize = 300;

/// A formation that delivered `n` messages a little over a second ago.
async fn delivered_a_second_ago(backend: Backend, n: usize) -> Option<Herald> {
    let (herald, api, receiver, _) = formation(backend, 200, &[]).await?;
    publish(&api, n).await;
    receiver.wait_for(n, LONG).await;
    attempts_recorded(&herald, i64::try_from(n).ok()?).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    Some(herald)
}

/// The environment of a prune that keeps messages for a second and deletes one per batch.
fn one_message_per_batch(herald: &Herald) -> [(&'static str, &str); 3] {
    [
        ("HERALD_DATABASE_URL", herald.db.url.as_str()),
        ("HERALD_RETENTION_MESSAGES", "1s"),
        ("HERALD_RETENTION_BATCH_SIZE", "1"),
    ]
}

on_every_backend! {
    async fn old_messages_go_with_their_deliveries_and_attempts_and_recent_ones_stay(backend) {
        let Some((herald, api, receiver, _)) = formation(backend, 200, &[]).await else { return };
        let old = publish(&api, 3).await;
        receiver.wait_for(3, LONG).await;
        attempts_recorded(&herald, 3).await;
        tokio::time::sleep(Duration::from_millis(3500)).await;
        let recent = publish(&api, 2).await;

        let (_, lines) = prune(&herald, &[], &[("HERALD_RETENTION_MESSAGES", "3s")]);
        assert_eq!(summary(&lines, "messages"), 3, "{lines:?}");
        assert_eq!(herald.db.count_rows("message").await, 2);
        for id in &old {
            assert_eq!(api.get(&format!("/app/a/msg/{id}")).await.0, 404, "{id} is gone");
        }
        for id in &recent {
            assert_eq!(api.get(&format!("/app/a/msg/{id}")).await.0, 200, "{id} stays");
        }
        // The old messages' deliveries and attempts went with them; the recent ones' stay.
        receiver.wait_for(5, LONG).await;
        attempts_recorded(&herald, 2).await;
        assert_eq!(herald.db.count_rows("delivery").await, 2);
    }
}

on_every_backend! {
    async fn a_message_still_being_delivered_is_kept_past_its_retention(backend) {
        let retries = [("HERALD_DELIVERY_RETRY_SCHEDULE", r#"["1h"]"#)];
        let Some((herald, api, receiver, _)) = formation(backend, 500, &retries).await else { return };
        let ids = publish(&api, 1).await;
        receiver.wait_for(1, LONG).await;
        attempts_recorded(&herald, 1).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;

        let (_, lines) = prune(&herald, &[], &[("HERALD_RETENTION_MESSAGES", "1s")]);
        assert_eq!(summary(&lines, "messages"), 0, "{lines:?}");
        assert_eq!(api.get(&format!("/app/a/msg/{}", ids[0])).await.0, 200, "waiting for a retry: kept");
        assert_eq!(herald.db.count_rows("delivery").await, 1);
    }
}

on_every_backend! {
    async fn a_dry_run_counts_what_would_go_and_changes_nothing(backend) {
        let Some(herald) = delivered_a_second_ago(backend, 2).await else { return };
        let short = [("HERALD_RETENTION_MESSAGES", "1s")];

        let (_, lines) = prune(&herald, &["--dry-run"], &short);
        assert_eq!(lines.len(), 1, "a dry run prints its summary only: {lines:?}");
        assert_eq!(lines[0]["dry_run"], true);
        assert_eq!(summary(&lines, "messages"), 2);
        assert_eq!(herald.db.count_rows("message").await, 2, "nothing changed");
        assert_eq!(herald.db.count_rows("attempt").await, 2, "nothing changed");

        let (_, lines) = prune(&herald, &[], &short);
        assert_eq!(summary(&lines, "messages"), 2, "the real run removes what the dry run counted");
        assert_eq!(herald.db.count_rows("message").await, 0);
    }
}

on_every_backend! {
    async fn a_killed_prune_loses_nothing_and_the_next_run_finishes(backend) {
        let Some(herald) = delivered_a_second_ago(backend, PART_WAY).await else { return };
        let env = one_message_per_batch(&herald);

        // One message per batch: killed after its first batches, part-way through.
        let mut first = Running::start("herald-admin", &["prune"], &env);
        let seen = eventually(LONG, || async { first.lines().len() }, |n| *n >= 2).await;
        assert!(seen >= 2, "batches reported: {:?}", first.stderr_lines());
        first.signal("KILL");
        first.wait_exit(LONG).await;
        let left = herald.db.count_rows("message").await;
        assert!((1..PART_WAY as i64).contains(&left), "killed part-way: {left} left");

        let (_, lines) = prune(&herald, &[], &env[1..]);
        assert_eq!(summary(&lines, "messages"), u64::try_from(left).unwrap(), "{lines:?}");
        assert_eq!(herald.db.count_rows("message").await, 0);
        assert_eq!(herald.db.count_rows("attempt").await, 0);
    }
}

on_every_backend! {
    async fn sigterm_stops_a_prune_after_its_batch_with_a_summary(backend) {
        let Some(herald) = delivered_a_second_ago(backend, PART_WAY).await else { return };
        let env = one_message_per_batch(&herald);
        let mut run = Running::start("herald-admin", &["prune"], &env);
        eventually(LONG, || async { run.lines().len() }, |n| *n >= 1).await;
        run.signal("TERM");
        let status = run.wait_exit(LONG).await.expect("exits");
        assert!(!status.success(), "an interrupted prune does not claim success");
        let lines: Vec<Value> = run.lines().iter().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
        let last = lines.last().expect("summary");
        assert_eq!(last["interrupted"], true, "{last}");
        let removed = last["summary"]["messages"].as_i64().expect("count");
        assert_eq!(herald.db.count_rows("message").await, PART_WAY as i64 - removed, "the summary says what went");
    }
}

on_every_backend! {
    async fn response_bodies_are_emptied_after_their_retention_and_the_attempts_stay(backend) {
        let Some((herald, api, receiver, _)) = formation(backend, 200, &[]).await else { return };
        let ids = publish(&api, 2).await;
        receiver.wait_for(2, LONG).await;
        attempts_recorded(&herald, 2).await;
        let body = |a: &Value| a["data"][0]["response"].as_str().map(str::to_owned);
        let before = api.get(&format!("/app/a/attempt/msg/{}", ids[0])).await.1;
        assert!(body(&before).is_some_and(|b| !b.is_empty()), "the receiver's answer is stored: {before}");
        tokio::time::sleep(Duration::from_millis(1100)).await;

        let (_, lines) = prune(&herald, &[], &[("HERALD_RETENTION_RESPONSE_BODIES", "1s")]);
        assert_eq!(summary(&lines, "response_bodies"), 2, "{lines:?}");
        let after = api.get(&format!("/app/a/attempt/msg/{}", ids[0])).await.1;
        assert_eq!(body(&after).as_deref(), Some(""), "{after}");
        assert_eq!(herald.db.count_rows("attempt").await, 2, "the attempts stay");
        // The next run starts where this one stopped: nothing left to look at.
        let (_, lines) = prune(&herald, &["--dry-run"], &[("HERALD_RETENTION_RESPONSE_BODIES", "1s")]);
        assert_eq!(summary(&lines, "response_bodies"), 0, "{lines:?}");
    }
}

on_every_backend! {
    async fn exhausted_deliveries_go_after_their_retention_and_their_attempts_stay(backend) {
        let retries = [("HERALD_DELIVERY_RETRY_SCHEDULE", r#"["100ms"]"#)];
        let Some((herald, api, receiver, _)) = formation(backend, 500, &retries).await else { return };
        let ids = publish(&api, 1).await;
        receiver.wait_for(2, LONG).await;
        attempts_recorded(&herald, 2).await;
        let exhausted = format!("/app/a/msg/{}/endpoint", ids[0]);
        eventually(LONG, || async { api.get(&exhausted).await.1 }, |v| v["data"][0]["status"] == 2).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;

        let (_, lines) = prune(&herald, &[], &[("HERALD_RETENTION_EXHAUSTED_DELIVERIES", "1s")]);
        assert_eq!(summary(&lines, "exhausted_deliveries"), 1, "{lines:?}");
        assert_eq!(herald.db.count_rows("delivery").await, 0);
        assert_eq!(herald.db.count_rows("attempt").await, 2, "the attempts stay with the message");
        assert_eq!(api.get(&format!("/app/a/msg/{}", ids[0])).await.0, 200);
    }
}

on_every_backend! {
    async fn revoked_tokens_go_after_their_retention_and_live_ones_stay(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let db = [("HERALD_DATABASE_URL", herald.db.url.as_str())];
        // Made one after the other, so the doomed token's id sorts first.
        herald.token("org-a");
        let kept = testkit::Client::new(&herald.address, &herald.token("org-a"));
        let listed = run_admin(&["token", "list", "--org", "org-a"], &db);
        let listing = String::from_utf8_lossy(&listed.stdout).to_string();
        let doomed_id = listing
            .split_whitespace()
            .filter(|w| w.starts_with("tok_"))
            .min()
            .expect("a token id")
            .to_owned();
        assert!(run_admin(&["token", "revoke", &doomed_id], &db).status.success());
        assert_eq!(herald.db.count_rows("api_token").await, 2);
        tokio::time::sleep(Duration::from_millis(1100)).await;

        let (_, lines) = prune(&herald, &[], &[("HERALD_RETENTION_TOKENS", "1s")]);
        assert_eq!(summary(&lines, "tokens"), 1, "{lines:?}");
        assert_eq!(herald.db.count_rows("api_token").await, 1);
        assert_eq!(kept.get("/app").await.0, 200, "the live token still works");
    }
}

on_every_backend! {
    async fn expired_idempotency_keys_are_deleted_and_live_ones_stay(backend) {
        let Some(herald) = Herald::start(backend).await else { return };
        let (token, http) = (herald.token("org-a"), testkit::http());
        for key in ["k-1", "k-2"] {
            let response = http
                .post(format!("http://{}/api/v1/app", herald.address))
                .bearer_auth(&token)
                .header("idempotency-key", key)
                .json(&json!({"name": key}))
                .send()
                .await
                .expect("request");
            assert_eq!(response.status().as_u16(), 201);
        }
        assert_eq!(herald.db.count_rows("idempotency_key").await, 2);
        // A key is honoured for 12 hours; one of them is made to have expired a day ago.
        let aged = herald
            .db
            .execute(
                "UPDATE idempotency_key SET expires_at = '2000-01-01 00:00:00' \
                 WHERE key_hash = (SELECT k FROM (SELECT MIN(key_hash) AS k FROM idempotency_key) AS oldest)",
            )
            .await;
        assert_eq!(aged, 1);

        let (_, lines) = prune(&herald, &[], &[]);
        assert_eq!(summary(&lines, "idempotency_keys"), 1, "{lines:?}");
        assert_eq!(herald.db.count_rows("idempotency_key").await, 1);
    }
}

on_every_backend! {
    async fn idle_rate_windows_are_deleted_and_made_again_when_needed(backend) {
        let Some((herald, api, receiver, endpoint)) = formation(backend, 200, &[]).await else { return };
        api.patch(&format!("/app/a/endpoint/{endpoint}"), &json!({"rateLimit": 10})).await;
        publish(&api, 1).await;
        receiver.wait_for(1, LONG).await;
        eventually(LONG, || herald.db.count_rows("endpoint_rate"), |n| *n == 1).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;

        let (_, lines) = prune(&herald, &[], &[("HERALD_RETENTION_RATE_WINDOWS", "1s")]);
        assert_eq!(summary(&lines, "rate_windows"), 1, "{lines:?}");
        assert_eq!(herald.db.count_rows("endpoint_rate").await, 0);
        publish(&api, 1).await;
        receiver.wait_for(2, LONG).await;
        let made = eventually(LONG, || herald.db.count_rows("endpoint_rate"), |n| *n == 1).await;
        assert_eq!(made, 1, "the counter is made again");
    }
}

on_every_backend! {
    async fn messages_kept_back_do_not_stop_the_ones_after_them_from_going(backend) {
        // Application "a" retries for an hour; application "b", published after it, delivered.
        let retries = [("HERALD_DELIVERY_RETRY_SCHEDULE", r#"["1h"]"#)];
        let Some((herald, api, failing, _)) = formation(backend, 500, &retries).await else { return };
        let kept = publish(&api, 2).await;
        failing.wait_for(2, LONG).await;
        let ok = Receiver::start(|_| 200);
        api.post("/app", &json!({"name": "B", "uid": "b"})).await;
        api.post("/app/b/endpoint", &json!({"url": format!("{}/hook", ok.url)})).await;
        let (_, gone) = api.post("/app/b/msg", &json!({"eventType": "e", "payload": {}})).await;
        ok.wait_for(1, LONG).await;
        attempts_recorded(&herald, 3).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;

        // One message per batch: the first batches pick only messages that must stay.
        let env = [("HERALD_RETENTION_MESSAGES", "1s"), ("HERALD_RETENTION_BATCH_SIZE", "1")];
        let (_, lines) = prune(&herald, &[], &env);
        assert_eq!(summary(&lines, "messages"), 1, "{lines:?}");
        assert_eq!(api.get(&format!("/app/b/msg/{}", gone["id"].as_str().unwrap())).await.0, 404);
        for id in &kept {
            assert_eq!(api.get(&format!("/app/a/msg/{id}")).await.0, 200, "still retrying: kept");
        }
    }
}
