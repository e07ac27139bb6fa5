//! Endpoint signing secrets as Standard Webhooks defines them: `whsec_` + base64 of random bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};

/// Prefix of every signing secret.
pub const PREFIX: &str = "whsec_";
/// Random bytes in a generated secret (Svix uses 24).
const GENERATED_BYTES: usize = 24;

/// A new random signing secret.
pub fn generate() -> Option<String> {
    let mut bytes = [0u8; GENERATED_BYTES];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(format!("{PREFIX}{}", STANDARD.encode(bytes)))
}

/// Whether a supplied secret is acceptable, as Svix checks it: optional `whsec_`, then 32 to 100
/// base64 characters that decode to 24 to 64 bytes.
pub fn is_valid(secret: &str) -> bool {
    let body = secret.strip_prefix(PREFIX).unwrap_or(secret);
    let charset = body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    charset
        && (32..=100).contains(&body.len())
        && STANDARD.decode(body).is_ok_and(|bytes| (24..=64).contains(&bytes.len()))
}

/// The secret with its prefix, however it was supplied.
pub fn normalized(secret: &str) -> String {
    if secret.starts_with(PREFIX) { secret.to_owned() } else { format!("{PREFIX}{secret}") }
}

/// The HMAC key a secret stands for (the decoded base64 after the prefix).
pub fn key_bytes(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix(PREFIX).unwrap_or(secret)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_valid_and_distinct() {
        let a = generate().expect("random");
        assert!(a.starts_with(PREFIX) && is_valid(&a), "{a}");
        assert_ne!(a, generate().expect("random"));
        assert_eq!(key_bytes(&a).map(|k| k.len()), Some(24));
        assert!(!is_valid("whsec_short"));
        assert!(!is_valid("whsec_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"));
        assert!(is_valid("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert_eq!(normalized("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    }
}

/// A rotated-out secret that still signs until `expires_at` (an endpoint's `previous_secrets`
/// holds a JSON list of these).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PreviousSecret {
    /// The secret, sealed like the current one.
    pub secret: String,
    /// RFC 3339 end of the grace period.
    pub expires_at: String,
}

impl PreviousSecret {
    /// Whether it still signs at `at`.
    pub fn live_at(&self, at: chrono::NaiveDateTime) -> bool {
        chrono::DateTime::parse_from_rfc3339(&self.expires_at).is_ok_and(|t| t.naive_utc() > at)
    }
}
