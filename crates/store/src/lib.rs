//! Storage. Small traits per aggregate, composed into [`Store`], implemented by an embedded
//! SQLite backend and a MongoDB backend. Uniqueness, single-use consumption and claiming
//! are atomic inside each backend (unique indexes and conditional updates), never
//! check-then-write here.
//!
//! Every method that reads or writes a tenant's rows takes the owner and filters by it;
//! request handlers reach the store only through [`Scoped`], which fixes the owner.

mod error;
pub mod model;
pub mod mongo;
pub mod observer;
pub mod outbox;
pub mod quota;
mod scoped;
pub mod sqlite;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "conformance")]
pub mod test_server;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
pub use outbox::{AccountEvent, AccountEventKind, QueuedEvent};
use plugboard_core::{AccountId, ApiKeyId, OwnerId, ProfileId, Sealed, WebhookId};
pub use quota::{MetaPercentages, PlatformUsage, QuotaStore, RateLimitSeen, UsageIncrement};

pub use error::{StoreError, StoreResult};
pub use model::*;
pub use observer::{NoObserver, StoreObserver};
pub use scoped::Scoped;

#[async_trait]
pub trait OwnerStore: Send + Sync {
    async fn insert_owner(&self, owner: &Owner) -> StoreResult<()>;
    async fn get_owner(&self, id: &OwnerId) -> StoreResult<Option<Owner>>;
    /// The first owner created (the one a fresh installation makes for its operator).
    async fn first_owner(&self) -> StoreResult<Option<Owner>>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    /// Inserts the key only when no key exists at all (bootstrap); `false` when one does.
    async fn insert_first_api_key(&self, key: &ApiKeyRecord) -> StoreResult<bool>;
    async fn find_api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self, owner: &OwnerId) -> StoreResult<Vec<ApiKeyRecord>>;
    async fn delete_api_key(&self, owner: &OwnerId, id: &ApiKeyId) -> StoreResult<bool>;
    async fn count_api_keys(&self) -> StoreResult<u64>;
}

#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// Fails with [`StoreError::Conflict`] when the name or external id is taken.
    async fn insert_profile(&self, profile: &Profile) -> StoreResult<()>;
    async fn get_profile(&self, owner: &OwnerId, id: &ProfileId) -> StoreResult<Option<Profile>>;
    /// Default profile first, then by creation; returns the page and the total.
    async fn list_profiles(
        &self,
        owner: &OwnerId,
        filter: &ProfileFilter,
        skip: u64,
        limit: Option<u64>,
    ) -> StoreResult<(Vec<Profile>, u64)>;
    /// Applies the patch; making a profile default clears the flag on the others.
    async fn update_profile(
        &self,
        owner: &OwnerId,
        id: &ProfileId,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Profile>>;
    async fn delete_profile(&self, owner: &OwnerId, id: &ProfileId) -> StoreResult<bool>;
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Inserts the account or, when its identity exists for that profile, updates it in
    /// place (same id; a disconnected account comes back). `event` is queued in the same
    /// atomic step (see [`outbox`]).
    async fn upsert_account(
        &self,
        account: &AccountUpsert,
        event: Option<&AccountEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<Account>;
    /// A live (not disconnected-and-removed) account.
    async fn get_account(&self, owner: &OwnerId, id: &AccountId) -> StoreResult<Option<Account>>;
    async fn list_accounts(
        &self,
        owner: &OwnerId,
        query: &AccountQuery,
    ) -> StoreResult<AccountPage>;
    /// Live accounts per profile of the owner.
    async fn count_accounts_by_profile(
        &self,
        owner: &OwnerId,
    ) -> StoreResult<Vec<(ProfileId, u64)>>;
    async fn update_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        patch: &AccountPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>>;
    /// Applies a retarget to a live account. Conflicts when another live account of the
    /// same profile already has the new identity.
    async fn retarget_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        change: &AccountRetarget,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>>;
    /// Moves one account to another profile of the same owner. Conflicts when the
    /// target already holds the same identity.
    async fn move_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        to: &ProfileId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>>;
    /// Moves every live account of a profile to another; returns how many moved.
    async fn move_profile_accounts(
        &self,
        owner: &OwnerId,
        from: &ProfileId,
        to: &ProfileId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Disconnects: the account stops being listed, its tokens are dropped, and it is kept
    /// as a tombstone (a later connect of the same identity revives it with the same id).
    /// `None` when there is no live account with that id. `event` is queued with the
    /// removal.
    async fn remove_account(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        event: Option<&AccountEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>>;
    /// Live accounts whose token expires before `due_before`, not waiting for a
    /// reconnection, and not backing off after a failed refresh (their retry time passed),
    /// soonest first. For the refresh worker: every owner's.
    async fn accounts_due_for_refresh(
        &self,
        due_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<Account>>;
    /// Stores refreshed tokens if the sealed tokens are still `expected` (so of two
    /// workers that refreshed one account, the second, whose refresh token may already be
    /// rotated away, cannot overwrite the first), and clears the failure count.
    async fn store_refreshed_tokens(
        &self,
        id: &AccountId,
        expected: &Sealed,
        new: &Sealed,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records a failed refresh: the account is not due again before `retry_at`. Returns
    /// how many refreshes have failed in a row.
    async fn defer_refresh(&self, id: &AccountId, retry_at: DateTime<Utc>) -> StoreResult<u32>;
    /// The platform declared the grant dead. `Some` when this call changed the account
    /// (and only then is `event` queued, so one disconnection is told once); a reconnect
    /// clears it.
    async fn mark_needs_reconnection(
        &self,
        id: &AccountId,
        event: Option<&AccountEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>>;
    /// Every account with sealed tokens, of every owner (for key rotation).
    async fn accounts_with_tokens(&self) -> StoreResult<Vec<Account>>;
    /// Replaces the sealed tokens only if they are still `expected`.
    async fn replace_tokens(
        &self,
        id: &AccountId,
        expected: &Sealed,
        new: &Sealed,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait OneTimeStore: Send + Sync {
    async fn put_one_time(&self, record: &OneTimeRecord) -> StoreResult<()>;
    /// Takes the record if it exists, is unexpired and was not taken before. Exactly one
    /// of any number of concurrent callers gets it.
    async fn consume_one_time(
        &self,
        kind: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OneTimeRecord>>;
    /// Reads a record that is unexpired and not taken, without taking it (a pending
    /// selection is read by every listing call and taken once by the selection).
    async fn get_one_time(
        &self,
        kind: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OneTimeRecord>>;
    /// Drops taken and expired records of every kind; returns how many went.
    async fn purge_one_time(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

#[async_trait]
pub trait JobStore: Send + Sync {
    async fn enqueue_job(
        &self,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<String>;
    /// Claims the earliest due job of `kind` that nobody holds (or whose lease ran out).
    async fn claim_job(
        &self,
        kind: &str,
        holder: &str,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> StoreResult<Option<Job>>;
    /// Removes a finished job, if `holder` still holds it.
    async fn complete_job(&self, id: &str, holder: &str) -> StoreResult<bool>;
    /// Releases the lease and schedules the job again, if `holder` still holds it.
    async fn retry_job(&self, id: &str, holder: &str, run_at: DateTime<Utc>) -> StoreResult<bool>;
    /// Enqueues a job under a caller-chosen id unless a job with that id exists; `false`
    /// when it does (so fanning one event out twice queues each delivery once).
    async fn enqueue_job_once(
        &self,
        id: &str,
        kind: &str,
        payload: &serde_json::Value,
        run_at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Jobs of these kinds that are queued or running (a backlog gauge).
    async fn count_jobs(&self, kinds: &[&str]) -> StoreResult<u64>;
    /// Completes a held job and queues `event` in the same step. `false` (and nothing
    /// queued) when `holder` no longer holds the job.
    async fn complete_job_with_event(
        &self,
        id: &str,
        holder: &str,
        event: &QueuedEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Inserts the subscription unless the owner already has `max_per_owner`; `false` then.
    async fn insert_webhook(&self, webhook: &Webhook, max_per_owner: u64) -> StoreResult<bool>;
    async fn get_webhook(&self, owner: &OwnerId, id: &WebhookId) -> StoreResult<Option<Webhook>>;
    /// The owner's subscriptions in creation order.
    async fn list_webhooks(&self, owner: &OwnerId) -> StoreResult<Vec<Webhook>>;
    async fn update_webhook(
        &self,
        owner: &OwnerId,
        id: &WebhookId,
        patch: &WebhookPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>>;
    async fn delete_webhook(&self, owner: &OwnerId, id: &WebhookId) -> StoreResult<bool>;
    /// Records how a delivery ended for good: a success stamps `last_fired_at` and ends
    /// the failure streak; a failure extends it. Returns the subscription after.
    async fn record_webhook_outcome(
        &self,
        owner: &OwnerId,
        id: &WebhookId,
        success: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>>;
    async fn insert_webhook_log(&self, log: &WebhookLog) -> StoreResult<()>;
    /// Newest first; returns the page and the total.
    async fn list_webhook_logs(
        &self,
        owner: &OwnerId,
        filter: &WebhookLogFilter,
        skip: u64,
        limit: u64,
    ) -> StoreResult<(Vec<WebhookLog>, u64)>;
    /// Drops logs created before `before`; returns how many went.
    async fn purge_webhook_logs(&self, before: DateTime<Utc>) -> StoreResult<u64>;
    /// Moves events a crash left between a change and its job into jobs (a no-op for
    /// backends that write both in one transaction); returns how many moved.
    async fn relay_outbox(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// Where an idempotent request stands when it arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyBegin {
    /// No live record: the caller now holds the key and must finish or abandon it.
    Started,
    /// Another request with this key is being processed.
    InProgress,
    /// The same request was completed before: replay its response.
    Completed {
        status: u16,
        body: serde_json::Value,
    },
    /// The key was used for a different request.
    Mismatch,
}

/// How long a request may hold an idempotency key before another may take it over
/// (a crashed request must not block the key).
pub const IDEMPOTENCY_PROCESSING_LEASE: chrono::Duration = chrono::Duration::seconds(60);

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Records that a request with `key` (within `scope`, per owner) starts, unless a live
    /// record says otherwise. Exactly one of concurrent callers gets `Started`.
    async fn begin_idempotent(
        &self,
        owner: &OwnerId,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<IdempotencyBegin>;
    /// Stores the response to replay until `expires_at`.
    async fn finish_idempotent(
        &self,
        owner: &OwnerId,
        scope: &str,
        key: &str,
        status: u16,
        body: &serde_json::Value,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Drops a started record whose request failed, so a retry runs again.
    async fn abandon_idempotent(&self, owner: &OwnerId, scope: &str, key: &str) -> StoreResult<()>;
}

fn idempotency_id(owner: &OwnerId, scope: &str, key: &str) -> String {
    format!("{owner}:{scope}:{key}")
}

/// Whether the grant's tokens may still be used at `now`.
fn mcp_grant_is_live(grant: &McpGrant, now: DateTime<Utc>) -> bool {
    grant.revoked_at.is_none() && grant.expires_at > now
}

#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes or renews the named lease; `false` when someone else holds it unexpired.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> StoreResult<bool>;
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;
}

/// The MCP authorization server's records: registered clients, grants and their tokens.
/// Tokens are kept hashed; any replica can issue, refresh and validate them.
#[async_trait]
pub trait McpAuthStore: Send + Sync {
    async fn insert_mcp_client(&self, client: &McpClient) -> StoreResult<()>;
    async fn get_mcp_client(&self, id: &str) -> StoreResult<Option<McpClient>>;
    /// Stamps `last_used_at` (a token was issued to the client).
    async fn touch_mcp_client(&self, id: &str, now: DateTime<Utc>) -> StoreResult<()>;
    /// Inserts a grant and its first tokens. [`StoreError::Conflict`] when a grant with
    /// that id exists (its id derives from the authorization code, so a code is redeemed
    /// into at most one grant).
    async fn insert_mcp_grant(&self, grant: &McpGrant, tokens: &[McpToken]) -> StoreResult<()>;
    async fn get_mcp_grant(&self, id: &str) -> StoreResult<Option<McpGrant>>;
    /// Adds tokens to an existing grant (a refresh) and moves the grant's `expires_at` to
    /// the latest token expiry if that is later.
    async fn insert_mcp_tokens(&self, grant_id: &str, tokens: &[McpToken]) -> StoreResult<()>;
    /// An unexpired, unspent token of `kind` whose grant is live (not revoked, not
    /// expired), with that grant.
    async fn find_mcp_token(
        &self,
        hash: &str,
        kind: McpTokenKind,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(McpToken, McpGrant)>>;
    /// Spends a refresh token. Exactly one of concurrent callers presenting the same live
    /// token gets [`RefreshTokenUse::Fresh`]; the others, and any later caller, get
    /// [`RefreshTokenUse::Replayed`].
    async fn use_mcp_refresh_token(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<RefreshTokenUse>;
    /// Revokes a grant (every token of it dies); `false` when there is none or it was
    /// revoked already.
    async fn revoke_mcp_grant(&self, id: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Revokes every live grant made with an API key; returns how many.
    async fn revoke_mcp_grants_of_key(
        &self,
        owner: &OwnerId,
        key: &ApiKeyId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Drops expired tokens, grants expired or revoked before `now`, clients that never
    /// got a token and were registered before `never_used_before`, and clients last used
    /// before `idle_before`. Returns how many records went.
    async fn purge_mcp(
        &self,
        now: DateTime<Utc>,
        never_used_before: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

/// The whole store.
#[async_trait]
pub trait Store:
    OwnerStore
    + ApiKeyStore
    + ProfileStore
    + AccountStore
    + OneTimeStore
    + JobStore
    + LeaseStore
    + IdempotencyStore
    + WebhookStore
    + McpAuthStore
    + QuotaStore
{
    /// Round trip to the backend, for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
    /// `sqlite` or `mongodb`.
    fn backend_name(&self) -> &'static str;
}
