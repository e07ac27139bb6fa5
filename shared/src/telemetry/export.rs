//! The OTLP exporter's HTTP client: Herald's reqwest, with Herald's root policy for `https://`
//! collectors. The SDK's batch processor exports from a thread of its own, outside any async
//! runtime, so each request runs on the process's runtime (a handle taken at start-up) and the
//! exporter waits for its result.

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use std::time::Duration;

/// How long one export may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a collector's answer read (it is only looked at for errors).
const MAX_ANSWER: usize = 64 * 1024;

/// Sends export requests on `runtime`.
#[derive(Debug, Clone)]
pub struct Exporting {
    runtime: tokio::runtime::Handle,
    client: std::sync::Arc<tokio::sync::OnceCell<reqwest::Client>>,
}

impl Exporting {
    /// Requests will run on `runtime`.
    pub fn new(runtime: tokio::runtime::Handle) -> Self {
        Exporting { runtime, client: Default::default() }
    }
}

/// The client, built on first use: reading the system's authorities is file work, done off
/// the async threads.
async fn client(cell: &tokio::sync::OnceCell<reqwest::Client>) -> Result<reqwest::Client, HttpError> {
    let built = cell
        .get_or_try_init(|| async {
            let trusted = tokio::task::spawn_blocking(crate::tls::roots::trusted).await?;
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(trusted.store())
                .with_no_client_auth();
            let client = reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .no_proxy()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()?;
            Ok::<_, HttpError>(client)
        })
        .await?;
    Ok(built.clone())
}

#[async_trait::async_trait]
impl HttpClient for Exporting {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let cell = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let client = client(&cell).await?;
            let (parts, body) = request.into_parts();
            let mut outgoing = client.request(parts.method, parts.uri.to_string()).body(body);
            for (name, value) in &parts.headers {
                outgoing = outgoing.header(name, value);
            }
            let mut answer = outgoing.send().await?;
            let status = answer.status();
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await? {
                body.extend_from_slice(&chunk[..chunk.len().min(MAX_ANSWER.saturating_sub(body.len()))]);
                if body.len() >= MAX_ANSWER {
                    break;
                }
            }
            Ok::<_, HttpError>(Response::builder().status(status).body(Bytes::from(body))?)
        });
        sent.await?
    }
}
