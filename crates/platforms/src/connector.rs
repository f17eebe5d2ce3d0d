//! The `Connector` trait: what the connect flow asks of a network, and the values that come
//! back. One implementation per OAuth network lives in that network's module; they share the
//! HTTP engine in [`crate::engine`] and differ only where the network truly differs
//! (identity, destinations, long-lived exchange, response nesting).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use plugboard_core::{Platform, Secret};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::authorize::BuildError;
use crate::instagram::LoginMethod;
use crate::pkce::{PkceChallenge, PkceVerifier};
use crate::spec::{BaseUrl, ResolvedSpec, SpecError};
use crate::usage::UsageSink;

/// The operator's app on one platform, and where that platform's API is served.
#[derive(Clone)]
pub struct PlatformApp {
    pub client_id: String,
    pub client_secret: Secret<String>,
    /// Rebases every URL of the platform (the sandbox, a test fake, a proxy).
    pub base_url: Option<BaseUrl>,
    /// Replaces the spec's default scopes (an app approved for more, or for fewer).
    pub scopes: Option<Vec<String>>,
    /// Sent where the platform demands a descriptive User-Agent (Reddit).
    pub user_agent: String,
    /// Where every answered call to the platform is reported ([`crate::usage`]).
    pub usage: Arc<dyn UsageSink>,
}

impl fmt::Debug for PlatformApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("base_url", &self.base_url)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Tokens as the platform issued them. The service seals this whole value (JSON) before it
/// is stored; it never leaves the process otherwise.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Granted scopes as the token response reported them (or as requested, when the
    /// platform does not say).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A user id that came with the token (TikTok `open_id`, Instagram and Threads
    /// `user_id`), kept because some identity calls need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("scopes", &self.scopes)
            .field("user_id", &self.user_id)
            .finish()
    }
}

/// Who authorized: the platform account behind the token.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// Stable id on the platform (never the handle, which can change).
    pub platform_user_id: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub profile_picture: Option<String>,
    pub profile_url: Option<String>,
    pub followers_count: Option<i64>,
    /// Platform-specific facts worth keeping on the account (Instagram `instagramScopedId`,
    /// LinkedIn `vanityName`, TikTok `unionId`…).
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// What the user must pick after authorizing, on platforms where the login alone does not
/// name the thing to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionKind {
    /// A Facebook Page (each with its own Page token).
    FacebookPage,
    /// An Instagram professional account linked to a Facebook Page (Instagram through
    /// Facebook Login); the Page's token becomes the account's.
    InstagramAccount,
    /// The member's personal profile or an organization they administer.
    LinkedinOrganization,
    PinterestBoard,
    /// A location of one of the Google Business accounts the user manages.
    GoogleBusinessLocation,
    SnapchatPublicProfile,
    /// A WhatsApp Business phone number among the WABAs the Meta login granted; the
    /// number is the account.
    WhatsAppPhoneNumber,
}

/// One thing the user can pick (a Page, an organization, a board, a location…).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    /// What selection endpoints name it by: Page id, bare organization id, board id, bare
    /// location id, public profile id. For [`SelectionKind::InstagramAccount`] the Page id.
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A token of the destination's own (Facebook Page token, also used for the Instagram
    /// account linked to that Page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Platform facts in the platform's names, passed to the integrator as Zernio shows
    /// them: Facebook `category`, `tasks`; Instagram `instagram_business_account`
    /// `{id, username, profile_picture_url}`; LinkedIn `urn`, `vanityName`, `logoUrl`;
    /// Pinterest `description`, `privacy`; Google `accountId` (`accounts/123`),
    /// `accountName`, `address`, `category`, `storeCode`, `websiteUrl`; Snapchat
    /// `display_name`, `profile_image_url`, `subscriber_count`; Meta ad accounts
    /// `account_id`, `account_status`, `currency`.
    #[serde(default)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("username", &self.username)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("extra", &self.extra)
            .finish()
    }
}

/// Why a call to a platform failed, in terms the service can act on. Messages never carry
/// tokens, codes or secrets.
#[derive(Debug, Error)]
pub enum ConnectorError {
    /// The grant is dead: an authorization code already used or expired, a refresh token
    /// revoked, an access token the platform no longer accepts. The user must reconnect.
    #[error("the platform refused the grant: {description}")]
    InvalidGrant { description: String },
    /// The platform refused our app (wrong client id or secret, redirect URI not registered).
    #[error("the platform rejected the app credentials: {description}")]
    InvalidClient { description: String },
    /// The user did not grant a permission the call needs.
    #[error("missing permission: {description}")]
    PermissionDenied { description: String },
    /// The platform answered with another error (its own code and message kept for logs and
    /// for `platform_error*` redirect parameters).
    #[error("platform error (HTTP {status}): {message}")]
    Platform {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// The login worked but names nothing Plugboard can connect: a Google account without
    /// a YouTube channel (`no_youtube_channel`), a personal Instagram account
    /// (`personal_account_not_supported`). `code` is Zernio's redirect error value.
    #[error("{message}")]
    NotEligible { code: &'static str, message: String },
    /// The platform answered, but not in a shape we understand.
    #[error("unexpected response from the platform: {0}")]
    Malformed(String),
    /// The platform could not be reached or did not answer in time.
    #[error("cannot reach the platform: {0}")]
    Transport(String),
    /// The platform refused the call for its API quota or rate limit (YouTube
    /// `quotaExceeded`, Meta codes 4/17/32/613, X and Reddit 429), until `reset_at` when it
    /// said ([`crate::usage`]).
    #[error("the platform's API quota is used up: {description}")]
    QuotaExceeded {
        reset_at: Option<DateTime<Utc>>,
        description: String,
    },
    /// The platform has no such operation (refresh on Facebook user tokens, revocation on
    /// Meta).
    #[error("not supported by this platform: {0}")]
    Unsupported(&'static str),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Spec(#[from] SpecError),
}

impl ConnectorError {
    /// Whether trying again later may succeed (a refresh worker backs off on these).
    pub fn is_transient(&self) -> bool {
        match self {
            ConnectorError::Transport(_) | ConnectorError::QuotaExceeded { .. } => true,
            ConnectorError::Platform { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// The authorization request of one connect session.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizeParams<'a> {
    /// Plugboard's callback for this platform, exactly as registered with the network.
    pub redirect_uri: &'a str,
    pub state: &'a str,
    /// Given exactly when [`Connector::uses_pkce`] is true.
    pub pkce: Option<&'a PkceChallenge>,
    /// Ask the platform to show its login screen again (Instagram `force_reauth`).
    pub force_reauth: bool,
    /// Scopes asked for on top of the connector's own (the Meta ads flow's `ads_read`…).
    pub extra_scopes: &'a [&'a str],
}

/// One social network's side of the connect flow.
#[async_trait]
pub trait Connector: Send + Sync {
    fn platform(&self) -> Platform;

    /// The spec with URLs resolved (and rebased when configured).
    fn spec(&self) -> &ResolvedSpec;

    /// Whether the authorization request carries a PKCE challenge.
    fn uses_pkce(&self) -> bool {
        self.spec().spec.pkce == crate::spec::Pkce::S256
    }

    /// What the user must pick after authorizing; `None` when the login names the account.
    fn selection(&self) -> Option<SelectionKind> {
        None
    }

    /// The URL to send the user's browser to.
    fn authorization_url(&self, params: &AuthorizeParams<'_>) -> Result<String, ConnectorError>;

    /// Exchanges the authorization code (and, on the Meta family, swaps the short-lived
    /// token for a long-lived one before anything else uses it).
    async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&PkceVerifier>,
    ) -> Result<TokenSet, ConnectorError>;

    /// The platform account behind the token.
    async fn identity(&self, tokens: &TokenSet) -> Result<Identity, ConnectorError>;

    /// What the user can pick, for platforms with a [`Connector::selection`]; empty
    /// otherwise. An empty list on a selecting platform is the "nothing to pick" state
    /// (no Pages granted, no locations…), not an error.
    async fn destinations(
        &self,
        _tokens: &TokenSet,
        _identity: &Identity,
    ) -> Result<Vec<Destination>, ConnectorError> {
        Ok(Vec::new())
    }

    /// Renews the access token: the refresh grant, or the long-lived token extension.
    /// Rotating platforms return the new refresh token; non-rotating ones keep the old.
    async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError>;

    /// Revokes the grant at the platform, where the platform offers revocation.
    async fn revoke(&self, tokens: &TokenSet) -> Result<(), ConnectorError>;

    /// The ad accounts the login can see (Meta's `/me/adaccounts`), for the ads flow.
    async fn ad_accounts(&self, _tokens: &TokenSet) -> Result<Vec<AdAccount>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "this platform has no ads connection",
        ))
    }

    /// The ids of the ads of one ad account, for the ads flow's initial sync.
    async fn ads(
        &self,
        _tokens: &TokenSet,
        _ad_account_id: &str,
    ) -> Result<Vec<String>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "this platform has no ads connection",
        ))
    }
}

/// One ad account a login can see (platforms.md §3, Meta ads-only flow).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdAccount {
    /// With the `act_` prefix.
    pub id: String,
    pub name: Option<String>,
    /// Meta's `account_status`: 1 is active; 2 disabled, 3 unsettled, 7 pending risk
    /// review, 8 pending settlement, 9 in grace period, 100 pending closure, 101 closed.
    pub status: i64,
    pub disable_reason: Option<i64>,
    pub currency: Option<String>,
}

impl AdAccount {
    /// Whether ads can be read and run on it.
    pub fn is_usable(&self) -> bool {
        matches!(self.status, 1 | 9)
    }
}

/// Which variant of a platform's connector (only Instagram has two logins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Flavor {
    #[default]
    Standard,
    /// Instagram through Facebook Login: Meta app credentials and Facebook's endpoints.
    InstagramFacebookLogin,
}

impl From<LoginMethod> for Flavor {
    fn from(m: LoginMethod) -> Self {
        match m {
            LoginMethod::InstagramLogin => Flavor::Standard,
            LoginMethod::FacebookLogin => Flavor::InstagramFacebookLogin,
        }
    }
}

/// The connectors of every configured platform, built once at start.
#[derive(Clone, Default)]
pub struct Connectors {
    map: BTreeMap<(Platform, Flavor), Arc<dyn Connector>>,
}

impl Connectors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, flavor: Flavor, connector: Arc<dyn Connector>) {
        self.map.insert((connector.platform(), flavor), connector);
    }

    pub fn get(&self, platform: Platform, flavor: Flavor) -> Option<Arc<dyn Connector>> {
        self.map.get(&(platform, flavor)).cloned()
    }

    pub fn is_configured(&self, platform: Platform) -> bool {
        self.map.keys().any(|(p, _)| *p == platform)
    }
}
