//! PKCE (RFC 7636) verifier and S256 challenge.
//!
//! Hand-written rather than taken from the `oauth2` crate: it is a dozen lines over `sha2`
//! and `base64`, which the workspace already has, and the verifier must be stored (sealed)
//! between the redirect and the callback, so it needs a parse-back constructor anyway.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use plugboard_core::Secret;
use rand::RngCore;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::spec::Pkce;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("a PKCE verifier is 43 to 128 characters from A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)")]
pub struct InvalidVerifier;

/// The `code_verifier`: kept secret until the code exchange, so it never prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkceVerifier(Secret<String>);

/// The `code_challenge` sent in the authorization URL, with method `S256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkceChallenge(String);

impl PkceVerifier {
    /// 32 random bytes, base64url without padding: 43 characters, 256 bits of entropy
    /// (RFC 7636 §4.1 recommends exactly this).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(Secret::new(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// A verifier read back from storage; checked against RFC 7636 §4.1's grammar.
    pub fn parse(raw: String) -> Result<Self, InvalidVerifier> {
        let unreserved =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if (43..=128).contains(&raw.len()) && raw.bytes().all(unreserved) {
            Ok(Self(Secret::new(raw)))
        } else {
            Err(InvalidVerifier)
        }
    }

    /// The verifier itself, for the token request and for sealing.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`, RFC 7636 §4.2.
    pub fn challenge(&self) -> PkceChallenge {
        let digest = Sha256::digest(self.expose().as_bytes());
        PkceChallenge(URL_SAFE_NO_PAD.encode(digest))
    }
}

impl PkceChallenge {
    pub const METHOD: &'static str = "S256";

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Pkce {
    /// A fresh verifier when the platform takes PKCE, none when it must not be sent.
    pub fn new_verifier(self) -> Option<PkceVerifier> {
        match self {
            Pkce::S256 => Some(PkceVerifier::generate()),
            Pkce::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_matches_rfc_7636_appendix_b() {
        let verifier =
            PkceVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned()).unwrap();
        assert_eq!(
            verifier.challenge().as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn generated_verifiers_are_valid_and_distinct() {
        let a = PkceVerifier::generate();
        let b = PkceVerifier::generate();
        assert_eq!(a.expose().len(), 43);
        assert_eq!(PkceVerifier::parse(a.expose().to_owned()), Ok(a.clone()));
        assert_ne!(a, b);
        assert_eq!(a.challenge().as_str().len(), 43);
    }

    #[test]
    fn verifiers_outside_the_rfc_grammar_are_rejected() {
        let cases = [
            ("a".repeat(42), "too short"),
            ("a".repeat(129), "too long"),
            (format!("{}+", "a".repeat(42)), "reserved character"),
            (format!("{} ", "a".repeat(42)), "space"),
            (format!("{}é", "a".repeat(42)), "non-ASCII"),
        ];
        for (raw, why) in cases {
            assert_eq!(PkceVerifier::parse(raw), Err(InvalidVerifier), "{why}");
        }
        for ok in ["a".repeat(43), "~._-".repeat(32)] {
            assert!(PkceVerifier::parse(ok.clone()).is_ok(), "{ok} rejected");
        }
    }

    #[test]
    fn the_verifier_never_prints() {
        let v = PkceVerifier::generate();
        assert!(!format!("{v:?}").contains(v.expose()));
    }

    #[test]
    fn a_verifier_is_made_only_for_platforms_that_take_pkce() {
        assert!(Pkce::S256.new_verifier().is_some());
        assert!(Pkce::None.new_verifier().is_none());
    }
}
