//! Encryption of secret fields at rest: AES-256-GCM with a random 96-bit nonce, the key id
//! stored beside each ciphertext so keys can rotate (old keys stay in the keyring for
//! reading until everything is re-sealed with the current one).
//!
//! Every ciphertext is bound to a context string (for example `account:<id>:tokens`) as
//! associated data, so a sealed value copied onto another record does not open.

use crate::secret::Secret;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

const FORMAT: &str = "v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("encryption key must be 32 bytes given as 64 hex characters or base64")]
    BadKey,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("no key with id {0} in the keyring")]
    UnknownKey(String),
    #[error("sealed value failed authentication (wrong key or tampered)")]
    Tampered,
}

/// A sealed (encrypted) value as stored: `v1.<key id>.<base64url(nonce ‖ ciphertext)>`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sealed(String);

impl Sealed {
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_stored(&self) -> &str {
        &self.0
    }

    pub fn key_id(&self) -> Option<&str> {
        let mut parts = self.0.splitn(3, '.');
        match (parts.next(), parts.next()) {
            (Some(FORMAT), Some(kid)) => Some(kid),
            _ => None,
        }
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed(key {})", self.key_id().unwrap_or("?"))
    }
}

struct DataKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The current key (used to seal) and any previous keys (used only to open).
pub struct Keyring {
    current: DataKey,
    previous: Vec<DataKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Parses a 32-byte key written as 64 hex characters or as base64 (standard or URL-safe).
pub fn parse_key(text: &str) -> Result<[u8; 32], SealError> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|_| SealError::BadKey)?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| SealError::BadKey)?
    };
    bytes.try_into().map_err(|_| SealError::BadKey)
}

/// A fresh random key, as 64 hex characters.
pub fn generate_key() -> Secret<String> {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    Secret::new(hex::encode(key))
}

fn data_key(bytes: &[u8; 32]) -> DataKey {
    let digest = Sha256::digest(bytes);
    DataKey {
        id: hex::encode(&digest[..4]),
        cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
    }
}

impl Keyring {
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        let current = data_key(current);
        let previous = previous
            .iter()
            .map(data_key)
            .filter(|k| k.id != current.id)
            .collect();
        Self { current, previous }
    }

    /// Builds a keyring from key texts (hex or base64), current first.
    pub fn from_texts(current: &str, previous: &[&str]) -> Result<Self, SealError> {
        let current = parse_key(current)?;
        let previous = previous
            .iter()
            .map(|t| parse_key(t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(&current, &previous))
    }

    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Sealed {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        // Encryption with a valid key and in-memory buffers cannot fail; fall back to an
        // unopenable value rather than panic if the crate ever says otherwise.
        let ciphertext = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        Sealed(format!(
            "{FORMAT}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(blob)
        ))
    }

    pub fn seal_json<T: Serialize>(&self, context: &str, value: &T) -> Sealed {
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        self.seal(context, &bytes)
    }

    pub fn open(&self, context: &str, sealed: &Sealed) -> Result<Secret<Vec<u8>>, SealError> {
        let mut parts = sealed.0.splitn(3, '.');
        let (Some(FORMAT), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == kid)
            .ok_or_else(|| SealError::UnknownKey(kid.to_owned()))?;
        let blob = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| SealError::Malformed)?;
        if blob.len() < 12 + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(12);
        key.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map(Secret::new)
            .map_err(|_| SealError::Tampered)
    }

    pub fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        context: &str,
        sealed: &Sealed,
    ) -> Result<T, SealError> {
        let bytes = self.open(context, sealed)?;
        serde_json::from_slice(bytes.expose()).map_err(|_| SealError::Malformed)
    }

    /// Re-seals a value under the current key; `None` when it already uses it.
    pub fn reseal(&self, context: &str, sealed: &Sealed) -> Result<Option<Sealed>, SealError> {
        if sealed.key_id() == Some(self.current.id.as_str()) {
            return Ok(None);
        }
        let plain = self.open(context, sealed)?;
        Ok(Some(self.seal(context, plain.expose())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> [u8; 32] {
        [b; 32]
    }

    #[test]
    fn sealed_value_opens_with_same_context_and_hides_plaintext() {
        let ring = Keyring::new(&key(1), &[]);
        let sealed = ring.seal("account:a:tokens", b"access-token-123");
        assert!(!sealed.as_stored().contains("access-token-123"));
        assert_eq!(sealed.key_id(), Some(ring.current_key_id()));
        let opened = ring.open("account:a:tokens", &sealed).unwrap();
        assert_eq!(opened.expose(), b"access-token-123");
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let ring = Keyring::new(&key(1), &[]);
        assert_ne!(ring.seal("c", b"x"), ring.seal("c", b"x"));
    }

    #[test]
    fn a_value_moved_to_another_record_does_not_open() {
        let ring = Keyring::new(&key(1), &[]);
        let sealed = ring.seal("account:a:tokens", b"t");
        assert_eq!(
            ring.open("account:b:tokens", &sealed),
            Err(SealError::Tampered)
        );
    }

    #[test]
    fn tampered_and_malformed_values_are_rejected() {
        let ring = Keyring::new(&key(1), &[]);
        let sealed = ring.seal("c", b"secret");
        let mut text = sealed.as_stored().to_owned();
        let last = text.pop().unwrap();
        text.push(if last == 'A' { 'B' } else { 'A' });
        assert!(ring.open("c", &Sealed::from_stored(text)).is_err());
        for bad in ["", "v1", "v2.abc.def", "v1.x", "v1.zz.!!!"] {
            assert!(
                ring.open("c", &Sealed::from_stored(bad.into())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_reseals_them_under_the_new_key() {
        let old = Keyring::new(&key(1), &[]);
        let sealed = old.seal("c", b"v");
        let new = Keyring::new(&key(2), &[key(1)]);
        assert_eq!(new.open("c", &sealed).unwrap().expose(), b"v");
        let resealed = new.reseal("c", &sealed).unwrap().unwrap();
        assert_eq!(resealed.key_id(), Some(new.current_key_id()));
        assert_eq!(new.reseal("c", &resealed).unwrap(), None);
        let only_new = Keyring::new(&key(2), &[]);
        assert!(matches!(
            only_new.open("c", &sealed),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn keys_parse_from_hex_and_base64_only_when_32_bytes() {
        let hex_key = "11".repeat(32);
        assert_eq!(parse_key(&hex_key).unwrap(), [0x11; 32]);
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(parse_key(&b64).unwrap(), [7; 32]);
        assert_eq!(parse_key("short"), Err(SealError::BadKey));
        assert_eq!(parse_key(&"11".repeat(31)), Err(SealError::BadKey));
    }

    #[test]
    fn debug_output_shows_key_ids_only() {
        let ring = Keyring::new(&key(3), &[]);
        let sealed = ring.seal("c", b"tok");
        assert!(!format!("{ring:?}").contains("03"));
        assert!(format!("{sealed:?}").starts_with("Sealed(key "));
    }
}
