//! Operational webhooks: Herald telling an organisation's operator that something needs attention
//! (an endpoint created, changed, deleted or disabled; a message failing, exhausted or recovered).
//!
//! They travel as ordinary messages, so they get the pipeline's signatures, retries and
//! guarantees. The operator subscribes by creating, with the normal API, the application whose
//! uid is [`APP_UID`] in their organisation and endpoints on it. Each event is stored as a message
//! of that application in the same transaction as the change it reports, by a statement that
//! finds the application itself: an organisation without one gets no rows at all, and a change
//! that commits always has its event.
//!
//! Event names and payloads are Svix's (`x-webhooks` in its OpenAPI document); `endpoint.disabled`
//! also says whether it was automatic or a call (`trigger`, as newer Svix versions do).

use crate::db::message::MessageRow;
use crate::model::ids::{AppId, AttemptId, EndpointId, MessageId};
use chrono::NaiveDateTime;
use serde::Serialize;

/// The uid of each organisation's application for operational events.
pub const APP_UID: &str = "herald-operational";

/// `message.attempt.failing` is sent on this failed attempt of a delivery (Svix: the fourth),
/// and `message.attempt.recovered` for a success after it.
pub const FAILING_AFTER: i32 = 4;

/// How long an event's payload is kept: the API's default retention.
const RETENTION: chrono::Duration = chrono::Duration::days(90);

/// The application and endpoint an event is about.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointRef {
    /// The application.
    pub app_id: AppId,
    /// Its uid.
    pub app_uid: Option<String>,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// Its uid.
    pub endpoint_uid: Option<String>,
}

pub use crate::model::status::Trigger;

/// `EndpointDisabledEventData`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disabled {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: EndpointRef,
    /// Start of its unbroken run of failures (`null` for a call disabling an endpoint that was
    /// not failing).
    pub fail_since: Option<String>,
    /// Automatic or manual.
    pub trigger: Trigger,
}

/// `MessageAttempetLast` (sic, Svix's name): the attempt that caused the event.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastAttempt {
    /// The attempt.
    pub id: AttemptId,
    /// The receiver's status code, 0 when there was no response.
    pub response_status_code: i32,
    /// When it was made.
    pub timestamp: String,
}

/// `MessageAttempt{Exhausted,Failing,Recovered}EventData`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRef {
    /// The application.
    pub app_id: AppId,
    /// Its uid.
    pub app_uid: Option<String>,
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// The message.
    pub msg_id: MessageId,
    /// The message's event id.
    pub msg_event_id: Option<String>,
    /// The attempt.
    pub last_attempt: LastAttempt,
}

/// An operational event: the body its receivers get is `{"type": …, "data": …}`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    /// An endpoint was created.
    #[serde(rename = "endpoint.created")]
    EndpointCreated(EndpointRef),
    /// An endpoint was changed by a call.
    #[serde(rename = "endpoint.updated")]
    EndpointUpdated(EndpointRef),
    /// An endpoint was deleted.
    #[serde(rename = "endpoint.deleted")]
    EndpointDeleted(EndpointRef),
    /// An endpoint was disabled.
    #[serde(rename = "endpoint.disabled")]
    EndpointDisabled(Disabled),
    /// A delivery failed its last attempt.
    #[serde(rename = "message.attempt.exhausted")]
    AttemptExhausted(AttemptRef),
    /// A delivery failed its [`FAILING_AFTER`]th attempt and will be retried.
    #[serde(rename = "message.attempt.failing")]
    AttemptFailing(AttemptRef),
    /// A delivery succeeded after `message.attempt.failing` was sent for it.
    #[serde(rename = "message.attempt.recovered")]
    AttemptRecovered(AttemptRef),
}

impl Event {
    /// The event type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::EndpointCreated(_) => "endpoint.created",
            Event::EndpointUpdated(_) => "endpoint.updated",
            Event::EndpointDeleted(_) => "endpoint.deleted",
            Event::EndpointDisabled(_) => "endpoint.disabled",
            Event::AttemptExhausted(_) => "message.attempt.exhausted",
            Event::AttemptFailing(_) => "message.attempt.failing",
            Event::AttemptRecovered(_) => "message.attempt.recovered",
        }
    }

    /// The uid of the application the event is about.
    fn app_uid(&self) -> Option<&str> {
        match self {
            Event::EndpointCreated(e) | Event::EndpointUpdated(e) | Event::EndpointDeleted(e) => e.app_uid.as_deref(),
            Event::EndpointDisabled(d) => d.endpoint.app_uid.as_deref(),
            Event::AttemptExhausted(a) | Event::AttemptFailing(a) | Event::AttemptRecovered(a) => a.app_uid.as_deref(),
        }
    }
}

/// The outcomes of an attempt that operators hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The delivery failed its last attempt.
    Exhausted,
    /// The delivery failed its [`FAILING_AFTER`]th attempt and will be retried.
    Failing,
    /// The delivery succeeded after that.
    Recovered,
}

impl Outcome {
    /// What an attempt leaving its delivery in `status` after `attempts` attempts (this one
    /// included) reports, if anything.
    pub fn of(status: crate::model::status::DeliveryStatus, attempts: i32) -> Option<Outcome> {
        use crate::model::status::DeliveryStatus::{Exhausted, Failed, Succeeded};
        match status {
            Exhausted => Some(Outcome::Exhausted),
            Failed if attempts == FAILING_AFTER => Some(Outcome::Failing),
            Succeeded if attempts > FAILING_AFTER => Some(Outcome::Recovered),
            _ => None,
        }
    }

    /// The event reporting it.
    pub fn event(self, about: AttemptRef) -> Event {
        match self {
            Outcome::Exhausted => Event::AttemptExhausted(about),
            Outcome::Failing => Event::AttemptFailing(about),
            Outcome::Recovered => Event::AttemptRecovered(about),
        }
    }
}

/// An event on its way into the database as a message of its organisation's operational
/// application (`row.app_id` is found by the insert).
#[derive(Debug, Clone)]
pub struct Notice {
    row: MessageRow,
}

impl Notice {
    /// The notice of `event` for organisation `org` at `at`; `None` for events about the
    /// operational application itself (its own failures would feed themselves).
    pub fn new(org: &str, event: &Event, at: NaiveDateTime) -> Option<Notice> {
        if event.app_uid() == Some(APP_UID) {
            return None;
        }
        // Plain structs of strings and numbers: serialising cannot fail.
        let payload = serde_json::to_string(event).ok()?;
        Some(Notice {
            row: MessageRow {
                id: MessageId::generate(),
                app_id: AppId::from_unchecked(""),
                org_id: org.to_owned(),
                event_type: event.type_name().to_owned(),
                event_id: None,
                channels: None,
                tags: None,
                payload: Some(payload),
                created_at: at,
                expires_at: Some(at + RETENTION),
                dispatched_at: None,
                trace_context: None,
            },
        })
    }

    /// The message to store.
    pub fn row(&self) -> &MessageRow {
        &self.row
    }

    /// The message's id.
    pub fn id(&self) -> &MessageId {
        &self.row.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::status::DeliveryStatus;

    fn endpoint(app_uid: Option<&str>) -> EndpointRef {
        EndpointRef {
            app_id: AppId::from_unchecked("app_1"),
            app_uid: app_uid.map(str::to_owned),
            endpoint_id: EndpointId::from_unchecked("ep_1"),
            endpoint_uid: None,
        }
    }

    fn attempt() -> AttemptRef {
        AttemptRef {
            app_id: AppId::from_unchecked("app_1"),
            app_uid: None,
            endpoint_id: EndpointId::from_unchecked("ep_1"),
            msg_id: MessageId::from_unchecked("msg_1"),
            msg_event_id: Some("order-7".into()),
            last_attempt: LastAttempt {
                id: AttemptId::from_unchecked("atmpt_1"),
                response_status_code: 500,
                timestamp: "2026-11-30T00:00:00.000000Z".into(),
            },
        }
    }

    #[test]
    fn bodies_have_svixs_shape() {
        let disabled = Event::EndpointDisabled(Disabled {
            endpoint: endpoint(Some("shop")),
            fail_since: Some("2026-11-30T00:00:00.000000Z".into()),
            trigger: Trigger::Automatic,
        });
        let body = serde_json::to_value(&disabled).expect("serialises");
        assert_eq!(
            body,
            serde_json::json!({"type": "endpoint.disabled", "data": {"appId": "app_1", "appUid": "shop",
                "endpointId": "ep_1", "endpointUid": null, "failSince": "2026-11-30T00:00:00.000000Z",
                "trigger": "automatic"}})
        );
        let exhausted = serde_json::to_value(Event::AttemptExhausted(attempt())).expect("serialises");
        assert_eq!(exhausted["type"], "message.attempt.exhausted");
        assert_eq!(exhausted["data"]["lastAttempt"]["responseStatusCode"], 500);
        assert_eq!(exhausted["data"]["msgEventId"], "order-7");
    }

    #[test]
    fn the_type_name_is_the_serialised_tag() {
        let events = [
            Event::EndpointCreated(endpoint(None)),
            Event::EndpointUpdated(endpoint(None)),
            Event::EndpointDeleted(endpoint(None)),
            Event::AttemptFailing(attempt()),
            Event::AttemptRecovered(attempt()),
        ];
        for event in events {
            assert_eq!(serde_json::to_value(&event).expect("serialises")["type"], event.type_name());
        }
    }

    #[test]
    fn failing_is_the_fourth_failure_and_recovered_a_success_after_it() {
        let event = |status, n| Outcome::of(status, n).map(|o| o.event(attempt()).type_name());
        assert_eq!(event(DeliveryStatus::Failed, 3), None);
        assert_eq!(event(DeliveryStatus::Failed, 4), Some("message.attempt.failing"));
        assert_eq!(event(DeliveryStatus::Failed, 5), None);
        assert_eq!(event(DeliveryStatus::Exhausted, 4), Some("message.attempt.exhausted"));
        assert_eq!(event(DeliveryStatus::Succeeded, 4), None, "no failing event was sent before it");
        assert_eq!(event(DeliveryStatus::Succeeded, 5), Some("message.attempt.recovered"));
    }

    #[test]
    fn nothing_is_said_about_the_operational_application_itself() {
        let at = chrono::DateTime::UNIX_EPOCH.naive_utc();
        assert!(Notice::new("org", &Event::EndpointCreated(endpoint(Some(APP_UID))), at).is_none());
        let notice = Notice::new("org", &Event::EndpointCreated(endpoint(Some("shop"))), at).expect("a notice");
        assert_eq!(notice.row().event_type, "endpoint.created");
        assert_eq!(notice.row().org_id, "org");
    }
}
