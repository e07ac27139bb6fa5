//! An endpoint's custom headers: read, replace, patch (a null removes one).

use super::{Reported, change, visible_endpoint};
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::extract::Checks;
use actix_web::{HttpResponse, web};
use herald::context::Context;
use herald::db::JsonText;
use herald::db::endpoint::{EndpointChanges, EndpointRow};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

/// Headers an endpoint may not set: those Herald sets itself, and hop-by-hop or encoding
/// headers that would change how the request travels rather than what it says.
const RESERVED_HEADERS: [&str; 19] = [
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
];

fn check_headers<'a>(names: impl Iterator<Item = (&'a String, Option<&'a String>)>) -> Result<(), ApiError> {
    let mut checks = Checks::default();
    for (name, value) in names {
        let lower = name.to_ascii_lowercase();
        let token =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let value_ok = value.is_none_or(|v| v.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)));
        let reserved =
            RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("svix-") || lower.starts_with("webhook-");
        checks.check(
            token && value_ok && !reserved,
            &["body", "headers", name],
            "not an allowed HTTP header name and value",
        );
    }
    checks.finish()
}

/// `EndpointHeadersIn`
#[derive(Debug, Deserialize)]
pub struct HeadersIn {
    headers: BTreeMap<String, String>,
}

/// `EndpointHeadersPatchIn` (a null value removes the header)
#[derive(Debug, Deserialize)]
pub struct HeadersPatchIn {
    headers: BTreeMap<String, Option<String>>,
}

fn headers_out(row: &EndpointRow) -> Result<serde_json::Value, ApiError> {
    let headers = row.headers.get().map_err(|e| e.in_row("endpoint", &row.id, "headers"))?;
    Ok(json!({ "headers": headers, "sensitive": [] }))
}

pub(super) async fn get_headers(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    Ok(HttpResponse::Ok().json(headers_out(&row)?))
}

pub(super) async fn put_headers(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<HeadersIn>,
) -> Result<HttpResponse, ApiError> {
    check_headers(body.headers.iter().map(|(k, v)| (k, Some(v))))?;
    let headers = JsonText::new(body.headers.clone());
    change(&context, &caller, (&path.0, &path.1), Reported::No, |_| {
        Ok((EndpointChanges { headers: Some(headers.clone()), ..EndpointChanges::default() }, ()))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(super) async fn patch_headers(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<HeadersPatchIn>,
) -> Result<HttpResponse, ApiError> {
    check_headers(body.headers.iter().map(|(k, v)| (k, v.as_ref())))?;
    change(&context, &caller, (&path.0, &path.1), Reported::No, |row| {
        // A stored list that does not read is an error, not an empty one to write back.
        let mut headers = row.headers.get().map_err(|e| e.in_row("endpoint", &row.id, "headers"))?.clone();
        for (name, value) in &body.headers {
            match value {
                Some(value) => headers.insert(name.clone(), value.clone()),
                None => headers.remove(name),
            };
        }
        Ok((EndpointChanges { headers: Some(JsonText::new(headers)), ..EndpointChanges::default() }, ()))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(name: &str, value: &str) -> bool {
        let (name, value) = (name.to_owned(), value.to_owned());
        check_headers([(&name, Some(&value))].into_iter()).is_err()
    }

    #[test]
    fn ordinary_custom_headers_pass() {
        assert!(!refused("X-Tenant", "acme 42"));
    }

    #[test]
    fn what_herald_or_http_owns_is_refused() {
        for name in ["Host", "content-length", "Transfer-Encoding", "webhook-signature", "svix-id"] {
            assert!(refused(name, "x"), "{name}");
        }
    }

    #[test]
    fn malformed_names_and_values_are_refused() {
        assert!(refused("bad name", "x"));
        assert!(refused("", "x"));
        assert!(refused("X-Split", "a\r\nInjected: yes"));
    }

    #[test]
    fn a_removal_needs_only_a_valid_name() {
        let name = "X-Old".to_owned();
        assert!(check_headers([(&name, None)].into_iter()).is_ok());
    }
}
