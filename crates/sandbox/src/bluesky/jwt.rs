//! The fake PDS's session tokens: compact JWTs signed HS256 with a per-process secret, in
//! the reference PDS's shape (`packages/pds/src/account-manager/helpers/auth.ts`): header
//! `typ` `at+jwt` or `refresh+jwt`; payload `scope`, `aud` (the service DID), `sub` (the
//! account DID), `iat`, `exp` and, on refresh tokens, `jti`. Plugboard only decodes the
//! payload; the fake verifies the signature so a forged or edited token is refused as the
//! real PDS refuses it.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub(crate) const TYP_ACCESS: &str = "at+jwt";
pub(crate) const TYP_REFRESH: &str = "refresh+jwt";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Claims {
    pub scope: String,
    pub aud: String,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    typ: String,
    alg: String,
}

/// Why a token was refused before its claims were looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not three base64url parts, bad JSON, or a signature this process did not make.
    Unverifiable,
}

fn secret() -> &'static [u8; 32] {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    SECRET.get_or_init(|| {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        key
    })
}

/// HMAC-SHA256 (RFC 2104) with a 32-byte key, which is shorter than the block size and so
/// is used as is, zero-padded.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

pub(crate) fn sign(typ: &str, claims: &Claims) -> String {
    let header = Header {
        typ: typ.to_owned(),
        alg: "HS256".to_owned(),
    };
    // Serializing these two plain structs cannot fail; an empty part would only make the
    // token unverifiable, never valid.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mac = hmac_sha256(secret(), signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// The token's `typ` and claims when this process signed it. Expiry is the caller's check.
pub(crate) fn verify(token: &str) -> Result<(String, Claims), Refused> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refused::Unverifiable);
    };
    let expected = hmac_sha256(secret(), format!("{header}.{payload}").as_bytes());
    let given = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Refused::Unverifiable)?;
    if !bool::from(given.as_slice().ct_eq(expected.as_slice())) {
        return Err(Refused::Unverifiable);
    }
    let header: Header = decode_part(header)?;
    if header.alg != "HS256" {
        return Err(Refused::Unverifiable);
    }
    Ok((header.typ, decode_part(payload)?))
}

fn decode_part<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, Refused> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Refused::Unverifiable)?;
    serde_json::from_slice(&bytes).map_err(|_| Refused::Unverifiable)
}

/// A refresh token id like the reference PDS's: 32 random bytes, base64.
pub(crate) fn token_id() -> String {
    let mut id = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut id);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            scope: "com.atproto.appPass".into(),
            aud: "did:web:example".into(),
            sub: "did:plc:abc".into(),
            jti: None,
            iat: 1,
            exp: 2,
        }
    }

    #[test]
    fn hmac_matches_pythons_hmac_sha256_for_a_32_byte_key() {
        // RFC 4231 case 1 uses a 20-byte key; this is the same message with 32 bytes of
        // 0x0b, checked against Python's `hmac.new(b'\x0b' * 32, b'Hi There', sha256)`.
        let key = [0x0bu8; 32];
        let mac = hmac_sha256(&key, b"Hi There");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
        );
    }

    #[test]
    fn a_signed_token_verifies_and_an_edited_one_does_not() {
        let token = sign(TYP_ACCESS, &claims());
        assert_eq!(verify(&token), Ok((TYP_ACCESS.to_owned(), claims())));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                scope: "com.atproto.access".into(),
                ..claims()
            })
            .unwrap(),
        );
        parts[1] = &forged;
        assert_eq!(verify(&parts.join(".")), Err(Refused::Unverifiable));
        for garbage in ["", "a.b", "a.b.c", "a.b.c.d", &format!("{token}x")] {
            assert_eq!(verify(garbage), Err(Refused::Unverifiable), "{garbage}");
        }
    }
}
