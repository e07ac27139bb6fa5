//! `/api/v1/auth`: app-portal access (a token scoped to one application, with an expiry) and
//! logout (revokes the calling token).

use super::application::{ApplicationIn, create_or_find_app, visible_app};
use super::auth::Caller;
use super::error::ApiError;
use super::extract::OptionalJson;
use actix_web::{HttpRequest, HttpResponse, web};
use herald::clock::now;
use herald::context::Context;
use herald::db::token::{TokenRow, insert_token, revoke_token};
use herald::token;
use serde::Deserialize;
use serde_json::json;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Registers the routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/app-portal-access/{app_id}", web::post().to(portal_access))
        .route("/auth/logout", web::post().to(logout));
}

/// How long a portal token lives by default, and at most: a week.
const DEFAULT_EXPIRY_SECONDS: u64 = 7 * 24 * 3600;

/// `AppPortalAccessIn`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortalAccessIn {
    application: Option<ApplicationIn>,
    expiry: Option<u64>,
}

async fn portal_access(
    req: HttpRequest,
    context: web::Data<Context>,
    caller: Caller,
    path: web::Path<String>,
    body: OptionalJson<PortalAccessIn>,
) -> Result<HttpResponse, ApiError> {
    caller.require_org()?;
    let body = body.0.unwrap_or(PortalAccessIn { application: None, expiry: None });
    let expiry = body.expiry.unwrap_or(DEFAULT_EXPIRY_SECONDS);
    if !(1..=DEFAULT_EXPIRY_SECONDS).contains(&expiry) {
        return Err(ApiError::field(&["body", "expiry"], "must be 1 to 604800 seconds"));
    }
    let app = match &body.application {
        Some(app_in) => create_or_find_app(&context, &caller, &path, app_in).await?,
        None => visible_app(&context, &caller, &path).await?,
    };
    let new = token::generate().map_err(|e| ApiError::Internal(e.to_string()))?;
    let at = now();
    let row = TokenRow {
        id: new.id,
        org_id: caller.org_id.clone(),
        name: format!("app portal for {}", app.id),
        token_hash: new.hash,
        app_id: Some(app.id.clone()),
        created_at: at,
        expires_at: Some(at + chrono::Duration::seconds(expiry as i64)),
        revoked_at: None,
    };
    insert_token(&context.db, &row).await?;
    // The consumer portal, with the application and token in the fragment (never sent to a
    // server). svix-react's AppPortal adds its theme parameters as a query before it.
    let base = context.config.with(|c| c.serve.public_url.clone());
    // The expiry (Unix seconds) lets the page end the session when the token ends.
    let expires = row.expires_at.map_or(0, |t| t.and_utc().timestamp());
    let url = format!("{}/portal/#app={}&token={}&expires={expires}", public_base(&req, &base), app.id, new.token);
    Ok(HttpResponse::Ok().json(json!({ "token": new.token, "url": url })))
}

/// The base of the links Herald hands out: `serve.public_url` when set, else the address this
/// server listens on. Never a request header (Host, X-Forwarded-*): a client could make Herald
/// hand out a link to anywhere.
fn public_base(req: &HttpRequest, configured: &str) -> String {
    if !configured.is_empty() {
        return configured.trim_end_matches('/').to_owned();
    }
    let config = req.app_config();
    let mut address = config.local_addr();
    if address.ip().is_unspecified() {
        // Listening on every interface: the one address sure to reach it is loopback.
        address.set_ip(if address.is_ipv4() { Ipv4Addr::LOCALHOST.into() } else { Ipv6Addr::LOCALHOST.into() });
    }
    format!("{}://{address}", if config.secure() { "https" } else { "http" })
}

async fn logout(context: web::Data<Context>, caller: Caller) -> Result<HttpResponse, ApiError> {
    revoke_token(&context.db, &caller.token_id, now()).await?;
    context.tokens.forget(&caller.token_id);
    Ok(HttpResponse::NoContent().finish())
}
