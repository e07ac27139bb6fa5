//! Requests being served right now, so that a graceful stop can tell a busy connection from an
//! idle keep-alive one. actix's own graceful stop waits for every open connection, and an idle
//! keep-alive connection only closes when its timer runs out (5 s): a stop that waited for those
//! would outlast honcho's kill timer (also 5 s) and end in SIGKILL for no request at all.

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Notify;

/// How long the count must stay at zero before the process counts as idle: the last response's
/// bytes are handed to the connection when its body ends, and are written a moment later.
const SETTLE: Duration = Duration::from_millis(100);

/// Counts requests from the moment their head is parsed until their response body has been
/// handed to the connection.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    closing: AtomicBool,
    changed: Notify,
}

impl InFlight {
    /// From now on every response asks the client to close its connection, so connections that
    /// are still used during the stop close themselves after their request.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    /// Requests in flight.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Resolves once no request has been in flight for a short settling time.
    pub async fn settled(&self) {
        loop {
            self.idle().await;
            tokio::time::sleep(SETTLE).await;
            if self.count() == 0 {
                return;
            }
        }
    }

    async fn idle(&self) {
        loop {
            // Registered before the check, so a request ending in between still wakes us.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            changed.await;
        }
    }

    fn enter(self: &Arc<Self>) -> Guard {
        self.count.fetch_add(1, Ordering::SeqCst);
        Guard(self.clone())
    }
}

/// One request in flight; dropping it ends the request.
#[derive(Debug)]
struct Guard(Arc<InFlight>);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.changed.notify_waiters();
        }
    }
}

/// A response body that keeps its request in flight until the body has ended (or is dropped).
pub struct TrackedBody {
    body: BoxBody,
    guard: Option<Guard>,
}

impl MessageBody for TrackedBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let next = Pin::new(&mut this.body).poll_next(cx);
        if matches!(next, Poll::Ready(None | Some(Err(_)))) {
            this.guard = None;
        }
        next
    }
}

/// Middleware body (use with `actix_web::middleware::from_fn`): counts the request in
/// `in_flight` until its response body ends; once the stop has begun, answers with
/// `Connection: close`.
pub async fn track_in_flight(
    in_flight: Arc<InFlight>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<TrackedBody>, actix_web::Error> {
    let guard = in_flight.enter();
    let mut response = next.call(req).await?;
    if in_flight.closing.load(Ordering::SeqCst) {
        response.response_mut().head_mut().set_connection_type(ConnectionType::Close);
    }
    Ok(response.map_into_boxed_body().map_body(|_, body| TrackedBody { body, guard: Some(guard) }))
}
