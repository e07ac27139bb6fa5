//! The recorder: stores what deliveries came to, many at a time. Attempts finish concurrently; each
//! sends its outcome here, and every outcome waiting is written in one transaction (attempt rows
//! plus the deliveries' new states), so a busy worker pays one commit per batch, not two per
//! delivery. A delivery's concurrency slot is given back only once its outcome is stored, so a
//! worker stopping gracefully has written everything when its slots are all free again.

use crate::deliver::Done;
use herald::clock::now;
use herald::context::Context;
use herald::db::endpoint::{record_failure, record_success};
use herald::db::work::record_batch;
use herald::model::status::DeliveryStatus;
use slog::{debug, error, info, warn};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// Outcomes written per transaction at most.
const BATCH: usize = 256;
/// Tries per batch before giving up on it (its leases then lapse and the deliveries are retried).
const TRIES: u32 = 3;

/// One delivery's outcome on its way to the database, with the slot it occupies.
pub struct Recorded {
    /// What happened.
    pub done: Done,
    /// The message delivered (for the log).
    pub message_id: herald::model::ids::MessageId,
    /// Never read: dropping it, once the outcome is stored, frees the slot.
    pub _slot: crate::slots::Slot,
}

/// Stores outcomes until every sender is gone; after each batch, wakes `wake` if the engine
/// is waiting for free slots (`starved`).
pub async fn run(
    context: Context,
    owner: String,
    mut inbox: mpsc::UnboundedReceiver<Recorded>,
    wake: Arc<Notify>,
    starved: Arc<AtomicBool>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    // Endpoints whose unopenable secret was logged already: once per endpoint, not per delivery.
    let mut unsigned_logged = HashSet::new();
    while inbox.recv_many(&mut batch, BATCH).await > 0 {
        if store(&context, &owner, &batch).await {
            report(&context, &batch, &mut unsigned_logged).await;
        }
        batch.clear();
        if starved.swap(false, Ordering::SeqCst) {
            wake.notify_one();
        }
    }
}

async fn store(context: &Context, owner: &str, batch: &[Recorded]) -> bool {
    let attempts: Vec<_> = batch.iter().filter_map(|r| r.done.attempt.clone()).collect();
    let finishes: Vec<_> = batch.iter().map(|r| r.done.finish.clone()).collect();
    for attempt in 1..=TRIES {
        match record_batch(&context.db, owner, &attempts, &finishes, now()).await {
            Ok(_) => return true,
            Err(e) if attempt < TRIES => {
                warn!(context.log, "storing delivery outcomes failed; trying again"; "error" => e.to_string());
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            Err(e) => {
                warn!(context.log, "storing delivery outcomes failed; their leases will lapse and they will be retried";
                    "error" => e.to_string(), "deliveries" => batch.len());
            }
        }
    }
    false
}

/// Metrics, logs, and each endpoint's failure clock: the last outcome per endpoint in the batch
/// counts (a success stops the clock, a failure starts it or disables a long-failing endpoint).
async fn report(context: &Context, batch: &[Recorded], unsigned_logged: &mut HashSet<herald::model::ids::EndpointId>) {
    let mut last = HashMap::new();
    for recorded in batch {
        let (done, message) = (&recorded.done, recorded.message_id.as_str());
        let Some(attempt) = &done.attempt else { continue };
        if done.expunged {
            info!(context.log, "delivery ended unsent: the message's payload was expunged"; "message" => message,
                "endpoint" => attempt.endpoint_id.as_str());
            continue;
        }
        if done.unsigned {
            context.metrics.unsigned_refusals.inc();
            if unsigned_logged.insert(done.endpoint.id.clone()) {
                error!(context.log, "refusing to send unsigned webhooks: the endpoint's signing secret cannot be decrypted with secrets.keys (was a key removed?)";
                    "endpoint" => &done.endpoint.id, "app" => &done.endpoint.app_id);
            }
        }
        let succeeded = done.finish.status == DeliveryStatus::Succeeded;
        last.insert(&done.endpoint.id, succeeded);
        let label = match done.finish.status {
            DeliveryStatus::Succeeded => "success",
            DeliveryStatus::Exhausted => "exhausted",
            _ => "retry",
        };
        context.metrics.record_attempt(label, done.duration.as_secs_f64());
        let (log, endpoint, code, ms, n) = (
            &context.log,
            attempt.endpoint_id.as_str(),
            attempt.response_status_code,
            attempt.response_duration_ms,
            done.finish.attempt_count,
        );
        match label {
            "success" => {
                debug!(log, "delivered"; "message" => message, "endpoint" => endpoint, "status" => code, "duration_ms" => ms, "attempt" => n)
            }
            "exhausted" => {
                warn!(log, "delivery exhausted"; "message" => message, "endpoint" => endpoint, "status" => code, "duration_ms" => ms, "attempt" => n, "response" => &attempt.response)
            }
            _ => {
                info!(log, "delivery failed, will retry"; "message" => message, "endpoint" => endpoint, "status" => code, "duration_ms" => ms, "attempt" => n, "response" => &attempt.response)
            }
        }
    }
    for (id, succeeded) in last {
        // A success always stops the clock: the copy of the endpoint loaded for the attempt may
        // predate a failure another worker recorded since.
        let result = if succeeded {
            record_success(&context.db, id).await
        } else {
            let at = now();
            let window = context.config.with(|c| c.delivery.disable_endpoint_after);
            let disable_before = at - chrono::Duration::from_std(window).unwrap_or_default();
            record_failure(&context.db, id, at, disable_before).await.map(|disabled| {
                if disabled {
                    warn!(context.log, "endpoint disabled: its deliveries have only failed"; "endpoint" => id,
                        "failing_for_s" => window.as_secs());
                }
            })
        };
        if let Err(e) = result {
            warn!(context.log, "updating the endpoint's failure clock failed"; "endpoint" => id, "error" => e.to_string());
        }
    }
}
