//! Fan-out: a stored message becomes one delivery per endpoint of its application that is
//! enabled and listens to its event type and channels.

use crate::runner::{Endpoints, Messages, Runner};
use crate::slots::Slot;
use chrono::NaiveDateTime;
use herald::context::Context;
use herald::db::delivery::DeliveryRow;
use herald::db::endpoint::{EndpointRow, enabled_endpoints};
use herald::db::json_text::{CorruptJson, Names};
use herald::db::message::{MessageRow, messages_by_ids};
use herald::db::work::undispatched_messages;
use herald::db::{DbError, JsonText};
use herald::metrics::Point;
use herald::model::ids::{DeliveryId, MessageId};
use herald::model::status::{DeliveryStatus, TriggerType};
use slog::error;
use std::sync::Arc;

/// Messages fanned out per round.
const BATCH: i64 = 100;

/// An endpoint's filters, read: event types and channels, each `None` when it takes all.
struct Filters<'a> {
    types: Option<&'a Names>,
    channels: Option<&'a Names>,
}

/// The endpoint's filters, or the error naming it when a stored filter does not read.
fn filters(endpoint: &EndpointRow) -> Result<Filters<'_>, CorruptJson> {
    fn read<'a>(stored: &'a Option<JsonText<Names>>, id: &str, column: &str) -> Result<Option<&'a Names>, CorruptJson> {
        stored.as_ref().map(|s| s.get().map_err(|e| e.in_row("endpoint", id, column))).transpose()
    }
    Ok(Filters {
        types: read(&endpoint.filter_types, &endpoint.id, "filter_types")?,
        channels: read(&endpoint.channels, &endpoint.id, "channels")?,
    })
}

/// Whether an endpoint with `filters` wants `message`: its event-type filter and channels (if
/// any) match. A message whose channels do not read matches no channel filter.
fn wants(filters: &Filters<'_>, message: &MessageRow) -> bool {
    let types_ok = filters.types.is_none_or(|types| types.contains(&message.event_type));
    let channels_ok = match filters.channels {
        None => true,
        Some(wanted) => message
            .channels
            .as_ref()
            .and_then(|sent| sent.get().ok())
            .is_some_and(|sent| sent.iter().any(|c| wanted.contains(c))),
    };
    types_ok && channels_ok
}

/// What a fan-out wrote: the deliveries created held by this worker, with the slots reserved
/// for them and the rows they need, for the runner to start. It starts nothing itself.
#[derive(Default)]
pub struct FannedOut {
    /// Messages fanned out.
    pub messages_done: usize,
    /// Deliveries created already held by this worker.
    pub held: Vec<DeliveryRow>,
    /// One slot per held delivery (and perhaps a few spare, returned when dropped).
    pub slots: Vec<Slot>,
    /// The messages, by id.
    pub messages: Messages,
    /// The endpoints, by id.
    pub endpoints: Endpoints,
}

/// Fans out up to one batch of messages left undispatched since `created_before`.
pub async fn dispatch_round(
    runner: &Runner,
    context: &Context,
    created_before: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<FannedOut, DbError> {
    let messages = undispatched_messages(&context.db, created_before, BATCH).await?;
    fan_out(runner, context, messages, now).await
}

/// Fans out the messages named by dispatch jobs, unless that was done already.
pub async fn dispatch_ids(
    runner: &Runner,
    context: &Context,
    ids: &[MessageId],
    now: NaiveDateTime,
) -> Result<FannedOut, DbError> {
    let found = messages_by_ids(&context.db, ids).await?;
    fan_out(runner, context, found.into_iter().filter(|m| m.dispatched_at.is_none()).collect(), now).await
}

/// Creates the messages' deliveries in one statement. As many as this worker has free slots for
/// (reserved from `runner` before the deliveries are written, so no lease waits for a slot) are
/// created already held by it; the rest wait in the queue, due now.
async fn fan_out(
    runner: &Runner,
    context: &Context,
    messages: Vec<MessageRow>,
    now: NaiveDateTime,
) -> Result<FannedOut, DbError> {
    if messages.is_empty() {
        return Ok(FannedOut::default());
    }
    let messages_done = messages.len();
    for message in &messages {
        context.metrics.reached(Point::Picked, message.created_at);
    }
    let mut apps: Vec<&str> = messages.iter().map(|m| m.app_id.as_str()).collect();
    apps.sort_unstable();
    apps.dedup();
    let endpoints = enabled_endpoints(&context.db, &apps).await?;
    // Stored values that do not read are errors, said with their row: such an endpoint gets
    // nothing from this round (rather than everything), the rest fan out as usual.
    let readable: Vec<(&EndpointRow, Filters<'_>)> = endpoints
        .iter()
        .filter_map(|e| match filters(e) {
            Ok(f) => Some((e, f)),
            Err(error) => {
                error!(context.log, "endpoint left out of the fan-out"; "error" => error.to_string());
                None
            }
        })
        .collect();
    for message in &messages {
        if let Some(Err(error)) = message.channels.as_ref().map(JsonText::get) {
            let error = error.in_row("message", &message.id, "channels");
            error!(context.log, "message matches no channel filter"; "error" => error.to_string());
        }
    }
    let (owner, lease_until) = (runner.owner(), runner.lease_until(now));
    let wanted: Vec<(&MessageRow, &EndpointRow)> = messages
        .iter()
        .flat_map(|m| {
            readable.iter().filter(move |(e, f)| e.app_id == m.app_id && wants(f, m)).map(move |(e, _)| (m, *e))
        })
        .collect();
    let slots = runner.reserve(wanted.len());
    let rows: Vec<DeliveryRow> = wanted
        .into_iter()
        .enumerate()
        .map(|(n, (message, endpoint))| {
            let held = n < slots.len();
            DeliveryRow {
                id: DeliveryId::generate(),
                message_id: message.id.clone(),
                endpoint_id: endpoint.id.clone(),
                app_id: message.app_id.clone(),
                status: if held { DeliveryStatus::Sending } else { DeliveryStatus::Pending },
                attempt_count: 0,
                // A held delivery is due again when its lease lapses.
                next_attempt_at: if held { lease_until } else { now },
                lease_owner: held.then(|| owner.to_owned()),
                lease_expires_at: held.then_some(lease_until),
                trigger_kind: TriggerType::Scheduled,
                created_at: now,
                updated_at: now,
            }
        })
        .collect();
    // The deliveries and the messages' dispatched mark commit together.
    let ids: Vec<MessageId> = messages.iter().map(|m| m.id.clone()).collect();
    let created = herald::db::work::fan_out(&context.db, &rows, &ids, now).await?;
    for message in &messages {
        context.metrics.reached(Point::FannedOut, message.created_at);
    }
    let held: Vec<DeliveryRow> = created.into_iter().filter(|d| d.status == DeliveryStatus::Sending).collect();
    let messages: Messages = messages.into_iter().map(|m| (m.id.clone(), Arc::new(m))).collect();
    let endpoints: Endpoints = endpoints.into_iter().map(|e| (e.id.clone(), Arc::new(e))).collect();
    Ok(FannedOut { messages_done, held, slots, messages, endpoints })
}
