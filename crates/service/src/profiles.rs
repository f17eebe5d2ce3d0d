//! Profiles: groups of connected accounts (a brand, a client, an end user of the app).

use crate::auth::ResourceGroup;
use crate::{Caller, ServiceError, ServiceResult, Services};
use plugboard_core::ProfileId;
use plugboard_store::{AccountQuery, Profile, ProfileFilter, ProfilePatch, StoreError};
use std::collections::HashMap;

/// Validated fields of a new profile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewProfile {
    pub name: String,
    pub description: Option<String>,
    pub color: Option<String>,
    pub timezone: Option<String>,
    pub external_id: Option<String>,
}

/// A profile with the number of its connected accounts.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileView {
    pub profile: Profile,
    pub account_count: u64,
}

pub struct ProfileList {
    pub profiles: Vec<ProfileView>,
    pub total: u64,
}

pub const DEFAULT_COLOR: &str = "#ffeda0";

pub fn validate_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ServiceError::invalid(
            "name",
            "name is required (1-100 characters)",
        ));
    }
    Ok(name.to_owned())
}

pub fn validate_description(d: &str) -> ServiceResult<String> {
    if d.chars().count() > 1000 {
        return Err(ServiceError::invalid(
            "description",
            "description is at most 1000 characters",
        ));
    }
    Ok(d.to_owned())
}

pub fn validate_color(c: &str) -> ServiceResult<String> {
    let c = c.trim();
    if c.is_empty() || c.chars().count() > 32 {
        return Err(ServiceError::invalid(
            "color",
            "color must be 1-32 characters, e.g. #ffeda0",
        ));
    }
    Ok(c.to_owned())
}

/// An IANA time zone name such as `Europe/Paris`.
pub fn validate_timezone(tz: &str) -> ServiceResult<String> {
    tz.parse::<chrono_tz::Tz>()
        .map(|_| tz.to_owned())
        .map_err(|_| ServiceError::invalid("timezone", format!("unknown IANA time zone '{tz}'")))
}

pub fn validate_external_id(e: &str) -> ServiceResult<String> {
    let e = e.trim();
    if e.is_empty() || e.chars().count() > 255 {
        return Err(ServiceError::invalid(
            "externalId",
            "externalId must be 1-255 characters",
        ));
    }
    Ok(e.to_owned())
}

fn conflict(e: StoreError, existing: Option<ProfileId>) -> ServiceError {
    match e {
        StoreError::Conflict {
            field: "externalId",
            ..
        } => ServiceError::Conflict {
            code: "profile_external_id_conflict",
            message: "A profile with this externalId already exists".into(),
            details: None,
        },
        StoreError::Conflict { .. } => ServiceError::Conflict {
            code: "profile_name_conflict",
            message: "A profile with this name already exists".into(),
            details: existing.map(|id| serde_json::json!({ "existingProfileId": id })),
        },
        e => e.into(),
    }
}

impl Services {
    async fn existing_profile_named(&self, caller: &Caller, name: &str) -> Option<ProfileId> {
        let filter = ProfileFilter {
            name: Some(name.to_owned()),
            ..Default::default()
        };
        let (found, _) = self
            .scoped(caller)
            .list_profiles(&filter, 0, Some(1))
            .await
            .ok()?;
        found.into_iter().next().map(|p| p.id)
    }

    /// A visible profile, or not found (a profile-scoped key sees only its profiles).
    pub async fn visible_profile(&self, caller: &Caller, id: &ProfileId) -> ServiceResult<Profile> {
        if !caller.can_see_profile(id) {
            return Err(ServiceError::NotFound { what: "Profile" });
        }
        self.scoped(caller)
            .get_profile(id)
            .await?
            .ok_or(ServiceError::NotFound { what: "Profile" })
    }

    async fn counts(&self, caller: &Caller) -> ServiceResult<HashMap<ProfileId, u64>> {
        Ok(self
            .scoped(caller)
            .count_accounts_by_profile()
            .await?
            .into_iter()
            .collect())
    }

    pub async fn list_profiles(
        &self,
        caller: &Caller,
        mut filter: ProfileFilter,
        skip: u64,
        limit: Option<u64>,
    ) -> ServiceResult<ProfileList> {
        caller.require(ResourceGroup::Accounts, false)?;
        filter.only = caller.profile_ids.clone();
        let (profiles, total) = self
            .scoped(caller)
            .list_profiles(&filter, skip, limit)
            .await?;
        let counts = self.counts(caller).await?;
        Ok(ProfileList {
            profiles: profiles
                .into_iter()
                .map(|p| ProfileView {
                    account_count: counts.get(&p.id).copied().unwrap_or(0),
                    profile: p,
                })
                .collect(),
            total,
        })
    }

    pub async fn get_profile(&self, caller: &Caller, id: &ProfileId) -> ServiceResult<ProfileView> {
        caller.require(ResourceGroup::Accounts, false)?;
        let profile = self.visible_profile(caller, id).await?;
        let account_count = self.counts(caller).await?.get(id).copied().unwrap_or(0);
        Ok(ProfileView {
            profile,
            account_count,
        })
    }

    pub async fn create_profile(&self, caller: &Caller, new: NewProfile) -> ServiceResult<Profile> {
        caller.require(ResourceGroup::Accounts, true)?;
        if caller.profile_ids.is_some() {
            return Err(ServiceError::Forbidden {
                message: "A profile-scoped API key cannot create profiles".into(),
                required_group: None,
            });
        }
        let now = self.clock.now();
        let profile = Profile {
            id: ProfileId::generate(now.timestamp()),
            owner_id: caller.owner.clone(),
            name: new.name,
            description: new.description,
            color: Some(new.color.unwrap_or_else(|| DEFAULT_COLOR.to_owned())),
            timezone: new.timezone,
            external_id: new.external_id,
            is_default: false,
            created_at: now,
            updated_at: now,
        };
        match self.scoped(caller).insert_profile(&profile).await {
            Ok(()) => Ok(profile),
            Err(e) => {
                let existing = self.existing_profile_named(caller, &profile.name).await;
                Err(conflict(e, existing))
            }
        }
    }

    pub async fn update_profile(
        &self,
        caller: &Caller,
        id: &ProfileId,
        patch: ProfilePatch,
    ) -> ServiceResult<Profile> {
        caller.require(ResourceGroup::Accounts, true)?;
        self.visible_profile(caller, id).await?;
        if patch.is_default == Some(false) {
            return Err(ServiceError::invalid(
                "isDefault",
                "make another profile the default instead of unsetting it",
            ));
        }
        let name = patch.name.clone();
        match self
            .scoped(caller)
            .update_profile(id, &patch, self.clock.now())
            .await
        {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(ServiceError::NotFound { what: "Profile" }),
            Err(e) => {
                let existing = match &name {
                    Some(n) => self.existing_profile_named(caller, n).await,
                    None => None,
                };
                Err(conflict(e, existing))
            }
        }
    }

    /// Deletes a profile that has no active connected accounts. Its remaining
    /// (disconnected or inactive) accounts move to another profile, never deleted, as
    /// Zernio documents; one is created when no other exists.
    pub async fn delete_profile(&self, caller: &Caller, id: &ProfileId) -> ServiceResult<()> {
        caller.require(ResourceGroup::Accounts, true)?;
        let profile = self.visible_profile(caller, id).await?;
        let scoped = self.scoped(caller);
        let accounts = scoped
            .list_accounts(&AccountQuery {
                profile_ids: Some(vec![id.clone()]),
                ..Default::default()
            })
            .await?
            .accounts;
        let active = accounts
            .iter()
            .filter(|a| a.is_active && !a.needs_reconnection)
            .count();
        if active > 0 {
            return Err(ServiceError::Conflict {
                code: "profile_has_active_accounts",
                message: format!(
                    "Profile has {active} active connected account(s); disconnect them before deleting the profile"
                ),
                details: None,
            });
        }
        let (all, _) = scoped
            .list_profiles(&ProfileFilter::default(), 0, None)
            .await?;
        let heir = all.iter().find(|p| p.id != *id).cloned();
        let now = self.clock.now();
        let heir = match heir {
            Some(h) => Some(h),
            None if !accounts.is_empty() => Some(
                self.create_profile(
                    caller,
                    NewProfile {
                        name: format!("{} (moved accounts)", profile.name),
                        ..Default::default()
                    },
                )
                .await?,
            ),
            None => None,
        };
        if let Some(heir) = &heir {
            if !accounts.is_empty() {
                let moved = scoped.move_profile_accounts(id, &heir.id, now).await?;
                tracing::info!(profile = %id, to = %heir.id, moved, "accounts moved off a deleted profile");
            }
            if profile.is_default && !heir.is_default {
                scoped
                    .update_profile(
                        &heir.id,
                        &ProfilePatch {
                            is_default: Some(true),
                            ..Default::default()
                        },
                        now,
                    )
                    .await?;
            }
        }
        if !scoped.delete_profile(id).await? {
            return Err(ServiceError::NotFound { what: "Profile" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_rules() {
        assert_eq!(validate_name("  Brand ").unwrap(), "Brand");
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"x".repeat(101)).is_err());
        assert!(validate_timezone("Europe/Paris").is_ok());
        assert!(validate_timezone("UTC").is_ok());
        assert!(validate_timezone("Mars/Olympus").is_err());
        assert!(validate_external_id(&"e".repeat(256)).is_err());
        assert_eq!(validate_external_id(" t42 ").unwrap(), "t42");
        assert!(validate_color("").is_err());
    }
}
