//! The consumer portal: served with a strict Content-Security-Policy, and walked in a real
//! browser (headless Chromium driven by npm `playwright-core`, checked with `@axe-core/playwright`)
//! against a real formation: web, worker and a receiver.

use serde_json::json;
use std::path::PathBuf;
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

on_backends! {
    [Sqlite, Postgres]
    async fn a_customer_manages_their_webhooks_in_the_portal(backend) {
        let Some(dir) = scenario() else { return };
        let receiver = Receiver::start(|_| 200);
        let Some(mut herald) = Herald::start(backend).await else { return };
        herald.start_worker(&[("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#)]);
        let api = herald.client("org-a");
        api.post("/app", &json!({"name": "Shop A", "uid": "shop-a"})).await;
        api.post("/app", &json!({"name": "Shop B", "uid": "shop-b"})).await;
        let schema = json!({"1": {"type": "object", "properties": {"amount": {"type": "integer"}}}});
        let (status, _) = api.post("/event-type", &json!({"name": "order.paid", "description": "An order was paid", "schemas": schema})).await;
        assert_eq!(status, 201);
        let (a, b) = (portal_link(&api, "shop-a").await, portal_link(&api, "shop-b").await);
        let screenshots = testkit::workspace_root().join("docs/portal");
        std::fs::create_dir_all(&screenshots).expect("screenshot directory");
        // One backend's run makes the README's screenshots.
        let shots = if backend == Backend::Sqlite { screenshots.display().to_string() } else { String::new() };
        let out = tokio::process::Command::new("node")
            .arg(dir.join("portal.mjs"))
            .current_dir(&dir)
            .env("PORTAL_URL", &a)
            .env("OTHER_URL", &b)
            .env("RECEIVER", &receiver.url)
            .env("CHROMIUM", CHROMIUM)
            .env("SCREENSHOTS", shots)
            .output()
            .await
            .expect("run node");
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{}: {said}", backend.name());
        assert!(said.contains("every task passed"), "{said}");
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
    for (path, kind) in
        [("/portal/", "text/html"), ("/portal/app.js", "text/javascript"), ("/portal/app.css", "text/css")]
    {
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
    // The page loads nothing from anywhere else, and has no inline script or style.
    let page = http.get(format!("http://{}/portal/", herald.address)).send().await.expect("get");
    let html = page.text().await.expect("html");
    assert!(!html.contains("http://") && !html.contains("https://"), "{html}");
    assert!(!html.contains("<script>") && !html.contains("style="), "{html}");
}
