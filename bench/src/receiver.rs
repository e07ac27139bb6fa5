//! The receiver the end-to-end benchmarks run in their own process: actix-web on a thread of its
//! own, on a free loopback port, answering every request with what `answer` says.

use anyhow::Result;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the epoch: the clock publishers stamp into payloads (`sent_at_us`).
pub fn micros_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// How long ago a delivered body's `sent_at_us` stamp was, in microseconds.
pub fn latency_of(body: &[u8]) -> u64 {
    let sent = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v["sent_at_us"].as_u64());
    micros_now().saturating_sub(sent.unwrap_or(0))
}

/// Starts the receiver; `answer` gets each request's path and body and returns its status code.
/// Returns the port.
pub fn start(answer: impl Fn(&str, &[u8]) -> u16 + Clone + Send + Sync + 'static) -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                let answer = answer.clone();
                actix_web::App::new().default_service(actix_web::web::to(
                    move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                        let status = answer(req.path(), &body);
                        async move {
                            let code = actix_web::http::StatusCode::from_u16(status)
                                .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
                            actix_web::HttpResponse::build(code).finish()
                        }
                    },
                ))
            })
            .workers(1)
            .listen(listener);
            if let Ok(server) = server {
                let _ = server.run().await;
            }
        });
    });
    Ok(port)
}
