//! How request bodies, queries and paths are read: JSON only, size-limited, and every failure a
//! clear 4xx in Svix's error shapes.

use super::error::{ApiError, FieldError};
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::web;
use serde::{Deserialize, Deserializer};

/// The JSON body reader: `limit` bytes at most; malformed or mistyped bodies get 400/422.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(|error, _req| {
        match error {
            JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
                ApiError::PayloadTooLarge(format!("The request body is larger than {limit} bytes"))
            }
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
            JsonPayloadError::Deserialize(e) => unreadable_body(&e),
            other => ApiError::BadRequest("bad_request", other.to_string()),
        }
        .into()
    })
}

/// A body that is JSON of the wrong shape (422, naming the problem) or not JSON at all (400).
fn unreadable_body(e: &serde_json::Error) -> ApiError {
    if e.is_data() {
        return ApiError::Validation(vec![FieldError {
            loc: vec!["body".into()],
            msg: e.to_string(),
            kind: "type_error".into(),
        }]);
    }
    ApiError::BadRequest("invalid_json", format!("The body is not valid JSON: {e}"))
}

/// A JSON body that may be left out altogether (no body, as Svix allows on some POSTs): a body
/// that is there is read like any other, so a malformed or mistyped one is a 400 or 422, never
/// silently taken for an absent one (which `Option<Json<T>>` does).
pub struct OptionalJson<T>(pub Option<T>);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::HttpMessage;
        // Read whole (within the default payload limit): whether a body came is known only then
        // (HTTP/2 need not say its length).
        let content_type = req.content_type().to_ascii_lowercase();
        let json = content_type == "application/json" || content_type.ends_with("+json");
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(None));
            }
            if !json {
                return Err(ApiError::UnsupportedMediaType.into());
            }
            serde_json::from_slice(&body).map(|value| OptionalJson(Some(value))).map_err(|e| unreadable_body(&e).into())
        })
    }
}

/// The query string reader: wrong types get 422.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req| {
        let msg = match error {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError::Validation(vec![FieldError { loc: vec!["query".into()], msg, kind: "type_error".into() }]).into()
    })
}

/// For PATCH bodies: tells "absent" (`None`) from "null" (`Some(None)`). Use with
/// `#[serde(default, deserialize_with = "present")]`.
pub fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Svix's identifier charset for uids, event type names, channels.
pub fn valid_name(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Collects field errors and turns them into one 422.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    /// Records a problem at `loc` when `ok` is false.
    pub fn check(&mut self, ok: bool, loc: &[&str], msg: &str) -> &mut Self {
        if !ok {
            self.0.push(FieldError::new(loc, msg));
        }
        self
    }

    /// A `uid`-style field: optional, `[a-zA-Z0-9-_.]`, 1 to 256 characters.
    pub fn name_field(&mut self, value: Option<&str>, loc: &[&str]) -> &mut Self {
        let ok = value.is_none_or(|v| valid_name(v, 256));
        self.check(ok, loc, "must be 1 to 256 characters of a-z, A-Z, 0-9, '-', '_' or '.'")
    }

    /// Free text stored as is: any characters but NUL (which Postgres cannot store), so every
    /// backend accepts and refuses the same input.
    pub fn text(&mut self, value: Option<&str>, loc: &[&str]) -> &mut Self {
        self.check(value.is_none_or(|v| !v.contains('\0')), loc, "must not contain NUL (\\u0000) characters")
    }

    /// Ok when nothing was recorded.
    pub fn finish(&mut self) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::Validation(std::mem::take(&mut self.0))) }
    }
}

/// How much of an oversized body is read (and dropped) so that the 413 reaches the client; past
/// this, the connection is simply closed after the answer.
const DRAIN_FACTOR: usize = 4;

/// Middleware body (with `actix_web::middleware::from_fn`): a body declared larger than the API
/// accepts gets 413 before any handler runs. Up to a bound it is read first, because answering
/// while a client is still sending makes it see a broken pipe instead of the 413.
pub async fn reject_oversized(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::ResponseError;
    use futures_util::StreamExt;
    let limit = req
        .app_data::<web::Data<herald::context::Context>>()
        .map(|c| c.config.with(|c| c.api.max_payload_bytes) + super::BODY_OVERHEAD)
        .unwrap_or(usize::MAX);
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    if declared <= limit {
        return next.call(req).await.map(actix_web::dev::ServiceResponse::map_into_boxed_body);
    }
    if declared <= limit.saturating_mul(DRAIN_FACTOR) {
        let mut payload = actix_web::HttpMessage::take_payload(&mut req);
        while let Some(Ok(_)) = payload.next().await {}
    }
    let error = ApiError::PayloadTooLarge(format!("The request body is larger than {limit} bytes"));
    Ok(req.into_response(error.error_response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_svix_identifiers_within_their_length() {
        assert!(valid_name("user.signup-v2_x", 256));
        assert!(!valid_name("", 256));
        assert!(!valid_name("has space", 256));
        assert!(!valid_name("ünïcode", 256));
        assert!(!valid_name(&"a".repeat(257), 256));
    }

    #[test]
    fn checks_collect_every_problem_into_one_answer() {
        let result = Checks::default()
            .name_field(Some("bad name"), &["body", "uid"])
            .text(Some("nul\0"), &["body", "description"])
            .check(true, &["body", "fine"], "never shown")
            .finish();
        let Err(ApiError::Validation(errors)) = result else { panic!("expected a 422") };
        let fields: Vec<Vec<String>> = errors.into_iter().map(|e| e.loc).collect();
        assert_eq!(fields, vec![vec!["body", "uid"], vec!["body", "description"]]);
    }

    #[test]
    fn no_problem_is_ok() {
        assert!(Checks::default().name_field(None, &["body", "uid"]).text(Some("fine"), &["x"]).finish().is_ok());
    }
}
