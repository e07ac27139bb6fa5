//! The consumer portal: served with a strict Content-Security-Policy, and walked in a real
//! browser (headless Chromium driven by npm `playwright-core`, checked with `@axe-core/playwright`)
//! against a real formation: web, worker and a receiver.

use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;
use testkit::{Backend, Herald, Receiver, on_backends};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The browser scenario's directory, when its packages and the browser are installed (in CI they
/// must be: scripts/test.sh runs npm ci there and .ci/run installs Chromium).
fn scenario() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/portal");
    let ready = dir.join("node_modules/playwright-core").is_dir() && std::path::Path::new(CHROMIUM).exists();
    if !ready {
        assert!(!testkit::in_ci(), "CI needs Chromium and npm ci in {}", dir.display());
        eprintln!("SKIP: the portal's browser test needs {CHROMIUM} and npm ci in {}", dir.display());
    }
    ready.then_some(dir)
}

async fn portal_link(api: &testkit::Client, app: &str) -> String {
    let (status, access) = api.post(&format!("/auth/app-portal-access/{app}"), &json!({})).await;
    assert_eq!(status, 200, "{access}");
    access["url"].as_str().expect("url").to_owned()
}

/// How many messages the log is paged through.
const LOG_SIZE: usize = 2_000;

/// Publishes `count` messages of `event_type` to application `app`, from sixteen tasks at once.
async fn publish(api: &testkit::Client, app: &str, event_type: &str, count: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..16 {
        let (api, path, event_type) = (api.clone(), format!("/app/{app}/msg"), event_type.to_owned());
        tasks.spawn(async move {
            for i in (lane..count).step_by(16) {
                let (status, body) = api.post(&path, &json!({"eventType": event_type, "payload": {"order": i}})).await;
                assert_eq!(status, 202, "publish: {body}");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("publisher");
    }
}

/// Where the run's screenshots go: the README's when HERALD_UPDATE_SCREENSHOTS=1 asks for new
/// ones (from the SQLite run; they show this run's ports, ids and times, so every run would
/// change them), else a scratch directory, so the code making them runs every time.
fn screenshot_dir(backend: Backend) -> PathBuf {
    if backend == Backend::Sqlite && std::env::var("HERALD_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        return testkit::workspace_root().join("docs/portal");
    }
    testkit::temp_dir("portal-screenshots")
}

on_backends! {
    [Sqlite, Postgres]
    async fn a_customer_manages_their_webhooks_in_the_portal(backend) {
        let Some(dir) = scenario() else { return };
        let receiver = Receiver::start(|_| 200);
        let broken = Receiver::start(|_| 500);
        let Some(mut herald) = Herald::start(backend).await else { return };
        herald.start_worker(&[
            ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#),
            ("HERALD_DELIVERY_RETRY_SCHEDULE", r#"["300ms", "300ms", "300ms", "300ms", "300ms"]"#),
            ("HERALD_DELIVERY_DISABLE_ENDPOINT_AFTER", "1s"),
        ]);
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "Shop A", "uid": "shop-a"})).await;
        api.post("/app", &json!({"name": "Shop B", "uid": "shop-b"})).await;
        let schema = json!({"1": {
            "type": "object",
            "properties": {"amount": {"type": "integer"}},
            "examples": [{"amount": 1250, "currency": "EUR"}],
        }});
        let (status, _) = api.post("/event-type", &json!({"name": "order.paid", "description": "An order was paid", "schemas": schema})).await;
        assert_eq!(status, 201);
        let (status, _) = api.post("/event-type", &json!({"name": "order.refunded", "description": "An order was refunded"})).await;
        assert_eq!(status, 201);
        // Thousands of messages before any endpoint (the log pages through them), then an
        // endpoint that only fails: its refunds run out of attempts and it is disabled.
        publish(&api, "shop-a", "order.paid", LOG_SIZE).await;
        let failing = json!({"url": format!("{}/down", broken.url), "uid": "down", "eventTypes": ["order.refunded"]});
        api.post("/app/shop-a/endpoint", &failing).await;
        publish(&api, "shop-a", "order.refunded", 3).await;
        let disabled = testkit::eventually(
            Duration::from_secs(30),
            || async { api.get("/app/shop-a/endpoint/down/msg?status=2").await.1 },
            |page| page["data"].as_array().is_some_and(|d| d.len() == 3),
        )
        .await;
        assert_eq!(disabled["data"].as_array().map(Vec::len), Some(3), "{}: refunds exhausted: {disabled}", backend.name());
        let endpoint = api.get("/app/shop-a/endpoint/down").await.1;
        assert_eq!(endpoint["disabledTrigger"], "automatic", "{}: {endpoint}", backend.name());

        let (a, b) = (portal_link(&api, "shop-a").await, portal_link(&api, "shop-b").await);
        let (status, brief) = api.post("/auth/app-portal-access/shop-a", &json!({"expiry": 20})).await;
        assert_eq!(status, 200, "{brief}");
        let failed_before = broken.received().len();
        let shots = screenshot_dir(backend);
        std::fs::create_dir_all(&shots).expect("screenshot directory");
        let out = tokio::process::Command::new("node")
            .arg(dir.join("portal.mjs"))
            .current_dir(&dir)
            .env("PORTAL_URL", &a)
            .env("OTHER_URL", &b)
            .env("SHORT_URL", brief["url"].as_str().expect("url"))
            .env("RECEIVER", &receiver.url)
            .env("BROKEN", &broken.url)
            .env("LOG_SIZE", (LOG_SIZE + 3).to_string())
            .env("CHROMIUM", CHROMIUM)
            .env("SCREENSHOTS", &shots)
            .output()
            .await
            .expect("run node");
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{}: {said}", backend.name());
        assert!(said.contains("every task passed"), "{said}");

        // What the customer set in the form is what Herald stored and sends.
        let (_, list) = api.get("/app/shop-a/endpoint").await;
        let mine = list["data"].as_array().into_iter().flatten().find(|e| e["uid"].is_null()).expect("the customer's endpoint");
        assert_eq!((mine["channels"].clone(), mine["throttleRate"].clone()), (json!(["eu", "us"]), json!(10)), "{mine}");
        let test_events: Vec<_> = receiver.received().into_iter().filter(|r| r.path == "/hook").collect();
        assert!(!test_events.is_empty(), "the test event arrived");
        assert!(test_events.iter().all(|r| r.headers.get("x-shop").map(String::as_str) == Some("a")), "the custom header was sent");
        // The replay the customer asked for reached the failing receiver again.
        let replayed = testkit::eventually(Duration::from_secs(30), || async { broken.received().len() }, |n| *n > failed_before).await;
        assert!(replayed > failed_before, "{}: the replay sent nothing ({failed_before} before)", backend.name());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn svix_reacts_app_portal_embeds_the_portal_on_an_allowed_origin() {
    let Some(dir) = scenario() else { return };
    let port = testkit::free_port();
    let origin = format!(r#"["http://127.0.0.1:{port}"]"#);
    let env = [("HERALD_SERVE_PORTAL_FRAME_ANCESTORS", origin.as_str())];
    let Some(herald) = Herald::start_with(Backend::Sqlite, &env).await else { return };
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "Shop A", "uid": "shop-a"})).await;
    let url = portal_link(&api, "shop-a").await;
    let out = tokio::process::Command::new("node")
        .arg(dir.join("embed.mjs"))
        .current_dir(&dir)
        .env("PORTAL_URL", &url)
        .env("EMBED_PORT", port.to_string())
        .env("CHROMIUM", CHROMIUM)
        .output()
        .await
        .expect("run node");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.contains("shows in svix-react's AppPortal"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_portal_is_served_under_a_strict_policy_framed_only_where_configured() {
    let env = [("HERALD_SERVE_PORTAL_FRAME_ANCESTORS", r#"["https://dash.example.com"]"#)];
    let Some(herald) = Herald::start_with(Backend::Sqlite, &env).await else { return };
    let http = testkit::http();
    let modules =
        ["app", "api", "dom", "endpoints", "endpoint", "catalogue", "messages"].map(|m| format!("/portal/{m}.js"));
    let pages = [("/portal/", "text/html"), ("/portal/app.css", "text/css")].map(|(p, k)| (p.to_owned(), k));
    for (path, kind) in pages.into_iter().chain(modules.into_iter().map(|m| (m, "text/javascript"))) {
        let response = http.get(format!("http://{}{path}", herald.address)).send().await.expect("get");
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| response.headers()[name].to_str().expect("text").to_owned();
        assert!(header("content-type").starts_with(kind), "{path}");
        let policy = header("content-security-policy");
        assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"), "{policy}");
        assert!(policy.ends_with("frame-ancestors https://dash.example.com"), "{policy}");
        assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{policy}");
        assert_eq!(header("x-content-type-options"), "nosniff");
    }
    let unknown = http.get(format!("http://{}/portal/secrets.js", herald.address)).send().await.expect("get");
    assert_eq!(unknown.status(), 404, "only the page's own modules are served");
    // The page loads nothing from anywhere else, and has no inline script or style.
    let page = http.get(format!("http://{}/portal/", herald.address)).send().await.expect("get");
    let html = page.text().await.expect("html");
    assert!(!html.contains("http://") && !html.contains("https://"), "{html}");
    assert!(!html.contains("<script>") && !html.contains("style="), "{html}");
}
