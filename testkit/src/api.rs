//! A running herald-web on a fresh, migrated database, and an HTTP client that speaks to its API
//! with a bearer token.

use crate::{Backend, Running, TestDb, run_admin};
use serde_json::Value;

/// herald-web (and, when asked, herald-worker) running against its own database.
pub struct Herald {
    /// The worker, when started with [`Herald::start_worker`].
    pub worker: Option<Running>,
    /// The database (dropped with the server).
    pub db: TestDb,
    /// The web process.
    pub web: Running,
    /// `127.0.0.1:port`.
    pub address: String,
}

impl Herald {
    /// Starts web on a new migrated database of `backend`; `None` when the backend is unreachable
    /// outside CI.
    pub async fn start(backend: Backend) -> Option<Herald> {
        Herald::start_with(backend, &[]).await
    }

    /// [`Herald::start`] with extra environment for the web process.
    pub async fn start_with(backend: Backend, env: &[(&str, &str)]) -> Option<Herald> {
        let db = TestDb::create(backend).await?;
        Some(Herald::start_on(db, env).await)
    }

    /// Starts web on `db` (migrating it first), with extra environment.
    pub async fn start_on(db: TestDb, env: &[(&str, &str)]) -> Herald {
        let out = run_admin(&["migrate", "up"], &[("HERALD_DATABASE_URL", &db.url)]);
        assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
        let mut all = vec![
            ("HERALD_DATABASE_URL", db.url.as_str()),
            ("HERALD_SERVE_HOST", "127.0.0.1"),
            ("HERALD_SERVE_PORT", "0"),
        ];
        all.extend_from_slice(env);
        let web = Running::start("herald-web", &[], &all);
        let address = web.address().await;
        Herald { db, web, address, worker: None }
    }

    /// The server's warning and error log lines, for failure messages.
    pub fn problems(&self) -> Vec<String> {
        self.web.lines().into_iter().filter(|l| l.contains("\"WARN\"") || l.contains("\"ERRO\"")).collect()
    }

    /// Starts a worker on the same database with extra environment.
    pub fn start_worker(&mut self, env: &[(&str, &str)]) {
        self.worker = Some(self.spawn_worker(env));
    }

    /// Another worker on the same database, owned by the caller.
    pub fn spawn_worker(&self, env: &[(&str, &str)]) -> Running {
        let mut all = vec![
            ("HERALD_DATABASE_URL", self.db.url.as_str()),
            ("HERALD_WORKER_HOST", "127.0.0.1"),
            ("HERALD_WORKER_PORT", "0"),
        ];
        all.extend_from_slice(env);
        Running::start("herald-worker", &[], &all)
    }

    /// Kills web with SIGKILL and starts a new one on the same port with `env`.
    pub async fn kill_and_restart_web(&mut self, env: &[(&str, &str)]) {
        self.web.signal("KILL");
        let _ = self.web.wait_exit(std::time::Duration::from_secs(10)).await;
        let port = self.address.rsplit(':').next().expect("port").to_owned();
        let mut all = vec![
            ("HERALD_DATABASE_URL", self.db.url.as_str()),
            ("HERALD_SERVE_HOST", "127.0.0.1"),
            ("HERALD_SERVE_PORT", port.as_str()),
        ];
        all.extend_from_slice(env);
        self.web = Running::start("herald-web", &[], &all);
        self.web.address().await;
    }

    /// A new org token, made by `herald-admin token create`.
    pub fn token(&self, org: &str) -> String {
        let out = run_admin(&["token", "create", "--org", org], &[("HERALD_DATABASE_URL", &self.db.url)]);
        assert!(out.status.success(), "token create: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A client for org `org` with a fresh token.
    pub fn client(&self, org: &str) -> Client {
        Client::new(&self.address, &self.token(org))
    }
}

/// A JSON client for `/api/v1`.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// A client for `address` using `token`.
    pub fn new(address: &str, token: &str) -> Self {
        Client { http: crate::http(), base: format!("http://{address}/api/v1"), token: token.to_owned() }
    }

    /// Sends a request; returns status and JSON body (Null when empty or not JSON).
    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// GET
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None).await
    }

    /// POST with a JSON body
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("POST", path, Some(body)).await
    }

    /// PUT with a JSON body
    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("PUT", path, Some(body)).await
    }

    /// PATCH with a JSON body
    pub async fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("PATCH", path, Some(body)).await
    }

    /// DELETE
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send("DELETE", path, None).await
    }

    /// Sends raw bytes with a content type, for malformed-input tests.
    pub async fn raw(&self, method: &str, path: &str, content_type: &str, body: &str) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}
