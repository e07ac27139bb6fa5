//! An endpoint's signing secret: read it, rotate it with a grace period for the old one.

use super::{Reported, change, visible_endpoint};
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::extract::{Checks, OptionalJson};
use crate::api::page::timestamp;
use actix_web::{HttpResponse, web};
use herald::clock::now;
use herald::context::Context;
use herald::db::JsonText;
use herald::db::endpoint::EndpointChanges;
use herald::model::secret;
use serde::Deserialize;
use serde_json::json;

pub(super) async fn get_secret(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let row = visible_endpoint(&context, &caller, &path.0, &path.1).await?;
    let key = context.secrets.open(&row.secret).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok().json(json!({ "key": key })))
}

/// `EndpointSecretRotateIn`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotateIn {
    key: Option<String>,
    grace_period_seconds: Option<u64>,
}

/// Longest grace period Svix allows: a week.
const MAX_GRACE_SECONDS: u64 = 604_800;
/// Default grace period: a day.
const DEFAULT_GRACE_SECONDS: u64 = 86_400;
/// Rotated-out secrets that still sign during their grace period, at most (the newest are kept).
const MAX_PREVIOUS_SECRETS: usize = 4;

pub(super) async fn rotate_secret(
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: OptionalJson<RotateIn>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0.unwrap_or(RotateIn { key: None, grace_period_seconds: None });
    let grace = body.grace_period_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    Checks::default()
        .check(
            body.key.as_deref().is_none_or(secret::is_valid),
            &["body", "key"],
            "must be whsec_ and 32 to 100 base64 characters",
        )
        .check(grace <= MAX_GRACE_SECONDS, &["body", "gracePeriodSeconds"], "must be at most 604800")
        .finish()?;
    let (_, plain) = change(&context, &caller, (&path.0, &path.1), Reported::No, |row| {
        let at = now();
        let stored = row.previous_secrets.get().map_err(|e| e.in_row("endpoint", &row.id, "previous_secrets"));
        let mut previous = stored?.clone();
        // Expired secrets are dropped; the outgoing one signs alongside the new one until its
        // expiry. Only the newest few are kept, so rotating in a loop cannot grow the signature
        // header without bound.
        previous.retain(|p| p.live_at(at));
        if grace > 0 {
            let expires = at + chrono::Duration::seconds(grace as i64);
            previous.push(secret::PreviousSecret { secret: row.secret.clone(), expires_at: timestamp(expires) });
        }
        let surplus = previous.len().saturating_sub(MAX_PREVIOUS_SECRETS);
        previous.drain(..surplus);
        let plain = match &body.key {
            Some(given) => secret::normalized(given),
            None => secret::generate().ok_or_else(|| ApiError::Internal("random source failed".into()))?,
        };
        let changes = EndpointChanges {
            secret: Some(context.secrets.seal(&plain).map_err(|e| ApiError::Internal(e.to_string()))?),
            previous_secrets: Some(JsonText::new(previous)),
            ..EndpointChanges::default()
        };
        Ok((changes, plain))
    })
    .await?;
    // The document says 204; the official SDKs parse the new secret from the body, so send it.
    Ok(HttpResponse::Ok().json(json!({ "key": plain })))
}
