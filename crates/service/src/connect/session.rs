//! The bearer strings a connect flow hands out and what the store keeps for each. Every
//! string is 256 random bits; the store keeps only its SHA-256, so a leaked database does
//! not hand out live flows (the same reasoning as for API keys).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use plugboard_core::Platform;
use plugboard_platforms::instagram::LoginMethod;
use plugboard_platforms::{Destination, Identity, SelectionKind, TokenSet};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

macro_rules! bearer_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> Self {
                let mut bytes = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                Self(URL_SAFE_NO_PAD.encode(bytes))
            }

            /// `None` for anything that cannot be one of ours (checked before any lookup).
            pub fn parse(raw: &str) -> Option<Self> {
                let raw = raw.trim();
                let ok = raw.len() == 43
                    && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                ok.then(|| Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// What the store is keyed by.
            pub(crate) fn hash(&self) -> String {
                hex::encode(Sha256::digest(self.0.as_bytes()))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

bearer_string!(
    /// The OAuth `state` of one connect session (RFC 6749 §10.12): single use, ~15 minutes.
    StateToken
);
bearer_string!(
    /// A pending selection: Zernio's `tempToken` and `pendingDataToken` (one value under
    /// both names). Readable for an hour, taken once by the selection.
    PendingToken
);
bearer_string!(
    /// Zernio's `connect_token` (`X-Connect-Token`): lets the integrator's front end finish a
    /// selection without the API key, for 15 minutes.
    ConnectToken
);

pub(crate) const SESSION_KIND: &str = "connect_session";
pub(crate) const PENDING_KIND: &str = "pending_selection";
pub(crate) const CONNECT_TOKEN_KIND: &str = "connect_token";

/// Zernio's windows (shared/api-scope.md §11).
pub(crate) const SESSION_MINUTES: i64 = 15;
pub(crate) const PENDING_MINUTES: i64 = 60;
pub(crate) const CONNECT_TOKEN_MINUTES: i64 = 15;

pub(crate) fn login_method_name(m: LoginMethod) -> &'static str {
    match m {
        LoginMethod::InstagramLogin => "instagram_login",
        LoginMethod::FacebookLogin => "facebook_login",
    }
}

pub(crate) fn parse_login_method(s: &str) -> Option<LoginMethod> {
    match s {
        "instagram_login" => Some(LoginMethod::InstagramLogin),
        "facebook_login" => Some(LoginMethod::FacebookLogin),
        _ => None,
    }
}

/// What a connect session remembers between the start and the callback. Everything here
/// was validated when the flow started (RFC 6749 §4.1.2.1: only redirect to a URL validated
/// then).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FlowRecord {
    pub platform: Platform,
    pub login_method: String,
    pub profile_id: String,
    /// The API key that started the flow; a connect token acts as this key.
    pub key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    pub headless: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_platform_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_username: Option<String>,
    /// Set for the Meta ads-only flow (`GET /v1/connect/facebook/ads`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ads: Option<AdsFlow>,
    /// Set by a ticket: every Page / channel the user grants becomes its own account, with
    /// no picker.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_destinations: bool,
}

/// What the ads flow carries through the authorization round trip.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AdsFlow {
    /// The ad-account allowlist this call sets; `None` keeps the one persisted before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_account_ids: Option<Vec<String>>,
    /// The Page to connect beside the ads account; the first Page when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
}

/// The connect session: the flow plus the sealed PKCE verifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionRecord {
    #[serde(flatten)]
    pub flow: FlowRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
    /// The store key of the session (the state's hash), set once taken; seals are bound
    /// to it.
    #[serde(skip)]
    pub key: Option<String>,
}

/// A login that still needs its destination picked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PendingRecord {
    #[serde(flatten)]
    pub flow: FlowRecord,
    pub kind: SelectionKind,
    pub identity: Identity,
    /// The choices, without their tokens (those are in `sealed`).
    pub destinations: Vec<Destination>,
    /// [`PendingSecrets`], sealed.
    pub sealed: String,
    /// SHA-256 of the nonce in the hosted picker's cookie (standard mode), binding the
    /// picker to the browser that came back from the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct PendingSecrets {
    pub tokens: TokenSet,
    /// Destination id → its own token (Facebook Page tokens).
    #[serde(default)]
    pub destination_tokens: BTreeMap<String, String>,
}

/// What a connect token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConnectTokenRecord {
    pub key_id: String,
    pub profile_id: String,
}

/// The sealed contents of an account's `tokens`: the token the account acts with, and the
/// login's own token when that differs (a Facebook Page's account keeps the user token to
/// list Pages again).
#[derive(Clone, Serialize, Deserialize)]
pub struct AccountTokens {
    pub tokens: TokenSet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<TokenSet>,
}

pub(crate) fn nonce_hash(nonce: &str) -> String {
    hex::encode(Sha256::digest(format!("browser:{nonce}").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_back_and_debug_hides_them() {
        let t = PendingToken::generate();
        assert_eq!(PendingToken::parse(t.as_str()), Some(t.clone()));
        assert_eq!(format!("{t:?}"), "PendingToken([redacted])");
        assert_ne!(
            StateToken::generate().as_str(),
            StateToken::generate().as_str()
        );
    }

    #[test]
    fn strings_that_cannot_be_tokens_are_refused_before_lookup() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}!", "a".repeat(42)),
            &"a b".repeat(15),
        ] {
            assert!(StateToken::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_store_key_is_a_hash_not_the_token() {
        let t = StateToken::generate();
        assert_ne!(t.hash(), t.as_str());
        assert_eq!(t.hash().len(), 64);
    }
}
