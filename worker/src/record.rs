//! The recorder: stores what deliveries came to, many at a time. Attempts finish concurrently; each
//! sends its outcome here, and every outcome waiting is written in one transaction (attempt rows
//! plus the deliveries' new states), so a busy worker pays one commit per batch, not two per
//! delivery. A delivery's concurrency slot is given back only once its outcome is stored, so a
//! worker stopping gracefully has written everything when its slots are all free again.

use crate::deliver::Done;
use herald::clock::now;
use herald::context::Context;
use herald::db::DbError;
use herald::db::endpoint::{record_failure, record_success};
use herald::db::message::MessageRow;
use herald::db::operational::{Noticed, app_uids};
use herald::db::work::record_batch;
use herald::metrics::Point;
use herald::model::ids::{AppId, DeliveryId};
use herald::model::status::{DeliveryStatus, TriggerType};
use herald::operational::{AttemptRef, LastAttempt, Notice, Outcome};
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
    /// The message delivered.
    pub message: Arc<MessageRow>,
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
        if store(&context, &owner, &batch, &wake).await {
            report(&context, &batch, &mut unsigned_logged, &wake).await;
        }
        batch.clear();
        if starved.swap(false, Ordering::SeqCst) {
            wake.notify_one();
        }
    }
}

/// The operational events the batch's outcomes call for (exhausted, failing, recovered), by
/// the delivery each reports. Reads the applications' uids, only when there is one to report.
async fn notices(context: &Context, batch: &[Recorded]) -> Result<Vec<(DeliveryId, Notice)>, DbError> {
    let reportable: Vec<_> = batch
        .iter()
        .filter_map(|r| {
            // An expunged payload ended the delivery, not the receiver's failures.
            let attempt = r.done.attempt.as_ref().filter(|_| !r.done.expunged)?;
            Outcome::of(r.done.finish.status, r.done.finish.attempt_count).map(|outcome| (r, attempt, outcome))
        })
        .collect();
    if reportable.is_empty() {
        return Ok(Vec::new());
    }
    let mut apps: Vec<AppId> = reportable.iter().map(|(r, ..)| r.message.app_id.clone()).collect();
    apps.sort_unstable();
    apps.dedup();
    let uids = app_uids(&context.db, &apps).await?;
    Ok(reportable
        .into_iter()
        .filter_map(|(r, attempt, outcome)| {
            let message = &r.message;
            let about = AttemptRef {
                app_id: message.app_id.clone(),
                app_uid: uids.get(&message.app_id).cloned().flatten(),
                endpoint_id: attempt.endpoint_id.clone(),
                msg_id: message.id.clone(),
                msg_event_id: message.event_id.clone(),
                last_attempt: LastAttempt {
                    id: attempt.id.clone(),
                    response_status_code: attempt.response_status_code,
                    timestamp: herald::clock::rfc3339(attempt.created_at),
                },
            };
            let notice = Notice::new(&message.org_id, &outcome.event(about), attempt.created_at)?;
            Some((r.done.finish.id.clone(), notice))
        })
        .collect())
}

/// Stores the batch's outcomes with their operational events; announces the events stored.
async fn store(context: &Context, owner: &str, batch: &[Recorded], wake: &Notify) -> bool {
    let attempts: Vec<_> = batch.iter().filter_map(|r| r.done.attempt.clone()).collect();
    let finishes: Vec<_> = batch.iter().map(|r| r.done.finish.clone()).collect();
    for attempt in 1..=TRIES {
        let stored = match notices(context, batch).await {
            Ok(notices) => record_batch(&context.db, owner, &attempts, &finishes, &notices, now()).await,
            Err(e) => Err(e),
        };
        match stored {
            Ok(stored) => {
                for first in batch.iter().filter(|r| r.done.finish.attempt_count == 1) {
                    if first.done.attempt.as_ref().is_some_and(|a| a.trigger_type == TriggerType::Scheduled) {
                        context.metrics.reached(Point::Recorded, first.message.created_at);
                    }
                }
                announce(context, &stored.noticed, wake);
                return true;
            }
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

/// Tells the workers about operational events stored: this one's loop at once, the others
/// through the transport.
fn announce(context: &Context, noticed: &Noticed, wake: &Notify) {
    if !noticed.0.is_empty() {
        context.announce_all(noticed);
        wake.notify_one();
    }
}

/// Metrics, logs, and each endpoint's failure clock: the last outcome per endpoint in the batch
/// counts (a success stops the clock, a failure starts it or disables a long-failing endpoint).
async fn report(
    context: &Context,
    batch: &[Recorded],
    unsigned_logged: &mut HashSet<herald::model::ids::EndpointId>,
    wake: &Notify,
) {
    let mut last = HashMap::new();
    for recorded in batch {
        let (done, message) = (&recorded.done, recorded.message.id.as_str());
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
            record_failure(&context.db, id, at, disable_before).await.map(|noted| {
                if noted.disabled {
                    warn!(context.log, "endpoint disabled: its deliveries have only failed"; "endpoint" => id,
                        "failing_for_s" => window.as_secs());
                    announce(context, &noted.noticed, wake);
                }
            })
        };
        if let Err(e) = result {
            warn!(context.log, "updating the endpoint's failure clock failed"; "endpoint" => id, "error" => e.to_string());
        }
    }
}
