//! One delivery attempt: load what it needs, sign, POST, record the attempt, then mark the
//! delivery succeeded, scheduled for a retry, or exhausted.

use crate::client::literal_refusal;
use chrono::{NaiveDateTime, SubsecRound, Utc};
use herald::config::HeaderStyleName;
use herald::context::Context;
use herald::db::DbError;
use herald::db::attempt::{AttemptRow, insert_attempt, status as attempt_status};
use herald::db::delivery::{DeliveryRow, status};
use herald::db::endpoint::{EndpointRow, endpoints_by_ids, record_failure, record_success};
use herald::db::message::messages_by_ids;
use herald::db::rate::take_slot;
use herald::db::work::finish_delivery;
use herald::model::ids::{new_id, prefix};
use herald::model::secret;
use herald::signing::{HeaderStyle, signature_header};
use slog::{info, warn};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Now, at the microsecond precision every backend stores.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// What one attempt came to.
struct Outcome {
    success: bool,
    status_code: i32,
    response: String,
    duration: Duration,
    /// The receiver's `Retry-After`, if it sent one.
    retry_after: Option<Duration>,
}

/// The signing keys in force: the current secret and rotated ones still in their grace period.
fn signing_keys(context: &Context, endpoint: &EndpointRow, at: NaiveDateTime) -> Vec<Vec<u8>> {
    let mut sealed = vec![endpoint.secret.clone()];
    sealed.extend(
        secret::previous_secrets(&endpoint.previous_secrets).into_iter().filter(|p| p.live_at(at)).map(|p| p.secret),
    );
    sealed.iter().filter_map(|s| context.secrets.open(s).ok()).filter_map(|plain| secret::key_bytes(&plain)).collect()
}

fn truncated(bytes: &[u8], max: usize) -> String {
    let cut = &bytes[..bytes.len().min(max)];
    String::from_utf8_lossy(cut).into_owned()
}

async fn attempt(
    context: &Context,
    client: &reqwest::Client,
    message_id: &str,
    body: &str,
    endpoint: &EndpointRow,
) -> Outcome {
    let started = Instant::now();
    let fail = |response: String, status_code: i32| Outcome {
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
    if let Some(reason) = literal_refusal(&url, &context.config) {
        return fail(reason, 0);
    }
    let config = context.config.get();
    let style = match config.delivery.header_style {
        HeaderStyleName::Standard => HeaderStyle::StandardWebhooks,
        HeaderStyleName::Svix => HeaderStyle::Svix,
    };
    let [id_header, timestamp_header, signature_name] = style.names();
    let timestamp = Utc::now().timestamp();
    let keys = signing_keys(context, endpoint, now());
    let mut request = client
        .post(url)
        .timeout(config.delivery.timeout)
        .header("content-type", "application/json")
        .header(id_header, message_id)
        .header(timestamp_header, timestamp.to_string())
        .header(signature_name, signature_header(&keys, message_id, timestamp, body.as_bytes()));
    let custom: BTreeMap<String, String> = serde_json::from_str(&endpoint.headers).unwrap_or_default();
    for (name, value) in &custom {
        request = request.header(name, value);
    }
    match request.body(body.to_owned()).send().await {
        Ok(response) => {
            let code = response.status();
            let retry_after =
                response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
            let bytes = response.bytes().await.unwrap_or_default();
            Outcome {
                success: code.is_success(),
                status_code: i32::from(code.as_u16()),
                response: truncated(&bytes, config.delivery.max_response_bytes),
                duration: started.elapsed(),
                retry_after,
            }
        }
        Err(e) => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            fail(text, 0)
        }
    }
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

/// Makes one attempt for a delivery this worker holds, and records the outcome.
pub async fn deliver(
    context: &Context,
    client: &reqwest::Client,
    owner: &str,
    held: DeliveryRow,
) -> Result<(), DbError> {
    let messages = messages_by_ids(&context.db, std::slice::from_ref(&held.message_id)).await?;
    let endpoints = endpoints_by_ids(&context.db, std::slice::from_ref(&held.endpoint_id)).await?;
    let (Some(message), Some(endpoint)) = (messages.into_iter().next(), endpoints.into_iter().next()) else {
        // The message or endpoint was deleted meanwhile (cascades remove the delivery too).
        return Ok(());
    };
    if endpoint.disabled {
        // A disabled endpoint gets nothing, retries included; `recover` replays what it missed.
        let at = now();
        finish_delivery(&context.db, &held.id, owner, status::EXHAUSTED, held.attempt_count, at, at).await?;
        info!(context.log, "delivery dropped: endpoint disabled"; "message" => &message.id, "endpoint" => &endpoint.id);
        return Ok(());
    }
    let Some(payload) = message.payload.as_deref() else {
        let at = now();
        finish_delivery(&context.db, &held.id, owner, status::EXHAUSTED, held.attempt_count, at, at).await?;
        return Ok(());
    };
    if let Some(limit) = endpoint.rate_limit.filter(|l| *l > 0) {
        let at = now();
        if let Some(wait_until) = take_slot(&context.db, &endpoint.id, limit, at).await? {
            // Over the endpoint's rate: wait for the next window; this is not a failed attempt.
            finish_delivery(&context.db, &held.id, owner, status::PENDING, held.attempt_count, wait_until, at).await?;
            return Ok(());
        }
    }
    let outcome = attempt(context, client, &message.id, payload, &endpoint).await;
    let at = now();
    let row = AttemptRow {
        id: new_id(prefix::ATTEMPT),
        message_id: message.id.clone(),
        endpoint_id: endpoint.id.clone(),
        app_id: held.app_id.clone(),
        delivery_id: Some(held.id.clone()),
        url: endpoint.url.clone(),
        status: if outcome.success { attempt_status::SUCCESS } else { attempt_status::FAIL },
        response_status_code: outcome.status_code,
        response: outcome.response,
        response_duration_ms: outcome.duration.as_millis() as i64,
        trigger_type: held.trigger_kind,
        created_at: at,
    };
    insert_attempt(&context.db, &row).await?;
    let attempts = held.attempt_count + 1;
    let (new_status, next) = if outcome.success {
        (status::SUCCEEDED, at)
    } else {
        let schedule: Vec<Duration> = context.config.with(|c| c.delivery.retry_schedule.iter().map(|d| **d).collect());
        match retry_delay(&schedule, attempts as usize, outcome.retry_after) {
            Some(delay) => (status::FAILED, at + chrono::Duration::from_std(delay).unwrap_or_default()),
            None => (status::EXHAUSTED, at),
        }
    };
    finish_delivery(&context.db, &held.id, owner, new_status, attempts, next, at).await?;
    let label = match new_status {
        status::SUCCEEDED => "success",
        status::EXHAUSTED => "exhausted",
        _ => "retry",
    };
    context.metrics.record_attempt(label, outcome.duration.as_secs_f64());
    // The endpoint's failure clock: any success stops it; failing long enough disables it.
    if outcome.success {
        if endpoint.first_failure_at.is_some() {
            record_success(&context.db, &endpoint.id).await?;
        }
    } else {
        let window = context.config.with(|c| c.delivery.disable_endpoint_after);
        let disable_before = at - chrono::Duration::from_std(window).unwrap_or_default();
        if record_failure(&context.db, &endpoint.id, at, disable_before).await? {
            warn!(context.log, "endpoint disabled: its deliveries have only failed"; "endpoint" => &endpoint.id,
                "failing_for_s" => window.as_secs());
        }
    }
    let log = &context.log;
    let fields =
        (message.id.as_str(), endpoint.id.as_str(), row.response_status_code, row.response_duration_ms, attempts);
    match new_status {
        status::SUCCEEDED => {
            info!(log, "delivered"; "message" => fields.0, "endpoint" => fields.1, "status" => fields.2, "duration_ms" => fields.3, "attempt" => fields.4)
        }
        status::EXHAUSTED => {
            warn!(log, "delivery exhausted"; "message" => fields.0, "endpoint" => fields.1, "status" => fields.2, "duration_ms" => fields.3, "attempt" => fields.4)
        }
        _ => {
            info!(log, "delivery failed, will retry"; "message" => fields.0, "endpoint" => fields.1, "status" => fields.2, "duration_ms" => fields.3, "attempt" => fields.4)
        }
    }
    Ok(())
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
