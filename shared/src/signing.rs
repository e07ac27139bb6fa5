//! Standard Webhooks signatures: `webhook-id`, `webhook-timestamp` and `webhook-signature`, where
//! each signature is `v1,` + base64 of HMAC-SHA256(secret key, "{id}.{timestamp}.{body}"). While a
//! rotated secret is in its grace period, one signature per secret is sent, space-separated.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// Which header names to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderStyle {
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    StandardWebhooks,
    /// `svix-id`, `svix-timestamp`, `svix-signature`, for receivers using Svix's libraries.
    Svix,
}

impl HeaderStyle {
    /// The id, timestamp and signature header names.
    pub fn names(self) -> [&'static str; 3] {
        match self {
            HeaderStyle::StandardWebhooks => ["webhook-id", "webhook-timestamp", "webhook-signature"],
            HeaderStyle::Svix => ["svix-id", "svix-timestamp", "svix-signature"],
        }
    }
}

/// One `v1,<base64>` signature of `body` for message `id` at unix time `timestamp`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut context = hmac::Context::with_key(&key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
}

/// The `webhook-signature` value: one signature per key, space-separated.
pub fn signature_header(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter().map(|key| sign(key, id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks specification's reference implementations.
    #[test]
    fn matches_the_specification_example() {
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("base64");
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn one_signature_per_key() {
        let header = signature_header(&[vec![1; 24], vec![2; 24]], "msg_1", 1, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
    }
}
