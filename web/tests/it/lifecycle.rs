//! herald-web as a real process: readiness on every backend, graceful stop, second signal,
//! config errors before any port opens, request logs.

use serde_json::Value;
use std::time::Duration;
use testkit::{Backend, Running, TestDb, get_json, on_every_backend, poll_status, run_admin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LONG: Duration = Duration::from_secs(20);

fn start_web(db_url: &str, extra: &[(&str, &str)]) -> Running {
    let mut env = vec![("HERALD_DATABASE_URL", db_url), ("HERALD_SERVE_HOST", "127.0.0.1"), ("HERALD_SERVE_PORT", "0")];
    env.extend_from_slice(extra);
    Running::start("herald-web", &[], &env)
}

on_every_backend! {
    async fn readiness_is_503_until_migrations_run(backend) {
        let Some(db) = TestDb::create(backend).await else {
            return;
        };
        let mut web = start_web(&db.url, &[]);
        let address = web.address().await;
        let name = backend.name();

        let (status, body) = get_json(&address, "/health/alive").await.expect("alive answers");
        assert_eq!(status, 200, "{name}");
        assert_eq!(body["status"], "alive");

        let (status, body) = get_json(&address, "/health/ready").await.expect("ready answers");
        assert_eq!(status, 503, "{name}: {body}");
        assert_eq!(body["checks"]["database"]["ok"], true, "{name}: {body}");
        assert_eq!(body["checks"]["migrations"]["ok"], false, "{name}: {body}");
        assert!(!body["checks"]["migrations"]["pending"].as_array().expect("pending list").is_empty());

        let out = run_admin(&["migrate", "up"], &[("HERALD_DATABASE_URL", &db.url)]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let (status, body) = poll_status(&address, "/health/ready", 200, LONG).await.expect("ready answers");
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["status"], "ready");

        web.signal("TERM");
        let exit = web.wait_exit(LONG).await.expect("web exits after SIGTERM");
        assert_eq!(exit.code(), Some(0), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn port_opens_without_a_database_and_readiness_names_the_failure() {
    let mut web = start_web("postgres://nobody@127.0.0.1:1/none", &[("HERALD_DATABASE_POOL_CONNECT_TIMEOUT", "1s")]);
    let address = web.address().await;
    assert_eq!(get_json(&address, "/health/alive").await.expect("alive").0, 200);
    let (status, body) = get_json(&address, "/health/ready").await.expect("ready");
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["database"]["ok"], false, "{body}");
    assert!(body["checks"]["database"]["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    assert!(web.wait_for_msg(0, "database unreachable, retrying", LONG).await.is_some());
    web.signal("TERM");
    assert_eq!(web.wait_exit(LONG).await.and_then(|s| s.code()), Some(0));
}

/// A ready web process on a migrated SQLite database, its address, and an API token.
async fn ready_web(db: &TestDb) -> (Running, String, String) {
    assert!(run_admin(&["migrate", "up"], &[("HERALD_DATABASE_URL", &db.url)]).status.success());
    let out = run_admin(&["token", "create", "--org", "o"], &[("HERALD_DATABASE_URL", &db.url)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let web = start_web(&db.url, &[]);
    let address = web.address().await;
    assert_eq!(poll_status(&address, "/health/ready", 200, LONG).await.map(|a| a.0), Some(200));
    (web, address, token)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_an_in_flight_request_finish_then_exits_0() {
    let Some(db) = TestDb::create(Backend::Sqlite).await else {
        return;
    };
    let (mut web, address, token) = ready_web(&db).await;

    // A slow client: headers and half the body now, the rest after the stop signal. The handler
    // is waiting for the body, so the request is in flight.
    let mut client = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let body = r#"{"name":"slow upload"}"#;
    let head = format!(
        "POST /api/v1/app HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    client.write_all(head.as_bytes()).await.expect("send head");
    client.write_all(&body.as_bytes()[..8]).await.expect("send half");
    // Give a loaded machine time to hand the connection to an HTTP worker.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let seen = web.lines().len();
    web.signal("TERM");
    let closing = web.wait_for_msg(seen, "closing the listener; waiting for in-flight requests", LONG).await;
    assert_eq!(closing.expect("stop begins")["in_flight"], 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Some(status) = web.wait_exit(Duration::ZERO).await {
        panic!(
            "web exited ({status}) before the in-flight request finished:\nstdout: {:#?}\nstderr: {:#?}",
            web.lines(),
            web.stderr_lines()
        );
    }
    // New connections are refused once the listener is closed.
    assert!(tokio::net::TcpStream::connect(&address).await.is_err());

    client.write_all(&body.as_bytes()[8..]).await.expect("send the rest");
    let mut response = String::new();
    client.read_to_string(&mut response).await.expect("read response");
    assert!(response.starts_with("HTTP/1.1 201"), "the request completed: {response}");
    assert!(response.to_ascii_lowercase().contains("connection: close"), "told to close: {response}");
    assert!(response.contains("slow upload"), "{response}");

    let exit = web.wait_exit(LONG).await.expect("exits after the request");
    assert_eq!(exit.code(), Some(0));
}

/// actix waits for every open connection, and an idle keep-alive connection closes only when its
/// 5 s timer runs out: a stop that waited for it would be SIGKILLed by honcho, whose own wait is
/// also 5 s. Idle connections must not hold the stop.
#[tokio::test(flavor = "multi_thread")]
async fn idle_keep_alive_connections_do_not_hold_the_stop() {
    let Some(db) = TestDb::create(Backend::Sqlite).await else {
        return;
    };
    let (mut web, address, token) = ready_web(&db).await;
    // Keep-alive connections to both HTTP workers, each idle after one request.
    let mut clients = Vec::new();
    for _ in 0..4 {
        let mut client = tokio::net::TcpStream::connect(&address).await.expect("connect");
        let request = format!("GET /api/v1/app HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n\r\n");
        client.write_all(request.as_bytes()).await.expect("send");
        let mut head = [0u8; 12];
        client.read_exact(&mut head).await.expect("response");
        assert_eq!(&head, b"HTTP/1.1 200");
        clients.push(client);
    }

    web.signal("TERM");
    // Well within the keep-alive timer: the stop does not wait for it.
    let exit = web.wait_exit(Duration::from_secs(4)).await;
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "exits 0 at once:\n{:#?}", web.lines());
    // The idle connections were closed, not left hanging.
    for mut client in clients {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(LONG, client.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "connection closed");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_turns_503_while_draining_and_a_second_signal_exits_at_once() {
    let Some(db) = TestDb::create(Backend::Sqlite).await else {
        return;
    };
    assert!(run_admin(&["migrate", "up"], &[("HERALD_DATABASE_URL", &db.url)]).status.success());
    let mut web = start_web(&db.url, &[("HERALD_SERVE_SHUTDOWN_DRAIN_DELAY", "60s")]);
    let address = web.address().await;
    assert_eq!(poll_status(&address, "/health/ready", 200, LONG).await.map(|a| a.0), Some(200));

    web.signal("TERM");
    assert!(web.wait_for_msg(0, "draining before closing the listener", LONG).await.is_some());
    // During the drain delay the listener is still open, and readiness says to go away.
    let (status, body) = get_json(&address, "/health/ready").await.expect("still listening while draining");
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["shutdown"]["ok"], false, "{body}");

    web.signal("TERM");
    let exit = web.wait_exit(Duration::from_secs(5)).await.expect("second signal exits at once");
    assert_eq!(exit.code(), Some(143));
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_config_exits_78_before_opening_any_port() {
    for env in [
        vec![("HERALD_LOG_LEVEL", "loud")],
        vec![("PORT", "http")],
        vec![("HERALD_DATABASE_URL", "oracle://db")],
        vec![("HERALD_NOT_A_KEY", "1")],
        vec![("HERALD_SECRETS_KEYS", "[]")],
        vec![("HERALD_SECRETS_KEYS", "[\"dG9vIHNob3J0\"]")],
    ] {
        let mut web = Running::start("herald-web", &[], &env);
        let exit = web.wait_exit(LONG).await.expect("exits");
        assert_eq!(exit.code(), Some(78), "{env:?}");
        assert!(web.lines().is_empty(), "nothing started, nothing logged: {:?}", web.lines());
        let err = web.stderr_lines().join("\n");
        assert!(err.contains(env[0].0), "the error names the source {}: {err}", env[0].0);
    }
    let mut web = Running::start("herald-web", &["--port", "seventy"], &[]);
    assert_eq!(web.wait_exit(LONG).await.and_then(|s| s.code()), Some(78));
    assert!(web.stderr_lines().join("\n").contains("flag --port"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_is_logged_with_a_request_id() {
    let Some(db) = TestDb::create(Backend::Sqlite).await else {
        return;
    };
    let web = start_web(&db.url, &[]);
    let address = web.address().await;
    let client = testkit::http();

    let response = client
        .get(format!("http://{address}/health/alive"))
        .header("X-Request-Id", "req-from-caller-1")
        .send()
        .await
        .expect("request");
    assert_eq!(response.headers()["x-request-id"], "req-from-caller-1");
    let record = web
        .wait_for_record(0, LONG, |r| r["msg"] == "request" && r["request_id"] == "req-from-caller-1")
        .await
        .expect("request logged");
    assert_eq!(record["method"], "GET");
    assert_eq!(record["path"], "/health/alive");
    assert_eq!(record["status"], 200);
    assert!(record["duration_ms"].as_f64().is_some());
    for key in ["ts", "level", "msg", "process", "version"] {
        assert!(!record[key].is_null(), "{key} missing from {record}");
    }
    assert_eq!(record["process"], "web");

    let response = client.get(format!("http://{address}/missing")).send().await.expect("request");
    assert_eq!(response.status(), 404);
    let generated = response.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    assert_eq!(generated.len(), 32);
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["code"], "not_found");
    assert!(
        web.wait_for_record(0, LONG, |r| r["request_id"] == generated.as_str() && r["status"] == 404).await.is_some()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn text_format_is_for_humans() {
    let Some(db) = TestDb::create(Backend::Sqlite).await else {
        return;
    };
    let web = start_web(&db.url, &[("HERALD_LOG_FORMAT", "text")]);
    let listening = |lines: &Vec<String>| lines.iter().any(|l| l.contains("listening"));
    let lines = testkit::eventually(LONG, || async { web.lines() }, listening).await;
    let line = lines.into_iter().find(|l| l.contains("listening")).expect("listening line");
    assert!(serde_json::from_str::<Value>(&line).is_err(), "text, not JSON: {line}");
    assert!(line.contains("INFO") && line.contains("process: web"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_http_requests_are_not_logged_as_warnings_or_errors() {
    let Some(db) = TestDb::create(Backend::Sqlite).await else { return };
    assert!(run_admin(&["migrate", "up"], &[("HERALD_DATABASE_URL", &db.url)]).status.success());
    let web = start_web(&db.url, &[]);
    let address = web.address().await;
    let garbage: [&[u8]; 4] = [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\n\r\n",
        b"POST /api/v1/app HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
    ];
    for _ in 0..5 {
        for request in garbage {
            let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
            stream.write_all(request).await.expect("send");
            let mut answer = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
            assert!(answer.starts_with(b"HTTP/1.1 4"), "a 4xx: {}", String::from_utf8_lossy(&answer));
        }
    }
    // Something well-formed after them, so every record of the garbage has been written.
    assert_eq!(get_json(&address, "/health/alive").await.expect("alive").0, 200);
    let loud: Vec<_> = web.lines().into_iter().filter(|l| l.contains("\"ERRO\"") || l.contains("\"WARN\"")).collect();
    assert!(loud.is_empty(), "a client made web log warnings or errors: {loud:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_panics_after_a_graceful_stop() {
    let Some(db) = TestDb::create(Backend::Sqlite).await else { return };
    // The panic came about one stop in ten: an HTTP worker logging after main had unset the
    // global logger.
    for round in 0..20 {
        let mut web = start_web(&db.url, &[("HERALD_SERVE_WORKERS", "8")]);
        let address = web.address().await;
        // Idle keep-alive connections spread over the HTTP workers: each worker that holds one
        // logs while it shuts down, racing main's exit.
        let mut idle = Vec::new();
        for _ in 0..16 {
            let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
            stream.write_all(b"GET /health/alive HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("send");
            let mut buffer = [0u8; 512];
            let _ = stream.read(&mut buffer).await;
            idle.push(stream);
        }
        web.signal("TERM");
        let exit = web.wait_exit(LONG).await.expect("web exits");
        assert_eq!(exit.code(), Some(0), "round {round}");
        let stderr = web.stderr_lines();
        assert!(
            stderr.iter().all(|l| !l.contains("panicked") && !l.contains("No logger set")),
            "round {round}: {stderr:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_cut_under_requests_answer_503_never_500() {
    let Some(herald) = testkit::Herald::start(Backend::Postgres).await else { return };
    let api = herald.client("org-a");
    api.post("/app", &serde_json::json!({"name": "A", "uid": "a"})).await;
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let clients: Vec<_> = (0..8)
        .map(|n| {
            let (api, running) = (herald.client("org-a"), running.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while running.load(std::sync::atomic::Ordering::Relaxed) {
                    let (status, body) = match n % 3 {
                        0 => api.get("/app/a").await,
                        1 => api.get("/app/a/msg?limit=5").await,
                        _ => api.post("/app/a/msg", &serde_json::json!({"eventType": "x.y", "payload": {}})).await,
                    };
                    statuses.push((status, body));
                }
                statuses
            })
        })
        .collect();
    let mut cut = 0;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cut += herald.db.cut_connections().await;
    }
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.expect("client"));
    }
    let failed: Vec<_> = all.iter().filter(|(s, _)| *s >= 500 && *s != 503).collect();
    let unavailable = all.iter().filter(|(s, _)| *s == 503).count();
    eprintln!("{} requests, {unavailable} answered 503, {cut} connections cut", all.len());
    assert!(cut > 0, "connections were cut");
    assert!(
        failed.is_empty(),
        "{} of {} answered 5xx other than 503: {:?}",
        failed.len(),
        all.len(),
        &failed[..failed.len().min(3)]
    );
    assert_eq!(api.get("/app/a").await.0, 200, "serving again");
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped (needs root).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = testkit::temp_dir("small-disk");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("run mount");
        if !out.status.success() {
            assert!(
                !testkit::in_ci(),
                "CI runs as root and can mount a tmpfs: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!("SKIP: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Publishes messages of about 16 KB until one is refused; the statuses seen.
async fn publish_until_refused(api: &testkit::Client, limit: usize) -> (usize, u16) {
    let payload = serde_json::json!({"filler": "x".repeat(16_000)});
    for n in 0..limit {
        let (status, _) = api.post("/app/a/msg", &serde_json::json!({"eventType": "x.y", "payload": payload})).await;
        if status != 202 {
            return (n, status);
        }
    }
    (limit, 202)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_answers_503_and_publishing_resumes_when_space_comes_back() {
    let Some(disk) = SmallDisk::mount("6m") else { return };
    let filler = disk.0.join("filler");
    std::fs::write(&filler, vec![0u8; 1 << 20]).expect("filler");
    let url = format!("sqlite://{}", disk.0.join("herald.db").display());
    assert!(run_admin(&["migrate", "up"], &[("HERALD_DATABASE_URL", &url)]).status.success());
    let web = start_web(&url, &[]);
    let address = web.address().await;
    let token = run_admin(&["token", "create", "--org", "org-a"], &[("HERALD_DATABASE_URL", &url)]);
    let api = testkit::Client::new(&address, String::from_utf8_lossy(&token.stdout).trim());
    assert_eq!(api.post("/app", &serde_json::json!({"name": "A", "uid": "a"})).await.0, 201);

    let (first, status) = publish_until_refused(&api, 2000).await;
    assert_eq!(status, 503, "a full disk is the database being unavailable, not a fault: after {first} messages");
    let wal = std::fs::metadata(disk.0.join("herald.db-wal")).map(|m| m.len()).unwrap_or(0);
    let (ready, body) = get_json(&address, "/health/ready").await.expect("ready answers");
    eprintln!("{first} messages before the disk was full; WAL {} KiB; readiness {ready} {body}", wal >> 10);
    assert_eq!(ready, 503, "readiness says the database cannot take writes: {body}");

    // A mebibyte comes back: the messages it can hold get through.
    std::fs::remove_file(&filler).expect("free space");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (second, _) = publish_until_refused(&api, 2000).await;
    let wal = std::fs::metadata(disk.0.join("herald.db-wal")).map(|m| m.len()).unwrap_or(0);
    eprintln!("{second} messages after freeing 1 MiB; WAL {} KiB", wal >> 10);
    assert!(second >= 30, "only {second} messages of 16 KB got through after 1 MiB was freed");
    let problems: Vec<_> = web.lines().into_iter().filter(|l| l.contains("\"ERRO\"")).collect();
    assert!(problems.is_empty(), "{problems:?}");
}

/// lapin opens `tracing` spans; without a tracing subscriber, `tracing` reports each through
/// `log` as a bare span name (`io_loop;`). At the default level they must not reach the log.
#[tokio::test(flavor = "multi_thread")]
async fn span_announcements_from_libraries_stay_out_of_the_info_log() {
    let Some(url) = testkit::amqp_url() else { return };
    let Some(db) = TestDb::create(Backend::Sqlite).await else { return };
    let out = run_admin(&["migrate", "up"], &[("HERALD_DATABASE_URL", &db.url)]);
    assert!(out.status.success());
    let queue = format!("herald.spans.{}", std::process::id());
    let web = start_web(&db.url, &[("HERALD_QUEUE_URL", &url), ("HERALD_QUEUE_NAME", &queue)]);
    assert!(web.wait_for_msg(0, "broker connected", LONG).await.is_some(), "{:?}", web.lines());
    let spans: Vec<String> = web.lines().into_iter().filter(|l| l.contains("\"target\":\"tracing::span")).collect();
    assert!(spans.is_empty(), "span announcements in the info log: {spans:?}");
}
