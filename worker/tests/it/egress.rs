//! Deliveries through an egress proxy (`delivery.proxy`), against real proxies on loopback:
//! tinyproxy for HTTP (plain requests, and CONNECT to an HTTPS receiver) and Dante for SOCKS5.
//! Each proxy connects out from its own loopback address, which is how a receiver tells that a
//! delivery came through it. What the SSRF policy can refuse, it still refuses.

use serde_json::{Value, json};
use std::time::Duration;
use testkit::{Backend, DANTE_SOURCE, Herald, Proxy, Receiver, Running, TINYPROXY_SOURCE, TestCa, temp_dir};

const LONG: Duration = Duration::from_secs(30);
const LOOPBACK: &str = r#"["127.0.0.0/8"]"#;

async fn started(worker_env: &[(&str, &str)]) -> Option<(Herald, testkit::Client)> {
    let mut herald = Herald::start(Backend::Sqlite).await?;
    let mut env = vec![("HERALD_DELIVERY_RETRY_SCHEDULE", "[]")];
    env.extend_from_slice(worker_env);
    herald.start_worker(&env);
    let api = herald.client("org-a");
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    Some((herald, api))
}

/// Sends one message to a new endpoint at `url`, and to no other endpoint (each gets a channel of
/// its own); returns the message's id.
async fn publish_to(api: &testkit::Client, url: &str) -> String {
    let channel = format!("c{}", rand::random::<u32>());
    let (status, endpoint) = api.post("/app/a/endpoint", &json!({"url": url, "channels": [channel]})).await;
    assert_eq!(status, 201, "{endpoint}");
    let (status, msg) = api.post("/app/a/msg", &json!({"eventType": "e", "payload": {}, "channels": [channel]})).await;
    assert_eq!(status, 202, "{msg}");
    msg["id"].as_str().expect("id").to_owned()
}

/// The message's attempts, once it has `n`.
async fn attempts(api: &testkit::Client, msg_id: &str, n: usize) -> Vec<Value> {
    let path = format!("/app/a/attempt/msg/{msg_id}");
    let page = testkit::eventually(
        LONG,
        || async { api.get(&path).await.1 },
        |a| a["data"].as_array().is_some_and(|d| d.len() >= n),
    )
    .await;
    page["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn deliveries_go_through_an_http_proxy_with_credentials_from_a_file() {
    let Some(proxy) = Proxy::tinyproxy(Some(("herald", "s3cret"))) else { return };
    let receiver = Receiver::start(|_| 200);
    let secret = temp_dir("proxy-secret").join("proxy-url");
    std::fs::write(&secret, format!("http://herald:s3cret@127.0.0.1:{}\n", proxy.port)).expect("write secret");
    let Some((_herald, api)) = started(&[
        ("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK),
        ("HERALD_DELIVERY_PROXY_FILE", &secret.to_string_lossy()),
    ])
    .await
    else {
        return;
    };
    publish_to(&api, &format!("{}/hook", receiver.url)).await;

    let got = receiver.wait_for(1, LONG).await;
    assert_eq!(got[0].from.to_string(), TINYPROXY_SOURCE, "it came from the proxy's address");
    assert!(got[0].headers.get("via").is_some_and(|v| v.contains("egress-test")), "{:?}", got[0].headers);
    assert!(got[0].headers.contains_key("webhook-signature"), "signed: {:?}", got[0].headers);
    assert!(!got[0].headers.contains_key("proxy-authorization"), "the proxy's credentials stop at the proxy");
}

#[tokio::test]
async fn deliveries_go_through_an_https_proxy() {
    let Some(inner) = Proxy::tinyproxy(None) else { return };
    let ca = TestCa::new(&temp_dir("https-proxy"));
    let (cert, key) = ca.issue("proxy");
    let Some(proxy) = Proxy::tls_in_front_of(inner.port, &cert, &key) else { return };
    let receiver = Receiver::start(|_| 200);
    let proxy_url = format!("https://localhost:{}", proxy.port);
    let ca_cert = ca.cert.to_string_lossy().into_owned();
    // The worker trusts the test CA (the proxy's certificate) as the system's.
    let env = [
        ("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK),
        ("HERALD_DELIVERY_PROXY", &proxy_url),
        ("SSL_CERT_FILE", &ca_cert),
    ];
    let Some((_herald, api)) = started(&env).await else { return };
    let msg = publish_to(&api, &format!("{}/hook", receiver.url)).await;

    let attempt = &attempts(&api, &msg, 1).await[0];
    assert_eq!(attempt["responseStatusCode"], 200, "{attempt}");
    let got = receiver.wait_for(1, LONG).await;
    assert_eq!(got[0].from.to_string(), TINYPROXY_SOURCE, "it came through the proxy");
}

/// An HTTPS receiver in Python (OpenSSL underneath) serving `cert`: prints a JSON line per request.
const HTTPS_RECEIVER: &str = r#"
import http.server, json, ssl, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        print(json.dumps({"msg": "received", "from": self.client_address[0],
                          "signed": "webhook-signature" in self.headers}), flush=True)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(json.dumps({"msg": "listening", "port": server.server_address[1]}), flush=True)
server.serve_forever()
"#;

#[tokio::test]
async fn https_receivers_are_reached_through_connect() {
    let Some(python) = testkit::python_with(&["ssl"]) else { return };
    let Some(proxy) = Proxy::tinyproxy(None) else { return };
    let ca = TestCa::new(&temp_dir("https-receiver"));
    let (cert, key) = ca.issue("receiver");
    let (cert, key) = (cert.to_string_lossy().into_owned(), key.to_string_lossy().into_owned());
    let ca_cert = ca.cert.to_string_lossy().into_owned();
    let receiver = Running::start_program(&python, &["-c", HTTPS_RECEIVER, &cert, &key], &[]);
    let listening = receiver.wait_for_record(0, LONG, |r| r["msg"] == "listening").await.expect("the receiver listens");
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    // The worker trusts the test CA as the system's.
    let env = [
        ("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK),
        ("HERALD_DELIVERY_PROXY", &proxy_url),
        ("SSL_CERT_FILE", &ca_cert),
    ];
    let Some((_herald, api)) = started(&env).await else { return };
    let msg = publish_to(&api, &format!("https://127.0.0.1:{}/hook", listening["port"])).await;

    let attempt = &attempts(&api, &msg, 1).await[0];
    assert_eq!(attempt["responseStatusCode"], 200, "{attempt}");
    let got = receiver.wait_for_record(0, LONG, |r| r["msg"] == "received").await.expect("delivered over TLS");
    assert_eq!(got["from"], TINYPROXY_SOURCE, "tunnelled through the proxy: {got}");
    assert_eq!(got["signed"], true);
    let tunnelled =
        proxy.process.stderr_lines().iter().chain(proxy.process.lines().iter()).any(|l| l.contains("CONNECT"));
    assert!(tunnelled, "the proxy logged a CONNECT");
}

#[tokio::test]
async fn socks5_deliveries_leave_from_the_proxy_to_the_address_herald_checked() {
    let Some(proxy) = Proxy::dante() else { return };
    let receiver = Receiver::start(|_| 200);
    let proxy_url = format!("socks5://127.0.0.1:{}", proxy.port);
    let Some((_herald, api)) =
        started(&[("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK), ("HERALD_DELIVERY_PROXY", &proxy_url)]).await
    else {
        return;
    };
    // A name: Herald resolves it, checks the address, and asks the proxy for that address.
    let port = receiver.url.rsplit(':').next().expect("port");
    publish_to(&api, &format!("http://localhost:{port}/hook")).await;

    let got = receiver.wait_for(1, LONG).await;
    assert_eq!(got[0].from.to_string(), DANTE_SOURCE, "it came from the proxy's address");
    assert!(got[0].headers.contains_key("webhook-signature"));
}

#[tokio::test]
async fn receivers_named_in_no_proxy_are_reached_directly() {
    let Some(proxy) = Proxy::tinyproxy(None) else { return };
    let receiver = Receiver::start(|_| 200);
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let env = [
        ("HERALD_DELIVERY_ALLOWED_CIDRS", LOOPBACK),
        ("HERALD_DELIVERY_PROXY", proxy_url.as_str()),
        ("HERALD_DELIVERY_NO_PROXY", r#"["localhost"]"#),
    ];
    let Some((_herald, api)) = started(&env).await else { return };
    let port = receiver.url.rsplit(':').next().expect("port");
    publish_to(&api, &format!("http://localhost:{port}/direct")).await;
    publish_to(&api, &format!("http://127.0.0.1:{port}/proxied")).await;

    let got = receiver.wait_for(2, LONG).await;
    let from = |path: &str| got.iter().find(|r| r.path == path).map(|r| r.from.to_string());
    assert_eq!(from("/direct").as_deref(), Some("127.0.0.1"), "bypassed the proxy");
    assert_eq!(from("/proxied").as_deref(), Some(TINYPROXY_SOURCE), "through the proxy");
}

/// Through each kind of proxy, with the default SSRF policy (loopback refused): the receiver on
/// loopback must get nothing, by name or by address.
async fn refused_through(proxy_url: &str) {
    let receiver = Receiver::start(|_| 200);
    let Some((_herald, api)) = started(&[("HERALD_DELIVERY_PROXY", proxy_url)]).await else { return };
    let port = receiver.url.rsplit(':').next().expect("port").to_owned();
    for url in [format!("http://localhost:{port}/by-name"), format!("http://127.0.0.1:{port}/by-address")] {
        let msg = publish_to(&api, &url).await;
        let attempt = &attempts(&api, &msg, 1).await[0];
        assert_eq!(attempt["status"], 2, "{attempt}");
        assert!(attempt["response"].as_str().is_some_and(|r| r.starts_with("refused by policy")), "{url}: {attempt}");
    }
    assert!(receiver.received().is_empty(), "{proxy_url} forwarded a refused delivery: {:?}", receiver.received());
}

#[tokio::test]
async fn an_http_proxy_is_not_a_way_around_the_ssrf_policy() {
    let Some(proxy) = Proxy::tinyproxy(None) else { return };
    refused_through(&format!("http://127.0.0.1:{}", proxy.port)).await;
}

#[tokio::test]
async fn a_socks5_proxy_is_not_a_way_around_the_ssrf_policy() {
    let Some(proxy) = Proxy::dante() else { return };
    refused_through(&format!("socks5://127.0.0.1:{}", proxy.port)).await;
    refused_through(&format!("socks5h://127.0.0.1:{}", proxy.port)).await;
}

#[tokio::test]
async fn a_proxy_that_checks_destinations_itself_is_handed_names_unchecked() {
    let Some(proxy) = Proxy::tinyproxy(None) else { return };
    let receiver = Receiver::start(|_| 200);
    // Named, on loopback: the policy refuses loopback, but not for the proxy the operator chose.
    let proxy_url = format!("http://localhost:{}", proxy.port);
    let env = [("HERALD_DELIVERY_PROXY", proxy_url.as_str()), ("HERALD_DELIVERY_PROXY_CHECKS_DESTINATIONS", "true")];
    let Some((_herald, api)) = started(&env).await else { return };
    let port = receiver.url.rsplit(':').next().expect("port").to_owned();
    // This proxy checks nothing, so the name reaches loopback: the operator's word is taken.
    publish_to(&api, &format!("http://localhost:{port}/by-name")).await;
    let literal = publish_to(&api, &format!("http://127.0.0.1:{port}/by-address")).await;

    let got = receiver.wait_for(1, LONG).await;
    assert_eq!(got[0].path, "/by-name");
    let attempt = &attempts(&api, &literal, 1).await[0];
    assert!(
        attempt["response"].as_str().is_some_and(|r| r.starts_with("refused by policy")),
        "literals still: {attempt}"
    );
}
