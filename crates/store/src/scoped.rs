//! The caller's view of the store: every query is filtered by the owner fixed at
//! construction. Request handlers get only this; workers and the CLI hold the full store.

use crate::*;
use std::sync::Arc;

#[derive(Clone)]
pub struct Scoped {
    owner: OwnerId,
    store: Arc<dyn Store>,
}

impl Scoped {
    pub fn new(store: Arc<dyn Store>, owner: OwnerId) -> Self {
        Self { owner, store }
    }

    pub fn owner(&self) -> &OwnerId {
        &self.owner
    }

    pub async fn get_owner(&self) -> StoreResult<Option<Owner>> {
        self.store.get_owner(&self.owner).await
    }

    pub async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        if key.owner_id != self.owner {
            return Err(StoreError::Backend("api key of another owner".into()));
        }
        self.store.insert_api_key(key).await
    }

    pub async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        self.store.list_api_keys(&self.owner).await
    }

    pub async fn delete_api_key(&self, id: &ApiKeyId) -> StoreResult<bool> {
        self.store.delete_api_key(&self.owner, id).await
    }

    pub async fn insert_profile(&self, profile: &Profile) -> StoreResult<()> {
        if profile.owner_id != self.owner {
            return Err(StoreError::Backend("profile of another owner".into()));
        }
        self.store.insert_profile(profile).await
    }

    pub async fn get_profile(&self, id: &ProfileId) -> StoreResult<Option<Profile>> {
        self.store.get_profile(&self.owner, id).await
    }

    pub async fn list_profiles(
        &self,
        filter: &ProfileFilter,
        skip: u64,
        limit: Option<u64>,
    ) -> StoreResult<(Vec<Profile>, u64)> {
        self.store
            .list_profiles(&self.owner, filter, skip, limit)
            .await
    }

    pub async fn update_profile(
        &self,
        id: &ProfileId,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Profile>> {
        self.store.update_profile(&self.owner, id, patch, now).await
    }

    pub async fn delete_profile(&self, id: &ProfileId) -> StoreResult<bool> {
        self.store.delete_profile(&self.owner, id).await
    }

    pub async fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>> {
        self.store.get_account(&self.owner, id).await
    }

    pub async fn list_accounts(&self, query: &AccountQuery) -> StoreResult<AccountPage> {
        self.store.list_accounts(&self.owner, query).await
    }

    pub async fn count_accounts_by_profile(&self) -> StoreResult<Vec<(ProfileId, u64)>> {
        self.store.count_accounts_by_profile(&self.owner).await
    }

    pub async fn update_account(
        &self,
        id: &AccountId,
        patch: &AccountPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        self.store.update_account(&self.owner, id, patch, now).await
    }

    pub async fn retarget_account(
        &self,
        id: &AccountId,
        change: &AccountRetarget,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        self.store
            .retarget_account(&self.owner, id, change, now)
            .await
    }

    pub async fn move_account(
        &self,
        id: &AccountId,
        to: &ProfileId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        self.store.move_account(&self.owner, id, to, now).await
    }

    pub async fn move_profile_accounts(
        &self,
        from: &ProfileId,
        to: &ProfileId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.store
            .move_profile_accounts(&self.owner, from, to, now)
            .await
    }

    pub async fn remove_account(
        &self,
        id: &AccountId,
        event: Option<&AccountEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Account>> {
        self.store.remove_account(&self.owner, id, event, now).await
    }

    pub async fn insert_webhook(&self, webhook: &Webhook, max: u64) -> StoreResult<bool> {
        if webhook.owner_id != self.owner {
            return Err(StoreError::Backend("webhook of another owner".into()));
        }
        self.store.insert_webhook(webhook, max).await
    }

    pub async fn get_webhook(&self, id: &WebhookId) -> StoreResult<Option<Webhook>> {
        self.store.get_webhook(&self.owner, id).await
    }

    pub async fn list_webhooks(&self) -> StoreResult<Vec<Webhook>> {
        self.store.list_webhooks(&self.owner).await
    }

    pub async fn update_webhook(
        &self,
        id: &WebhookId,
        patch: &WebhookPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Webhook>> {
        self.store.update_webhook(&self.owner, id, patch, now).await
    }

    pub async fn delete_webhook(&self, id: &WebhookId) -> StoreResult<bool> {
        self.store.delete_webhook(&self.owner, id).await
    }

    pub async fn list_webhook_logs(
        &self,
        filter: &WebhookLogFilter,
        skip: u64,
        limit: u64,
    ) -> StoreResult<(Vec<WebhookLog>, u64)> {
        self.store
            .list_webhook_logs(&self.owner, filter, skip, limit)
            .await
    }
}
