//! API tokens: `sk_` + the token's id + 32 random bytes. Only a SHA-256 hash of the secret part is
//! stored; a presented token is looked up by its id and its hash compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

const PREFIX: &str = "sk_";
const ID_LEN: usize = 26;
const SECRET_BYTES: usize = 32;
/// base64url length of [`SECRET_BYTES`] without padding.
const SECRET_LEN: usize = 43;

/// A freshly made token: the text to hand out once, and what is stored.
pub struct NewToken {
    /// The token id (`tok_…`), stored and shown in listings.
    pub id: String,
    /// The whole token; shown once, never stored.
    pub token: String,
    /// SHA-256 of the secret part, hex.
    pub hash: String,
}

/// Errors making a token.
#[derive(Debug, thiserror::Error)]
#[error("the system random source failed")]
pub struct RandomError;

/// Makes a new random token.
pub fn generate() -> Result<NewToken, RandomError> {
    let ulid = ulid::Ulid::new().to_string();
    let mut secret = [0u8; SECRET_BYTES];
    SystemRandom::new().fill(&mut secret).map_err(|_| RandomError)?;
    let secret_text = URL_SAFE_NO_PAD.encode(secret);
    Ok(NewToken {
        id: format!("{}_{ulid}", crate::model::ids::prefix::TOKEN),
        token: format!("{PREFIX}{ulid}{secret_text}"),
        hash: hash_secret(&secret_text),
    })
}

/// SHA-256 of a token's secret part, as lowercase hex.
pub fn hash_secret(secret: &str) -> String {
    digest::digest(&digest::SHA256, secret.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits a presented token into its id (`tok_…`) and secret part; `None` if malformed.
pub fn parse(token: &str) -> Option<(String, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    if rest.len() != ID_LEN + SECRET_LEN || !rest.is_ascii() {
        return None;
    }
    let (id, secret) = rest.split_at(ID_LEN);
    id.parse::<ulid::Ulid>().ok()?;
    Some((format!("{}_{id}", crate::model::ids::prefix::TOKEN), secret))
}

/// Whether `secret` hashes to `stored_hash`, compared in constant time.
pub fn verify(secret: &str, stored_hash: &str) -> bool {
    hash_secret(secret).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_verify() {
        let new = generate().expect("random");
        assert!(new.token.starts_with("sk_"));
        let (id, secret) = parse(&new.token).expect("parses");
        assert_eq!(id, new.id);
        assert!(verify(secret, &new.hash));
        assert!(!verify("x", &new.hash));
        assert!(parse("sk_short").is_none());
        assert!(parse(&new.token.replace("sk_", "pk_")).is_none());
    }
}

/// A token row as kept in [`TokenCache`].
#[derive(Debug, Clone)]
pub struct CachedToken {
    /// The organisation it acts for.
    pub org_id: String,
    /// Set for app-portal tokens.
    pub app_id: Option<crate::model::ids::AppId>,
    /// SHA-256 of the secret part.
    pub token_hash: String,
    /// Stops working at.
    pub expires_at: Option<chrono::NaiveDateTime>,
    /// Revoked already.
    pub revoked: bool,
}

/// Tokens looked up in the last second, so a burst of requests costs one database lookup per
/// token per second. A revocation made elsewhere takes effect within [`TOKEN_TTL`].
pub type TokenCache = crate::ttl_cache::TtlCache<CachedToken>;

/// How long a looked-up token is trusted without asking the database again.
pub const TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// A token cache for one process.
pub fn token_cache() -> TokenCache {
    // Past this many distinct tokens (a flood), the cache starts over.
    TokenCache::new(TOKEN_TTL, 10_000)
}
