//! API errors and their HTTP form, as Svix shapes them: `{"code", "detail"}`, and for 422 a list of
//! `{"loc", "msg", "type"}` items. Bad input always gets a 4xx; only a failing database gives 5xx.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use herald::db::DbError;
use herald::http::ServerFault;
use serde::Serialize;
use serde_json::json;
use std::fmt;

/// One invalid field.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    /// Where: `["body", "uid"]`, `["query", "limit"]`.
    pub loc: Vec<String>,
    /// What is wrong.
    pub msg: String,
    /// The kind, e.g. `value_error`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    /// An invalid value at `loc`.
    pub fn new(loc: &[&str], msg: impl Into<String>) -> Self {
        FieldError { loc: loc.iter().map(|s| s.to_string()).collect(), msg: msg.into(), kind: "value_error".into() }
    }
}

/// Everything a request can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// No valid token.
    Unauthorized(&'static str),
    /// The token may not do this.
    Forbidden(&'static str),
    /// Not there, or not the caller's.
    NotFound,
    /// A uid, name or event id is taken.
    Conflict(String),
    /// Invalid fields.
    Validation(Vec<FieldError>),
    /// A request that cannot be understood.
    BadRequest(&'static str, String),
    /// A body over the configured limit.
    PayloadTooLarge(String),
    /// A body that is not JSON.
    UnsupportedMediaType,
    /// The database cannot be reached right now.
    Unavailable(String),
    /// A fault on Herald's side (logged).
    Internal(String),
}

impl ApiError {
    /// A 422 for a single field.
    pub fn field(loc: &[&str], msg: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(loc, msg)])
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unauthorized(detail) => write!(f, "authentication failed: {detail}"),
            ApiError::Forbidden(detail) => write!(f, "insufficient access: {detail}"),
            ApiError::NotFound => f.write_str("entity not found"),
            ApiError::Conflict(detail) => write!(f, "conflict: {detail}"),
            ApiError::Validation(items) => {
                f.write_str("invalid request:")?;
                for item in items {
                    write!(f, " {} {};", item.loc.join("."), item.msg)?;
                }
                Ok(())
            }
            ApiError::BadRequest(code, detail) => write!(f, "bad request ({code}): {detail}"),
            ApiError::PayloadTooLarge(detail) => write!(f, "payload too large: {detail}"),
            ApiError::UnsupportedMediaType => f.write_str("unsupported media type: not JSON"),
            ApiError::Unavailable(detail) => write!(f, "database unavailable: {detail}"),
            ApiError::Internal(detail) => write!(f, "internal error: {detail}"),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<herald::db::json_text::CorruptJson> for ApiError {
    fn from(error: herald::db::json_text::CorruptJson) -> Self {
        ApiError::Internal(error.to_string())
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Conflict(_) => ApiError::Conflict("An entity with this uid, name or id already exists".into()),
            DbError::UnstorableValue(_) => {
                ApiError::field(&["body"], "text values may not contain NUL (\\u0000) characters")
            }
            DbError::KeyTakenOver => ApiError::Conflict(
                "This request's Idempotency-Key was taken over by a retry of it; retry to get its answer".into(),
            ),
            DbError::Pool(e) | DbError::Unavailable(e) => ApiError::Unavailable(e),
            DbError::Timeout(d) => ApiError::Unavailable(format!("no answer within {d:?}")),
            other => ApiError::Internal(herald::error::chain(&other)),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(..) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, detail) = match self {
            ApiError::Validation(items) => {
                return HttpResponse::UnprocessableEntity().json(json!({ "detail": items }));
            }
            ApiError::Unauthorized(detail) => ("authentication_failed", detail.to_string()),
            ApiError::Forbidden(detail) => ("insufficient_access", detail.to_string()),
            ApiError::NotFound => ("not_found", "Entity not found".to_owned()),
            ApiError::Conflict(detail) => ("conflict", detail.clone()),
            ApiError::BadRequest(code, detail) => (*code, detail.clone()),
            ApiError::PayloadTooLarge(detail) => ("payload_too_large", detail.clone()),
            ApiError::UnsupportedMediaType => {
                ("unsupported_media_type", "Send JSON with Content-Type: application/json".into())
            }
            ApiError::Unavailable(_) => ("service_unavailable", "The database is unavailable; retry later".to_owned()),
            ApiError::Internal(_) => ("internal_error", "Internal error".to_owned()),
        };
        let mut response = HttpResponse::build(self.status_code()).json(json!({ "code": code, "detail": detail }));
        // Said in the request's log line (with its request id), never to the client.
        if let ApiError::Unavailable(error) | ApiError::Internal(error) = self {
            let unavailable = matches!(self, ApiError::Unavailable(_));
            response.extensions_mut().insert(ServerFault { error: error.clone(), unavailable });
        }
        response
    }
}
