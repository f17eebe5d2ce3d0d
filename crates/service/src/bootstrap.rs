//! First start: the operator's owner, a default profile, and a first API key.

use crate::api_keys::{NewApiKey, record_for};
use crate::auth::looks_like_key;
use crate::{ServiceError, ServiceResult, Services};
use plugboard_core::{OwnerId, ProfileId, Secret};
use plugboard_store::{Owner, Profile, StoreError};

/// What the first start created, for the start-up banner.
#[derive(Debug)]
pub struct Bootstrap {
    pub owner: Owner,
    /// The new key's value when this start created the first key and chose it.
    pub generated_key: Option<Secret<String>>,
    /// Whether the configured bootstrap key was installed by this start.
    pub installed_configured_key: bool,
}

impl Services {
    /// The installation's owner, created with a default profile on first use.
    pub async fn ensure_owner(&self) -> ServiceResult<Owner> {
        if let Some(owner) = self.store.first_owner().await? {
            return Ok(owner);
        }
        let now = self.clock.now();
        let owner = Owner {
            id: OwnerId::generate(now.timestamp()),
            name: "Owner".into(),
            email: None,
            created_at: now,
        };
        self.store.insert_owner(&owner).await?;
        // Another process may have raced us to create the first owner; use whichever is
        // first so every start agrees.
        let owner = self.store.first_owner().await?.unwrap_or(owner);
        let profile = Profile {
            id: ProfileId::generate(now.timestamp()),
            owner_id: owner.id.clone(),
            name: "Default".into(),
            description: None,
            color: Some("#ffeda0".into()),
            timezone: None,
            external_id: None,
            is_default: true,
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_profile(&profile).await {
            Ok(()) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(owner)
    }

    /// Makes sure the store has an owner and at least one key. With `configured` set (and
    /// no key in the store yet) that exact key becomes the first one.
    pub async fn bootstrap(&self, configured: Option<&Secret<String>>) -> ServiceResult<Bootstrap> {
        let owner = self.ensure_owner().await?;
        if let Some(key) = configured
            && !looks_like_key(key.expose())
        {
            return Err(ServiceError::invalid(
                "PLUGBOARD_BOOTSTRAP_API_KEY",
                "must be 'sk_' followed by 64 hexadecimal characters",
            ));
        }
        if self.store.count_api_keys().await? > 0 {
            return Ok(Bootstrap {
                owner,
                generated_key: None,
                installed_configured_key: false,
            });
        }
        let (key, generated) = match configured {
            Some(k) => (k.clone(), false),
            None => {
                let created = crate::api_keys::generate_first_key();
                (created, true)
            }
        };
        let record = record_for(
            &owner.id,
            &key,
            &NewApiKey::full("Default key"),
            self.clock.now(),
        );
        let inserted = self.store.insert_first_api_key(&record).await?;
        Ok(Bootstrap {
            owner,
            generated_key: (inserted && generated).then_some(key),
            installed_configured_key: inserted && !generated,
        })
    }
}
