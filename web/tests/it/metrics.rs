//! `/metrics` on herald-web, read by a real Prometheus text parser (PyPI `prometheus_client`):
//! requests by route pattern and status, a latency histogram per route, and the connection pool.

use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use testkit::{Backend, Herald};

/// Parses an exposition with prometheus_client; panics if it is malformed.
fn parse(python: &std::path::Path, text: &str) -> Vec<Value> {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/metrics/parse.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the parser");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write exposition");
    let out = child.wait_with_output().expect("parser output");
    assert!(
        out.status.success(),
        "prometheus_client refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

fn value(samples: &[Value], name: &str, labels: &Value) -> Option<f64> {
    samples
        .iter()
        .find(|s| s["name"] == name && labels.as_object().unwrap().iter().all(|(k, v)| &s["labels"][k] == v))
        .and_then(|s| s["value"].as_f64())
}

#[tokio::test(flavor = "multi_thread")]
async fn web_metrics_count_requests_by_route_and_parse_with_prometheus_client() {
    let Some(python) = testkit::python_with(&["prometheus_client"]) else { return };
    let Some(herald) = Herald::start(Backend::Sqlite).await else { return };
    let api = herald.client("org-a");
    for i in 0..3 {
        api.post("/app", &json!({"name": "A", "uid": format!("a{i}")})).await;
    }
    api.get("/app/a0").await;
    api.get("/app/a1").await;
    api.get("/app/missing").await;
    let http = testkit::http();
    let unauthorised = http.get(format!("http://{}/api/v1/app", herald.address)).send().await.expect("GET");
    assert_eq!(unauthorised.status(), 401);
    http.get(format!("http://{}/no/such/route", herald.address)).send().await.expect("GET");

    let text = http.get(format!("http://{}/metrics", herald.address)).send().await.unwrap().text().await.unwrap();
    let samples = parse(&python, &text);
    let family = |name: &str| samples.iter().find(|s| s["family"] == name).map(|s| s["type"].clone());
    assert_eq!(family("herald_http_requests"), Some(json!("counter")), "{text}");
    assert_eq!(family("herald_http_request_duration_seconds"), Some(json!("histogram")), "{text}");
    assert_eq!(family("herald_db_connections"), Some(json!("gauge")), "{text}");

    let requests = |method: &str, route: &str, status: &str| {
        value(&samples, "herald_http_requests_total", &json!({"method": method, "route": route, "status": status}))
    };
    assert_eq!(requests("POST", "/api/v1/app", "201"), Some(3.0), "{text}");
    // One series per route pattern, not per id: two found and one missing application.
    assert_eq!(requests("GET", "/api/v1/app/{app_id}", "200"), Some(2.0), "{text}");
    assert_eq!(requests("GET", "/api/v1/app/{app_id}", "404"), Some(1.0), "{text}");
    assert_eq!(requests("GET", "/api/v1/app", "401"), Some(1.0), "{text}");
    assert_eq!(requests("GET", "unmatched", "404"), Some(1.0), "{text}");
    assert!(!text.contains("a0"), "no raw ids in labels");
    let timed =
        value(&samples, "herald_http_request_duration_seconds_count", &json!({"route": "/api/v1/app/{app_id}"}));
    assert_eq!(timed, Some(3.0), "every request timed: {text}");
    let open = value(&samples, "herald_db_connections", &json!({})).expect("pool gauge");
    assert!(open >= 1.0, "the API's requests opened connections: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn made_up_http_methods_share_one_metric_label() {
    let Some(herald) = Herald::start(Backend::Sqlite).await else { return };
    let http = testkit::http();
    for i in 0..200 {
        let method = reqwest::Method::from_bytes(format!("MADEUP{i}").as_bytes()).expect("method");
        let _ = http.request(method, format!("http://{}/api/v1/app", herald.address)).send().await;
    }
    let text = http.get(format!("http://{}/metrics", herald.address)).send().await.expect("metrics").text().await;
    let text = text.expect("text");
    assert!(!text.contains("MADEUP"), "client-chosen methods became label values");
    let series = text.lines().filter(|l| l.starts_with("herald_http_requests_total{")).count();
    assert!(series < 10, "{series} request series after 200 made-up methods:\n{text}");
    assert!(text.contains("method=\"other\""), "{text}");
}
