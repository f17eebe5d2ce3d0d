//! API keys: random, shown once, stored as a SHA-256 hash.

use crate::auth::{ResourceGroup, hash_key};
use crate::{Caller, ServiceError, ServiceResult, Services};
use chrono::{DateTime, Duration, Utc};
use plugboard_core::{ApiKeyId, OwnerId, ProfileId, Secret};
use plugboard_store::{ApiKeyRecord, Permission, Profile};
use rand::RngCore;

/// Zernio's resource groups a key may have disabled.
pub const RESOURCE_GROUPS: &[&str] = &[
    "publishing",
    "engagement",
    "messages",
    "contacts",
    "analytics",
    "ads",
    "telephony",
    "accounts",
    "billing",
    "webhooks",
];

/// A validated request for a new key.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApiKey {
    pub name: String,
    pub expires_in_days: Option<u32>,
    pub profile_ids: Option<Vec<ProfileId>>,
    pub permission: Permission,
    pub disabled_resource_groups: Vec<String>,
}

impl NewApiKey {
    /// A full-access key with just a name.
    pub fn full(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            expires_in_days: None,
            profile_ids: None,
            permission: Permission::ReadWrite,
            disabled_resource_groups: vec![],
        }
    }
}

/// A key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyView {
    pub record: ApiKeyRecord,
    /// Names and colors of the profiles a scoped key may use.
    pub profiles: Vec<Profile>,
}

/// A freshly created key: the only time its value is available.
#[derive(Debug)]
pub struct CreatedApiKey {
    pub view: ApiKeyView,
    pub key: Secret<String>,
}

/// A new full-access key value for the installation's first key.
pub(crate) fn generate_first_key() -> Secret<String> {
    generate_key(false)
}

fn generate_key(restricted: bool) -> Secret<String> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let prefix = if restricted { "zrk_" } else { "sk_" };
    Secret::new(format!("{prefix}{}", hex::encode(bytes)))
}

/// `sk_1a2b…9z8y`: enough to recognise a key, useless to use it.
pub fn preview(key: &str) -> String {
    let head: String = key.chars().take(7).collect();
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}...{tail}")
}

/// Builds the stored record of a key value; the value itself is not kept.
pub fn record_for(
    owner: &OwnerId,
    key: &Secret<String>,
    new: &NewApiKey,
    now: DateTime<Utc>,
) -> ApiKeyRecord {
    ApiKeyRecord {
        id: ApiKeyId::generate(now.timestamp()),
        owner_id: owner.clone(),
        name: new.name.clone(),
        key_hash: hash_key(key.expose()),
        preview: preview(key.expose()),
        profile_ids: new.profile_ids.clone(),
        permission: new.permission,
        disabled_resource_groups: new.disabled_resource_groups.clone(),
        expires_at: new
            .expires_in_days
            .map(|d| now + Duration::days(i64::from(d))),
        created_at: now,
    }
}

impl Services {
    async fn profiles_of(
        &self,
        caller_owner: &OwnerId,
        record: &ApiKeyRecord,
    ) -> ServiceResult<Vec<Profile>> {
        let mut out = Vec::new();
        for id in record.profile_ids.iter().flatten() {
            if let Some(p) = self.store.get_profile(caller_owner, id).await? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Creates a key for the caller's owner (API) or any owner (CLI, with `caller: None`).
    pub async fn create_api_key_for(
        &self,
        owner: &OwnerId,
        new: NewApiKey,
    ) -> ServiceResult<CreatedApiKey> {
        if new.name.trim().is_empty() || new.name.chars().count() > 100 {
            return Err(ServiceError::invalid(
                "name",
                "name is required (1-100 characters)",
            ));
        }
        if let Some(ids) = &new.profile_ids {
            if ids.is_empty() {
                return Err(ServiceError::invalid(
                    "profileIds",
                    "profileIds is required when scope is 'profiles'",
                ));
            }
            for id in ids {
                if self.store.get_profile(owner, id).await?.is_none() {
                    return Err(ServiceError::invalid(
                        "profileIds",
                        format!("profile {id} not found"),
                    ));
                }
            }
        }
        for g in &new.disabled_resource_groups {
            if !RESOURCE_GROUPS.contains(&g.as_str()) {
                return Err(ServiceError::invalid(
                    "disabledResourceGroups",
                    format!("unknown resource group '{g}'"),
                ));
            }
        }
        let key = generate_key(!new.disabled_resource_groups.is_empty());
        let record = record_for(owner, &key, &new, self.clock.now());
        self.store.insert_api_key(&record).await?;
        tracing::info!(key_id = %record.id, owner = %owner, "API key created");
        let profiles = self.profiles_of(owner, &record).await?;
        Ok(CreatedApiKey {
            view: ApiKeyView { record, profiles },
            key,
        })
    }

    pub async fn create_api_key(
        &self,
        caller: &Caller,
        new: NewApiKey,
    ) -> ServiceResult<CreatedApiKey> {
        caller.require(ResourceGroup::AdminPlane, true)?;
        self.create_api_key_for(&caller.owner.clone(), new).await
    }

    pub async fn list_api_keys(&self, caller: &Caller) -> ServiceResult<Vec<ApiKeyView>> {
        caller.require(ResourceGroup::AdminPlane, false)?;
        self.list_api_keys_of(&caller.owner).await
    }

    pub async fn list_api_keys_of(&self, owner: &OwnerId) -> ServiceResult<Vec<ApiKeyView>> {
        let mut out = Vec::new();
        for record in self.store.list_api_keys(owner).await? {
            let profiles = self.profiles_of(owner, &record).await?;
            out.push(ApiKeyView { record, profiles });
        }
        Ok(out)
    }

    pub async fn delete_api_key(&self, caller: &Caller, id: &ApiKeyId) -> ServiceResult<()> {
        caller.require(ResourceGroup::AdminPlane, true)?;
        self.revoke_api_key_of(&caller.owner, id).await
    }

    pub async fn revoke_api_key_of(&self, owner: &OwnerId, id: &ApiKeyId) -> ServiceResult<()> {
        if !self.store.delete_api_key(owner, id).await? {
            return Err(ServiceError::NotFound { what: "API key" });
        }
        // Tokens check their key on every request anyway; revoking the grants also ends
        // their refresh tokens' families at once.
        let grants = self
            .store
            .revoke_mcp_grants_of_key(owner, id, self.clock.now())
            .await?;
        tracing::info!(key_id = %id, owner = %owner, mcp_grants = grants, "API key revoked");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_shows_prefix_and_last_four_only() {
        let key = format!("sk_{}", "ab".repeat(32));
        assert_eq!(preview(&key), "sk_abab...abab");
        assert!(!preview(&key).contains(&key[7..60]));
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let full = generate_key(false);
        let restricted = generate_key(true);
        assert!(crate::auth::looks_like_key(full.expose()));
        assert!(full.expose().starts_with("sk_") && full.expose().len() == 67);
        assert!(restricted.expose().starts_with("zrk_"));
        assert_ne!(generate_key(false).expose(), full.expose());
    }
}
