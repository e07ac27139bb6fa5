//! Who is calling: `Authorization: Bearer <token>`, checked against the stored hash in constant
//! time. Org tokens see their organisation; app-portal tokens see only their application.

use super::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use herald::context::Context;
use herald::db::token::find_token;
use herald::token::{self, CachedToken};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The organisation the token acts for.
    pub org_id: String,
    /// Set for app-portal tokens: the one application they may see.
    pub app_id: Option<herald::model::ids::AppId>,
    /// The token's id.
    pub token_id: String,
}

impl Caller {
    /// Refuses app-portal tokens on org-wide operations.
    pub fn require_org(&self) -> Result<(), ApiError> {
        match self.app_id {
            None => Ok(()),
            Some(_) => Err(ApiError::Forbidden("This operation needs an organisation token")),
        }
    }

    /// Whether the caller may see application `app_id` (an id, not a uid).
    pub fn can_see_app(&self, app_id: &str) -> bool {
        self.app_id.as_deref().is_none_or(|own| own == app_id)
    }
}

const MISSING: &str = "Missing or malformed Authorization header: use 'Bearer <token>'";
const INVALID: &str = "Invalid, expired or revoked token";

async fn authenticate(context: Option<web::Data<Context>>, header: Option<String>) -> Result<Caller, ApiError> {
    let context = context.ok_or_else(|| ApiError::Internal("no context".into()))?;
    let header = header.ok_or(ApiError::Unauthorized(MISSING))?;
    let presented = header.strip_prefix("Bearer ").map(str::trim).ok_or(ApiError::Unauthorized(MISSING))?;
    let (id, secret) = token::parse(presented).ok_or(ApiError::Unauthorized(INVALID))?;
    let row = match context.tokens.get(&id) {
        Some(cached) => cached,
        None => {
            let row = find_token(&context.db, &id).await?.ok_or(ApiError::Unauthorized(INVALID))?;
            let cached = CachedToken {
                org_id: row.org_id,
                app_id: row.app_id,
                token_hash: row.token_hash,
                expires_at: row.expires_at,
                revoked: row.revoked_at.is_some(),
            };
            context.tokens.put(&id, cached.clone());
            cached
        }
    };
    let now = herald::clock::now();
    let live = !row.revoked && row.expires_at.is_none_or(|at| at > now);
    if !token::verify(secret, &row.token_hash) || !live {
        return Err(ApiError::Unauthorized(INVALID));
    }
    Ok(Caller { org_id: row.org_id, app_id: row.app_id, token_id: id })
}

/// Authenticates the request's bearer token (for middleware that must know the caller before the
/// handler runs; it leaves the [`Caller`] in the request's extensions for the handler).
pub fn authenticate_request(req: &HttpRequest) -> impl Future<Output = Result<Caller, ApiError>> + 'static {
    let context = req.app_data::<web::Data<Context>>().cloned();
    let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    // Run on its own task: when another extractor fails first, this future is dropped, and a
    // database call abandoned halfway would leave its pooled connection unusable.
    let task = actix_web::rt::spawn(authenticate(context, header));
    async move { task.await.map_err(|e| ApiError::Internal(format!("authentication task: {e}")))? }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Authenticated already by a middleware (idempotency).
        if let Some(caller) = req.extensions().get::<Caller>().cloned() {
            return Box::pin(async move { Ok(caller) });
        }
        Box::pin(authenticate_request(req))
    }
}
