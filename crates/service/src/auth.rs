//! API key authentication and what a key may do.

use crate::{ServiceError, ServiceResult, Services};
use plugboard_core::{ApiKeyId, OwnerId, ProfileId};
use plugboard_store::{ApiKeyRecord, Permission};
use sha2::{Digest, Sha256};

/// Who is calling: resolved from an API key once per request.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub owner: OwnerId,
    pub key_id: ApiKeyId,
    pub permission: Permission,
    /// `Some` for a key limited to these profiles.
    pub profile_ids: Option<Vec<ProfileId>>,
    pub disabled_resource_groups: Vec<String>,
}

/// Zernio's resource groups that matter on this surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceGroup {
    Accounts,
    Webhooks,
    /// API-key management: never allowed to restricted keys.
    AdminPlane,
}

impl ResourceGroup {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceGroup::Accounts => "accounts",
            ResourceGroup::Webhooks => "webhooks",
            ResourceGroup::AdminPlane => "admin-plane",
        }
    }
}

/// SHA-256 of a key, hex: what the store keeps and looks keys up by. Lookup by an index on
/// the hash leaks nothing useful through timing (an attacker cannot choose hash prefixes).
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether a string has the shape of one of our keys (`sk_` or `zrk_` + 64 hex).
pub fn looks_like_key(key: &str) -> bool {
    let body = key.strip_prefix("sk_").or_else(|| key.strip_prefix("zrk_"));
    matches!(body, Some(b) if b.len() == 64 && b.bytes().all(|c| c.is_ascii_hexdigit()))
}

impl Caller {
    pub fn from_key(key: &ApiKeyRecord) -> Self {
        Caller {
            owner: key.owner_id.clone(),
            key_id: key.id.clone(),
            permission: key.permission,
            profile_ids: key.profile_ids.clone(),
            disabled_resource_groups: key.disabled_resource_groups.clone(),
        }
    }

    pub fn is_restricted(&self) -> bool {
        !self.disabled_resource_groups.is_empty()
    }

    /// Checks the key may use `group`, and may write when `writes`.
    pub fn require(&self, group: ResourceGroup, writes: bool) -> ServiceResult<()> {
        match group {
            ResourceGroup::AdminPlane if self.is_restricted() || self.profile_ids.is_some() => {
                return Err(ServiceError::Forbidden {
                    message: "This API key cannot manage API keys".into(),
                    required_group: None,
                });
            }
            _ if self
                .disabled_resource_groups
                .iter()
                .any(|g| g == group.as_str()) =>
            {
                return Err(ServiceError::Forbidden {
                    message: format!(
                        "This API key has the '{}' resource group disabled",
                        group.as_str()
                    ),
                    required_group: Some(group.as_str()),
                });
            }
            _ => {}
        }
        if writes && self.permission == Permission::Read {
            return Err(ServiceError::Forbidden {
                message: "This API key is read-only".into(),
                required_group: None,
            });
        }
        Ok(())
    }

    /// Whether a profile-scoped key may see this profile.
    pub fn can_see_profile(&self, id: &ProfileId) -> bool {
        self.profile_ids.as_ref().is_none_or(|ids| ids.contains(id))
    }
}

impl Services {
    /// Resolves a bearer key to its caller. Every failure is the same to the client; the
    /// exact reason goes to the security log.
    pub async fn authenticate(&self, presented: &str) -> ServiceResult<Caller> {
        const INVALID: &str = "Invalid or revoked API key";
        if !looks_like_key(presented) {
            tracing::info!(target: "security", reason = "malformed key", "API key rejected");
            return Err(ServiceError::Unauthenticated { message: INVALID });
        }
        let Some(key) = self
            .store
            .find_api_key_by_hash(&hash_key(presented))
            .await?
        else {
            tracing::info!(target: "security", reason = "unknown or revoked key", "API key rejected");
            return Err(ServiceError::Unauthenticated { message: INVALID });
        };
        if key.expires_at.is_some_and(|at| at <= self.clock.now()) {
            tracing::info!(target: "security", key_id = %key.id, reason = "expired key", "API key rejected");
            return Err(ServiceError::Unauthenticated { message: INVALID });
        }
        Ok(Caller::from_key(&key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(permission: Permission, groups: &[&str], profiles: Option<Vec<ProfileId>>) -> Caller {
        Caller {
            owner: OwnerId::generate(1),
            key_id: ApiKeyId::generate(1),
            permission,
            profile_ids: profiles,
            disabled_resource_groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn key_shapes() {
        assert!(looks_like_key(&format!("sk_{}", "a".repeat(64))));
        assert!(looks_like_key(&format!("zrk_{}", "0".repeat(64))));
        for bad in [
            "",
            "sk_",
            "sk_abc",
            &format!("pk_{}", "a".repeat(64)),
            &format!("sk_{}", "g".repeat(64)),
        ] {
            assert!(!looks_like_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn permissions_by_key_kind() {
        let full = caller(Permission::ReadWrite, &[], None);
        assert!(full.require(ResourceGroup::AdminPlane, true).is_ok());
        assert!(full.require(ResourceGroup::Accounts, true).is_ok());
        let read = caller(Permission::Read, &[], None);
        assert!(read.require(ResourceGroup::Accounts, false).is_ok());
        assert!(
            read.require(ResourceGroup::Accounts, true).is_err(),
            "read key cannot write"
        );
        let restricted = caller(Permission::ReadWrite, &["webhooks"], None);
        assert!(
            restricted
                .require(ResourceGroup::AdminPlane, false)
                .is_err(),
            "restricted keys never manage keys"
        );
        assert!(restricted.require(ResourceGroup::Webhooks, false).is_err());
        assert!(restricted.require(ResourceGroup::Accounts, true).is_ok());
        let p = ProfileId::generate(1);
        let scoped = caller(Permission::ReadWrite, &[], Some(vec![p.clone()]));
        assert!(scoped.can_see_profile(&p));
        assert!(!scoped.can_see_profile(&ProfileId::generate(2)));
        assert!(scoped.require(ResourceGroup::AdminPlane, false).is_err());
    }
}
