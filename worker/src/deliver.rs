//! One delivery attempt: sign, POST, and work out whether the delivery succeeded, is scheduled
//! for a retry, or is exhausted. Storing the outcome is the recorder's job (record.rs).

use crate::client::{Egress, REFUSED};
use chrono::{NaiveDateTime, Utc};
use herald::clock::now;
use herald::config::HeaderStyleName;
use herald::context::Context;
use herald::db::DbError;
use herald::db::attempt::AttemptRow;
use herald::db::delivery::DeliveryRow;
use herald::db::endpoint::EndpointRow;
use herald::db::message::MessageRow;
use herald::db::rate::take_slot;
use herald::db::work::Finish;
use herald::metrics::Point;
use herald::model::ids::AttemptId;
use herald::model::secret;
use herald::model::status::{DeliveryStatus, MessageStatus, TriggerType};
use herald::signing::{HeaderStyle, signature_header};
use herald::telemetry::attribute;
use slog::info;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one attempt came to.
struct Outcome {
    /// Whether it was refused before anything was sent because a signing secret could not be
    /// opened with the configured `secrets.keys`.
    unsigned: bool,
    success: bool,
    status_code: i32,
    response: String,
    duration: Duration,
    /// The receiver's `Retry-After`, if it sent one.
    retry_after: Option<Duration>,
}

/// Why an attempt was refused before sending: a request that is not signed with every secret the
/// endpoint has in force never leaves Herald.
pub const UNSIGNED: &str =
    "not sent: the endpoint's signing secret cannot be decrypted with the configured secrets.keys";

/// The signing keys in force: the current secret and rotated ones still in their grace period;
/// `None` when any of them cannot be opened (a wrong or rotated-away `secrets.keys`). The stored
/// list of rotated secrets has been read already (`previous`).
fn signing_keys(
    context: &Context,
    endpoint: &EndpointRow,
    previous: &[secret::PreviousSecret],
    at: NaiveDateTime,
) -> Option<Vec<Vec<u8>>> {
    let mut sealed = vec![endpoint.secret.clone()];
    sealed.extend(previous.iter().filter(|p| p.live_at(at)).map(|p| p.secret.clone()));
    sealed.iter().map(|s| context.secrets.open(s).ok().and_then(|plain| secret::key_bytes(&plain))).collect()
}

/// Reads at most `max` bytes of a response body, then stops (dropping the response closes the
/// connection): a receiver streaming an endless body costs neither memory nor the whole timeout.
async fn read_capped(response: &mut reqwest::Response, max: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut kept = Vec::new();
    while kept.len() < max {
        let Some(chunk) = response.chunk().await? else { break };
        kept.extend_from_slice(&chunk[..chunk.len().min(max - kept.len())]);
    }
    Ok(kept)
}

async fn attempt(
    context: &Context,
    egress: &Egress,
    message_id: &str,
    body: &str,
    endpoint: &EndpointRow,
    traceparent: Option<&str>,
) -> Outcome {
    let started = Instant::now();
    let fail = |response: String, status_code: i32| Outcome {
        unsigned: false,
        success: false,
        status_code,
        response,
        duration: started.elapsed(),
        retry_after: None,
    };
    let url = match reqwest::Url::parse(&endpoint.url) {
        Ok(url) => url,
        Err(e) => return fail(format!("invalid endpoint URL: {e}"), 0),
    };
    if let Some(reason) = egress.refusal(&url).await {
        return fail(reason, 0);
    }
    let config = context.config.get();
    let style = match config.delivery.header_style {
        HeaderStyleName::Standard => HeaderStyle::StandardWebhooks,
        HeaderStyleName::Svix => HeaderStyle::Svix,
    };
    let [id_header, timestamp_header, signature_name] = style.names();
    let timestamp = herald::clock::unix_seconds();
    // What the endpoint stores must read, or nothing is sent: not without its rotated secrets'
    // signatures, nor without the custom headers its receiver may need.
    let stored = |column, e: herald::db::json_text::CorruptJson| {
        fail(format!("not sent: {}", e.in_row("endpoint", &endpoint.id, column)), 0)
    };
    let previous = match endpoint.previous_secrets.get() {
        Ok(previous) => previous,
        Err(e) => return stored("previous_secrets", e),
    };
    let custom = match endpoint.headers.get() {
        Ok(custom) => custom,
        Err(e) => return stored("headers", e),
    };
    let Some(keys) = signing_keys(context, endpoint, previous, now()) else {
        return Outcome { unsigned: true, ..fail(UNSIGNED.to_owned(), 0) };
    };
    let mut request = egress
        .client
        .post(url)
        .timeout(config.delivery.timeout)
        .header("content-type", "application/json")
        .header(id_header, message_id)
        .header(timestamp_header, timestamp.to_string())
        .header(signature_name, signature_header(&keys, message_id, timestamp, body.as_bytes()));
    for (name, value) in custom {
        request = request.header(name, value);
    }
    // The endpoint's own `traceparent` header, if it has one, is left as it is.
    if let Some(value) = traceparent.filter(|_| !custom.keys().any(|k| k.eq_ignore_ascii_case("traceparent"))) {
        request = request.header("traceparent", value);
    }
    match request.body(body.to_owned()).send().await {
        Ok(mut response) => {
            let code = response.status();
            let retry_after =
                response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
            match read_capped(&mut response, config.delivery.max_response_bytes).await {
                Ok(bytes) => Outcome {
                    unsigned: false,
                    success: code.is_success(),
                    status_code: i32::from(code.as_u16()),
                    response: String::from_utf8_lossy(&bytes).into_owned(),
                    duration: started.elapsed(),
                    retry_after,
                },
                // A body cut short (timed out, reset) is not an answer: the attempt failed.
                Err(e) => {
                    fail(format!("reading the response failed: {}", herald::error::chain(&e)), i32::from(code.as_u16()))
                }
            }
        }
        // A refusal reads the same whichever resolver refused (direct, or for a SOCKS5 proxy).
        Err(e) => match herald::error::chain(&e) {
            text if text.contains(REFUSED) => fail(REFUSED.to_owned(), 0),
            text => fail(text, 0),
        },
    }
}

/// The span of one attempt, under the span that published the message (a root span for a message
/// published while tracing was off), when tracing is on.
fn attempt_span(
    context: &Context,
    message: &MessageRow,
    endpoint: &EndpointRow,
    attempt: i32,
) -> Option<opentelemetry::Context> {
    use opentelemetry::KeyValue;
    let tracer = context.telemetry.tracer()?;
    let parent = message.trace_context.as_deref().map(herald::telemetry::from_traceparent).unwrap_or_default();
    let attributes = vec![
        KeyValue::new(attribute::ORG, message.org_id.clone()),
        KeyValue::new(attribute::APP, message.app_id.to_string()),
        KeyValue::new(attribute::ENDPOINT, endpoint.id.to_string()),
        KeyValue::new(attribute::MESSAGE, message.id.to_string()),
        KeyValue::new(attribute::EVENT_TYPE, message.event_type.clone()),
        KeyValue::new(attribute::ATTEMPT, i64::from(attempt)),
    ];
    let kind = opentelemetry::trace::SpanKind::Client;
    Some(herald::telemetry::start(tracer, "deliver", kind, &parent, attributes))
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(text: &str) -> Option<Duration> {
    if let Ok(seconds) = text.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text.trim()).ok()?;
    (at.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

/// The delay before retry number `attempts` (1-based), with ±20 % jitter; a receiver's
/// `Retry-After` is honoured between once and twice the scheduled delay. `None` when exhausted.
pub fn retry_delay(schedule: &[Duration], attempts: usize, retry_after: Option<Duration>) -> Option<Duration> {
    let base = *schedule.get(attempts.checked_sub(1)?)?;
    if let Some(asked) = retry_after {
        return Some(asked.clamp(base, base * 2));
    }
    let jitter = rand::random_range(0.8..1.2);
    Some(base.mul_f64(jitter))
}

/// What became of a delivery this worker held: the attempt made (if one was), the delivery's new
/// state, and what the recorder needs to report it.
pub struct Done {
    /// The attempt, when one was made (not when the delivery was dropped or deferred).
    pub attempt: Option<AttemptRow>,
    /// The delivery's new state.
    pub finish: Finish,
    /// The endpoint it was for, as loaded for the attempt.
    pub endpoint: Arc<EndpointRow>,
    /// How long the HTTP call took.
    pub duration: Duration,
    /// Refused unsent: a signing secret could not be opened (see [`UNSIGNED`]).
    pub unsigned: bool,
    /// Not sent: the message's payload was expunged (see [`EXPUNGED`]). Not the endpoint's
    /// failure, so it does not count towards disabling it.
    pub expunged: bool,
}

/// The response recorded on an attempt that was not made because the message's payload had been
/// expunged (its retention ended, or a call expunged it) before it could be delivered.
pub const EXPUNGED: &str =
    "not sent: the message's payload was expunged (its retention ended) before it could be delivered";

/// Makes one attempt for a delivery this worker holds and works out the delivery's next state;
/// the recorder stores both.
pub async fn deliver(
    context: &Context,
    egress: &Egress,
    held: DeliveryRow,
    message: &MessageRow,
    endpoint: Arc<EndpointRow>,
) -> Result<Done, DbError> {
    let stays = |status, next_attempt_at| Finish {
        id: held.id.clone(),
        status,
        attempt_count: held.attempt_count,
        next_attempt_at,
    };
    let skipped = |finish| Done {
        attempt: None,
        finish,
        endpoint: endpoint.clone(),
        duration: Duration::ZERO,
        unsigned: false,
        expunged: false,
    };
    // A disabled endpoint gets nothing, retries included; `recover` replays what it missed.
    if endpoint.disabled {
        info!(context.log, "delivery dropped: endpoint disabled"; "message" => &message.id, "endpoint" => &endpoint.id);
        return Ok(skipped(stays(DeliveryStatus::Exhausted, now())));
    }
    // A message whose payload's retention has ended has nothing left to send, whether or not a
    // prune has expunged it yet: the delivery ends with an attempt saying so, and no call.
    let at = now();
    let Some(payload) = message.payload.as_deref().filter(|_| message.expires_at.is_none_or(|end| end > at)) else {
        let row = attempt_row(&held, message, &endpoint, MessageStatus::Fail, 0, EXPUNGED.to_owned(), 0, at);
        return Ok(Done {
            attempt: Some(row),
            finish: stays(DeliveryStatus::Exhausted, at),
            endpoint,
            duration: Duration::ZERO,
            unsigned: false,
            expunged: true,
        });
    };
    if let Some(limit) = endpoint.rate_limit.filter(|l| *l > 0)
        && let Some(wait_until) = take_slot(&context.db, &endpoint.id, limit, now()).await?
    {
        // Over the endpoint's rate: wait for the next window; this is not a failed attempt.
        return Ok(skipped(stays(DeliveryStatus::Pending, wait_until)));
    }
    let attempts = held.attempt_count + 1;
    let span = attempt_span(context, message, &endpoint, attempts);
    let send_traceparent = context.config.with(|c| c.tracing.send_traceparent);
    let traceparent = span.as_ref().filter(|_| send_traceparent).and_then(herald::telemetry::traceparent);
    // Timed for the first attempt of a published message only: where its latency goes.
    let first = held.attempt_count == 0 && held.trigger_kind == TriggerType::Scheduled;
    if first {
        context.metrics.reached(Point::Sending, message.created_at);
    }
    let outcome = attempt(context, egress, &message.id, payload, &endpoint, traceparent.as_deref()).await;
    if first {
        context.metrics.reached(Point::Answered, message.created_at);
    }
    if let Some(span) = &span {
        use opentelemetry::trace::{Status, TraceContextExt};
        let span = span.span();
        span.set_attribute(opentelemetry::KeyValue::new(attribute::STATUS_CODE, i64::from(outcome.status_code)));
        if !outcome.success {
            // Not the receiver's text: it is the tenant's customer's, and unbounded in kind.
            span.set_status(Status::error("the attempt failed"));
        }
    }
    drop(span);
    let at = now();
    let (new_status, next) = if outcome.success {
        (DeliveryStatus::Succeeded, at)
    } else {
        let schedule: Vec<Duration> = context.config.with(|c| c.delivery.retry_schedule.iter().map(|d| **d).collect());
        match retry_delay(&schedule, attempts as usize, outcome.retry_after) {
            Some(delay) => (DeliveryStatus::Failed, at + chrono::Duration::from_std(delay).unwrap_or_default()),
            None => (DeliveryStatus::Exhausted, at),
        }
    };
    let status = if outcome.success { MessageStatus::Success } else { MessageStatus::Fail };
    let ms = outcome.duration.as_millis() as i64;
    let row = attempt_row(&held, message, &endpoint, status, outcome.status_code, outcome.response, ms, at);
    let finish = Finish { id: held.id.clone(), status: new_status, attempt_count: attempts, next_attempt_at: next };
    Ok(Done {
        attempt: Some(row),
        finish,
        endpoint,
        duration: outcome.duration,
        unsigned: outcome.unsigned,
        expunged: false,
    })
}

/// The attempt row for a delivery's call (or decision not to call) at `at`.
#[allow(clippy::too_many_arguments)]
fn attempt_row(
    held: &DeliveryRow,
    message: &MessageRow,
    endpoint: &EndpointRow,
    status: MessageStatus,
    code: i32,
    response: String,
    duration_ms: i64,
    at: chrono::NaiveDateTime,
) -> AttemptRow {
    AttemptRow {
        id: AttemptId::generate(),
        message_id: message.id.clone(),
        endpoint_id: endpoint.id.clone(),
        app_id: held.app_id.clone(),
        delivery_id: Some(held.id.clone()),
        url: endpoint.url.clone(),
        status,
        response_status_code: code,
        response,
        response_duration_ms: duration_ms,
        trigger_type: held.trigger_kind,
        created_at: at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_with_jitter_then_stop() {
        let schedule = [Duration::from_secs(10), Duration::from_secs(100)];
        for _ in 0..100 {
            let first = retry_delay(&schedule, 1, None).expect("first retry");
            assert!(first >= Duration::from_secs(8) && first <= Duration::from_secs(12), "{first:?}");
        }
        assert!(retry_delay(&schedule, 2, None).is_some());
        assert_eq!(retry_delay(&schedule, 3, None), None, "exhausted after the last");
    }

    #[test]
    fn retry_after_is_honoured_between_once_and_twice_the_schedule() {
        let schedule = [Duration::from_secs(10)];
        let asked = |s| retry_delay(&schedule, 1, Some(Duration::from_secs(s)));
        assert_eq!(asked(15), Some(Duration::from_secs(15)));
        assert_eq!(asked(1), Some(Duration::from_secs(10)), "never sooner than scheduled");
        assert_eq!(asked(3600), Some(Duration::from_secs(20)), "never later than twice the schedule");
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert!(parse_retry_after("soon").is_none());
    }
}
