//! Secrets at rest (endpoint signing secrets): AES-256-GCM under the keys in `secrets.keys`. The
//! first key encrypts; every key is tried to decrypt, so keys can be rotated by prepending a new
//! one and re-encrypting at leisure.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Errors sealing or opening a secret.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// No key is configured.
    #[error("no encryption key configured (secrets.keys)")]
    NoKey,
    /// A configured key is not 32 bytes of base64.
    #[error("secrets.keys entry {0} is not a base64-encoded 32-byte key")]
    BadKey(usize),
    /// No configured key opens the value (wrong keys, or corrupted data).
    #[error("no configured key decrypts this secret")]
    Undecryptable,
    /// The random source failed.
    #[error("the system random source failed")]
    Random,
}

/// The keys in force, first one encrypting.
pub struct SecretBox {
    keys: Vec<LessSafeKey>,
    random: SystemRandom,
}

/// Decodes one configured key.
pub fn decode_key(text: &str) -> Option<[u8; 32]> {
    STANDARD.decode(text.trim()).ok()?.try_into().ok()
}

impl SecretBox {
    /// Builds the box from the configured base64 keys.
    pub fn new(keys: &[String]) -> Result<Self, CryptoError> {
        if keys.is_empty() {
            return Err(CryptoError::NoKey);
        }
        let keys = keys
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let bytes = decode_key(text).ok_or(CryptoError::BadKey(i))?;
                let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| CryptoError::BadKey(i))?;
                Ok(LessSafeKey::new(key))
            })
            .collect::<Result<Vec<_>, CryptoError>>()?;
        Ok(SecretBox { keys, random: SystemRandom::new() })
    }

    /// Encrypts `plain` under the first key: base64 of nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plain: &str) -> Result<String, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut data = plain.as_bytes().to_vec();
        self.keys[0]
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .map_err(|_| CryptoError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(STANDARD.encode(out))
    }

    /// Decrypts a value made by [`SecretBox::seal`] with any configured key.
    pub fn open(&self, sealed: &str) -> Result<String, CryptoError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| CryptoError::Undecryptable)?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptoError::Undecryptable);
        }
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        for key in &self.keys {
            let mut buffer = data.to_vec();
            let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Undecryptable)?;
            if let Ok(plain) = key.open_in_place(nonce, Aad::empty(), &mut buffer) {
                return String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Undecryptable);
            }
        }
        Err(CryptoError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn sealed_secrets_open_with_any_configured_key() {
        let old = SecretBox::new(&[key(1)]).expect("key");
        let sealed = old.seal("whsec_abc").expect("seal");
        assert_ne!(sealed, "whsec_abc");
        assert_eq!(old.open(&sealed).expect("open"), "whsec_abc");
        let rotated = SecretBox::new(&[key(2), key(1)]).expect("keys");
        assert_eq!(rotated.open(&sealed).expect("old key still opens"), "whsec_abc");
        let other = SecretBox::new(&[key(3)]).expect("key");
        assert!(other.open(&sealed).is_err());
        assert!(SecretBox::new(&[]).is_err());
        assert!(SecretBox::new(&["short".into()]).is_err());
    }
}
