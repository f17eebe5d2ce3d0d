//! What the store keeps. Secrets appear only as [`Sealed`] values; decrypting them is the
//! service's business.

use chrono::{DateTime, Utc};
use plugboard_core::{AccountId, ApiKeyId, OwnerId, Platform, ProfileId, Sealed, WebhookId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A tenant: everything else belongs to exactly one owner, and every caller acts as one.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    pub id: OwnerId,
    pub name: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: ProfileId,
    pub owner_id: OwnerId,
    pub name: String,
    pub description: Option<String>,
    pub color: Option<String>,
    pub timezone: Option<String>,
    pub external_id: Option<String>,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A partial update of a profile. The outer `Option` says whether the field is touched;
/// an inner `None` clears a nullable field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub color: Option<String>,
    pub timezone: Option<Option<String>>,
    pub external_id: Option<Option<String>>,
    pub is_default: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileFilter {
    pub name: Option<String>,
    pub external_id: Option<String>,
    /// Only these profiles (a profile-scoped API key); `None` means all of the owner's.
    pub only: Option<Vec<ProfileId>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    ReadWrite,
    Read,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ReadWrite => "read-write",
            Permission::Read => "read",
        }
    }
}

/// A stored API key. The key itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub owner_id: OwnerId,
    pub name: String,
    pub key_hash: String,
    pub preview: String,
    /// `Some` for a key limited to these profiles (Zernio's `scope: profiles`).
    pub profile_ids: Option<Vec<ProfileId>>,
    pub permission: Permission,
    pub disabled_resource_groups: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A connected social account. Unique per (profile, platform, platform user id,
/// destination id); reconnecting the same identity updates it in place.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: AccountId,
    pub owner_id: OwnerId,
    pub profile_id: ProfileId,
    pub platform: Platform,
    pub platform_user_id: String,
    /// The selected Page, organization, board, location… ; empty when the platform has none.
    pub destination_id: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub profile_picture: Option<String>,
    pub profile_url: Option<String>,
    pub is_active: bool,
    pub needs_reconnection: bool,
    /// `false` for accounts created as a side effect and hidden by `excludeHidden`.
    pub enabled: bool,
    pub followers_count: Option<i64>,
    pub followers_last_updated: Option<DateTime<Utc>>,
    pub parent_account_id: Option<AccountId>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub tokens: Option<Sealed>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Refreshes that failed in a row (transiently); 0 after a success or a reconnect.
    pub refresh_failures: u32,
}

impl Account {
    /// The associated-data context that binds sealed tokens to this account's identity.
    pub fn tokens_context(
        owner: &OwnerId,
        platform: Platform,
        platform_user_id: &str,
        destination_id: &str,
    ) -> String {
        format!("account:{owner}:{platform}:{platform_user_id}:{destination_id}:tokens")
    }

    pub fn own_tokens_context(&self) -> String {
        Self::tokens_context(
            &self.owner_id,
            self.platform,
            &self.platform_user_id,
            &self.destination_id,
        )
    }
}

/// What a connect flow knows about an account. Inserting an identity that exists updates
/// these fields (and revives a disconnected account) and keeps the id.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountUpsert {
    pub owner_id: OwnerId,
    pub profile_id: ProfileId,
    pub platform: Platform,
    pub platform_user_id: String,
    pub destination_id: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub profile_picture: Option<String>,
    pub profile_url: Option<String>,
    pub followers_count: Option<i64>,
    pub parent_account_id: Option<AccountId>,
    pub enabled: bool,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub tokens: Option<Sealed>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
}

/// Points an account at another destination of the same login (another Page, location,
/// organization…), or rewrites how it shows, without a new OAuth. The id stays; the
/// identity (profile, platform, platform user id) stays; the tokens are resealed for the
/// new destination by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRetarget {
    pub destination_id: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub profile_picture: Option<String>,
    pub profile_url: Option<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub tokens: Option<Sealed>,
    pub token_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountPatch {
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// Usable: does not need reconnection.
    Connected,
    /// Needs reconnection.
    Disconnected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccountSort {
    /// By id, which is creation order.
    #[default]
    Id,
    Username,
    Platform,
    Profile,
    Status,
    Connected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum PageRequest {
    #[default]
    All,
    Offset {
        skip: u64,
        limit: u64,
    },
    /// Accounts with an id after `after`, in id order.
    Cursor {
        after: Option<AccountId>,
        limit: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountQuery {
    /// Restrict to these profiles; `None` means every profile of the owner.
    pub profile_ids: Option<Vec<ProfileId>>,
    pub platforms: Option<Vec<Platform>>,
    pub status: Option<AccountStatus>,
    /// Case-insensitive substring of username, display name or platform user id, or an
    /// exact account id.
    pub search: Option<String>,
    pub exclude_hidden: bool,
    pub sort: AccountSort,
    pub order: Order,
    pub page: PageRequest,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountPage {
    pub accounts: Vec<Account>,
    /// Matching accounts over all pages.
    pub total: u64,
    /// With cursor paging: the cursor for the next page, when there is one.
    pub next_cursor: Option<AccountId>,
}

/// A record that may be used once (connect state, OAuth code, Telegram code…).
#[derive(Debug, Clone, PartialEq)]
pub struct OneTimeRecord {
    pub kind: String,
    /// The lookup key; callers store a hash of the token they hand out, not the token.
    pub key: String,
    pub owner_id: Option<OwnerId>,
    pub payload: serde_json::Value,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// A unit of background work, claimed with a lease.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub run_at: DateTime<Utc>,
    pub attempts: u32,
    pub lease_holder: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
}

/// A webhook subscription: where an owner's events are delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: WebhookId,
    pub owner_id: OwnerId,
    pub name: String,
    pub url: String,
    /// The HMAC key for signatures; sealed like a token.
    pub secret: Option<Sealed>,
    pub events: Vec<String>,
    pub is_active: bool,
    pub custom_headers: BTreeMap<String, String>,
    pub disabled_resource_groups: Vec<String>,
    /// Only events of these profiles (empty: every profile).
    pub profile_ids: Vec<ProfileId>,
    /// Only events of these accounts (empty: every account).
    pub account_ids: Vec<AccountId>,
    pub last_fired_at: Option<DateTime<Utc>>,
    /// Deliveries that failed for good in a row; 0 after any success.
    pub failure_count: u32,
    /// When the current run of failures began.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    pub fn secret_context(owner: &OwnerId, id: &WebhookId) -> String {
        format!("webhook:{owner}:{id}:secret")
    }
}

/// Fields a webhook update sets; `None` keeps the stored value. Setting `is_active` to
/// `true` also clears the failure streak (re-enabling a disabled endpoint starts afresh).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    /// `Some(None)` removes the secret.
    pub secret: Option<Option<Sealed>>,
    pub events: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub custom_headers: Option<BTreeMap<String, String>>,
    pub disabled_resource_groups: Option<Vec<String>>,
    pub profile_ids: Option<Vec<ProfileId>>,
    pub account_ids: Option<Vec<AccountId>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Success,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Success => "success",
            DeliveryStatus::Failed => "failed",
        }
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "success" => Ok(DeliveryStatus::Success),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(()),
        }
    }
}

/// One delivery attempt, kept for the logs and for redelivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookLog {
    pub id: String,
    pub owner_id: OwnerId,
    pub webhook_id: WebhookId,
    pub webhook_name: String,
    pub event_id: String,
    pub event: String,
    pub test: bool,
    pub url: String,
    pub status: DeliveryStatus,
    pub status_code: Option<u16>,
    /// The exact body sent (redelivery replays it byte for byte).
    pub request_body: String,
    pub response_body: Option<String>,
    pub error_message: Option<String>,
    pub attempt_number: u32,
    pub response_time_ms: Option<u64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookLogFilter {
    pub webhook_id: Option<WebhookId>,
    pub event_id: Option<String>,
    pub event: Option<String>,
    pub status: Option<DeliveryStatus>,
}

/// An MCP client registered by dynamic client registration (RFC 7591). Public: it has no
/// secret, only the redirect URIs an authorization may come back to.
#[derive(Debug, Clone, PartialEq)]
pub struct McpClient {
    /// `client_id` as handed out.
    pub id: String,
    /// Self-asserted by the client; shown on the consent page as such.
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// When a token was last issued to it; `None` until the first. Clients that never got
    /// one, and clients idle past their last refresh token's life, are purged.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What one consent granted: the family every access and refresh token issued from one
/// authorization code belongs to. Revoking it kills every token of the family.
#[derive(Debug, Clone, PartialEq)]
pub struct McpGrant {
    pub id: String,
    pub owner_id: OwnerId,
    /// The API key pasted on the consent page (its id, never the key).
    pub api_key_id: ApiKeyId,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// The resource (audience) the tokens are for: the canonical `/_mcp` URL.
    pub resource: String,
    pub created_at: DateTime<Utc>,
    /// The latest expiry of any token of the family (the grant is dead after it).
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpTokenKind {
    Access,
    Refresh,
}

impl McpTokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            McpTokenKind::Access => "access",
            McpTokenKind::Refresh => "refresh",
        }
    }
}

impl std::str::FromStr for McpTokenKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "access" => Ok(McpTokenKind::Access),
            "refresh" => Ok(McpTokenKind::Refresh),
            _ => Err(()),
        }
    }
}

/// An issued MCP access or refresh token, kept as the hash of the bearer string.
#[derive(Debug, Clone, PartialEq)]
pub struct McpToken {
    /// SHA-256 hex of the token; the lookup key.
    pub hash: String,
    pub kind: McpTokenKind,
    pub grant_id: String,
    pub owner_id: OwnerId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Refresh tokens only: when it was exchanged (it is dead after; presenting it again
    /// is a replay).
    pub used_at: Option<DateTime<Utc>>,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshTokenUse {
    /// First use of a live token of a live grant: the token is now spent.
    Fresh(McpGrant),
    /// The token was spent before (a replay); the grant as it is now.
    Replayed(McpGrant),
    /// Unknown, expired, or of a revoked or expired grant.
    Invalid,
}
