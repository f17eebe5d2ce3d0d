//! Delivery signatures. `X-Zernio-Signature` is what Zernio sends: lowercase hex
//! HMAC-SHA256 of the raw body keyed with the subscription's secret, so existing receivers
//! verify unchanged. It carries no time, so a captured delivery can be replayed; our own
//! `X-Plugboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` binds the
//! time in, and receivers that check it can refuse stale deliveries (docs/webhooks.md).

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const ZERNIO_SIGNATURE: &str = "X-Zernio-Signature";
pub const TIMESTAMPED_SIGNATURE: &str = "X-Plugboard-Signature";

fn mac(secret: &[u8], parts: &[&[u8]]) -> String {
    // HMAC takes keys of any length.
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    for p in parts {
        m.update(p);
    }
    hex::encode(m.finalize().into_bytes())
}

/// The `X-Zernio-Signature` value.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    mac(secret, &[body])
}

/// The `X-Plugboard-Signature` value for a delivery sent at `unix_seconds`.
pub fn timestamped_signature(secret: &[u8], unix_seconds: i64, body: &[u8]) -> String {
    let t = unix_seconds.to_string();
    format!("t={t},v1={}", mac(secret, &[t.as_bytes(), b".", body]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_the_rfc_4231_hmac_sha256_in_lowercase_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn timestamped_signature_covers_the_time_and_the_body() {
        let s = timestamped_signature(b"k", 1_700_000_000, b"{}");
        assert_eq!(
            s,
            format!("t=1700000000,v1={}", signature(b"k", b"1700000000.{}"))
        );
        assert_ne!(s, timestamped_signature(b"k", 1_700_000_001, b"{}"));
    }
}
