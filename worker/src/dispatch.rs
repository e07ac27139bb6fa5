//! Fan-out: a stored message becomes one delivery per endpoint of its application that is
//! enabled and listens to its event type and channels.

use herald::context::Context;
use herald::db::DbError;
use herald::db::delivery::{DeliveryRow, status, trigger};
use herald::db::endpoint::{EndpointRow, enabled_endpoints};
use herald::db::message::MessageRow;
use herald::db::work::{insert_delivery_once, mark_dispatched, undispatched_messages};
use herald::model::ids::{new_id, prefix};

/// Messages fanned out per round.
const BATCH: i64 = 100;

fn list(text: Option<&str>) -> Option<Vec<String>> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// Whether `endpoint` wants `message`: its event-type filter and channels (if any) match.
pub fn wants(endpoint: &EndpointRow, message: &MessageRow) -> bool {
    let types_ok = list(endpoint.filter_types.as_deref()).is_none_or(|types| types.contains(&message.event_type));
    let channels_ok = match list(endpoint.channels.as_deref()) {
        None => true,
        Some(wanted) => list(message.channels.as_deref()).is_some_and(|sent| sent.iter().any(|c| wanted.contains(c))),
    };
    types_ok && channels_ok
}

/// Fans out up to one batch of messages; returns how many.
pub async fn dispatch_round(context: &Context, now: chrono::NaiveDateTime) -> Result<usize, DbError> {
    let messages = undispatched_messages(&context.db, BATCH).await?;
    for message in &messages {
        fan_out(context, message, now).await?;
    }
    Ok(messages.len())
}

/// Fans out one message named by a dispatch job, unless that was done already.
pub async fn dispatch_one(context: &Context, message_id: &str, now: chrono::NaiveDateTime) -> Result<(), DbError> {
    let found = herald::db::message::messages_by_ids(&context.db, &[message_id.to_owned()]).await?;
    match found.into_iter().next() {
        Some(message) if message.dispatched_at.is_none() => fan_out(context, &message, now).await,
        _ => Ok(()),
    }
}

async fn fan_out(context: &Context, message: &MessageRow, now: chrono::NaiveDateTime) -> Result<(), DbError> {
    {
        for endpoint in enabled_endpoints(&context.db, &message.app_id).await?.iter().filter(|e| wants(e, message)) {
            let row = DeliveryRow {
                id: new_id(prefix::DELIVERY),
                message_id: message.id.clone(),
                endpoint_id: endpoint.id.clone(),
                app_id: message.app_id.clone(),
                status: status::PENDING,
                attempt_count: 0,
                next_attempt_at: now,
                lease_owner: None,
                lease_expires_at: None,
                trigger_kind: trigger::SCHEDULED,
                created_at: now,
                updated_at: now,
            };
            insert_delivery_once(&context.db, &row).await?;
        }
        // Only after every delivery exists: a crash before this line fans out again, harmlessly.
        mark_dispatched(&context.db, &message.id, now).await?;
    }
    Ok(())
}
