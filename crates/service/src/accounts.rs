//! Connected accounts: listing, renaming, activating, moving and disconnecting. Accounts
//! are created by connect flows, not here.

use crate::auth::ResourceGroup;
use crate::{Caller, ServiceError, ServiceResult, Services};
use plugboard_core::platform::Category;
use plugboard_core::{AccountId, Platform, ProfileId};
use plugboard_store::{
    Account, AccountEvent, AccountPage, AccountPatch, AccountQuery, AccountStatus, PageRequest,
    StoreError,
};

/// A validated `GET /v1/accounts`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountListRequest {
    /// Requested profiles (`profileId` or `profileIds`); `None` for all visible.
    pub profile_ids: Option<Vec<ProfileId>>,
    pub platform: Option<Platform>,
    pub category: Option<Category>,
    pub status: Option<AccountStatus>,
    pub search: Option<String>,
    pub exclude_hidden: bool,
    pub include_status_counts: bool,
    pub sort: plugboard_store::AccountSort,
    pub order: plugboard_store::Order,
    pub page: PageRequest,
}

pub struct AccountList {
    pub page: AccountPage,
    /// `(all, disconnected)` over every filter but `status`, when asked for.
    pub status_counts: Option<(u64, u64)>,
}

fn platforms_of(category: Category) -> Vec<Platform> {
    Platform::ALL
        .into_iter()
        .chain(Platform::DERIVED)
        .filter(|p| p.category() == category)
        .collect()
}

/// New work (an on-demand refresh, a change of destination) refuses a deactivated account
/// with a code of its own; the background refresher keeps its token alive, so activating
/// it again needs no reconnect.
pub(crate) fn require_active(account: &Account) -> ServiceResult<()> {
    if account.is_active {
        return Ok(());
    }
    Err(ServiceError::Conflict {
        code: "connection_inactive",
        message: format!(
            "Account {} is deactivated; activate it (isActive: true) before using it",
            account.id
        ),
        details: None,
    })
}

impl Services {
    pub async fn list_accounts(
        &self,
        caller: &Caller,
        req: AccountListRequest,
    ) -> ServiceResult<AccountList> {
        caller.require(ResourceGroup::Accounts, false)?;
        let profile_ids = match (&req.profile_ids, &caller.profile_ids) {
            (None, allowed) => allowed.clone(),
            (Some(asked), None) => Some(asked.clone()),
            (Some(asked), Some(allowed)) => Some(
                asked
                    .iter()
                    .filter(|p| allowed.contains(p))
                    .cloned()
                    .collect(),
            ),
        };
        let platforms = match (req.platform, req.category) {
            (None, None) => None,
            (Some(p), None) => Some(vec![p]),
            (None, Some(c)) => Some(platforms_of(c)),
            (Some(p), Some(c)) => Some(if p.category() == c { vec![p] } else { vec![] }),
        };
        let query = AccountQuery {
            profile_ids,
            platforms,
            status: req.status,
            search: req.search.clone(),
            exclude_hidden: req.exclude_hidden,
            sort: req.sort,
            order: req.order,
            page: req.page.clone(),
        };
        let scoped = self.scoped(caller);
        let page = scoped.list_accounts(&query).await?;
        let status_counts = if req.include_status_counts {
            let count = |status| {
                let q = AccountQuery {
                    status,
                    page: PageRequest::Offset { skip: 0, limit: 1 },
                    ..query.clone()
                };
                let scoped = scoped.clone();
                async move { scoped.list_accounts(&q).await.map(|p| p.total) }
            };
            Some((
                count(None).await?,
                count(Some(AccountStatus::Disconnected)).await?,
            ))
        } else {
            None
        };
        Ok(AccountList {
            page,
            status_counts,
        })
    }

    /// A live account the caller may see, or not found.
    pub async fn get_account(&self, caller: &Caller, id: &AccountId) -> ServiceResult<Account> {
        caller.require(ResourceGroup::Accounts, false)?;
        self.visible_account(caller, id).await
    }

    async fn visible_account(&self, caller: &Caller, id: &AccountId) -> ServiceResult<Account> {
        match self.scoped(caller).get_account(id).await? {
            Some(a) if caller.can_see_profile(&a.profile_id) => Ok(a),
            _ => Err(ServiceError::NotFound { what: "Account" }),
        }
    }

    pub async fn update_account(
        &self,
        caller: &Caller,
        id: &AccountId,
        patch: AccountPatch,
    ) -> ServiceResult<Account> {
        caller.require(ResourceGroup::Accounts, true)?;
        self.visible_account(caller, id).await?;
        self.scoped(caller)
            .update_account(id, &patch, self.clock.now())
            .await?
            .ok_or(ServiceError::NotFound { what: "Account" })
    }

    pub async fn move_account(
        &self,
        caller: &Caller,
        id: &AccountId,
        to: &ProfileId,
    ) -> ServiceResult<Account> {
        caller.require(ResourceGroup::Accounts, true)?;
        self.visible_account(caller, id).await?;
        if !caller.can_see_profile(to) {
            return Err(ServiceError::Forbidden {
                message: "This API key has no access to the target profile".into(),
                required_group: None,
            });
        }
        self.visible_profile(caller, to).await?;
        match self
            .scoped(caller)
            .move_account(id, to, self.clock.now())
            .await
        {
            Ok(Some(a)) => Ok(a),
            Ok(None) => Err(ServiceError::NotFound { what: "Account" }),
            Err(StoreError::Conflict { .. }) => Err(ServiceError::Conflict {
                code: "account_already_in_profile",
                message: "The target profile already has this account connected".into(),
                details: None,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Disconnects and removes the account. A second call finds nothing (404).
    pub async fn delete_account(&self, caller: &Caller, id: &AccountId) -> ServiceResult<Account> {
        caller.require(ResourceGroup::Accounts, true)?;
        let before = self.visible_account(caller, id).await?;
        let removed = self
            .scoped(caller)
            .remove_account(
                id,
                Some(&AccountEvent::disconnected(
                    self.clock.now(),
                    true,
                    "Disconnected by the user",
                )),
                self.clock.now(),
            )
            .await?
            .ok_or(ServiceError::NotFound { what: "Account" })?;
        tracing::info!(account = %id, platform = %removed.platform, "account disconnected");
        // The account is gone whatever the platform says: revocation is a courtesy to the
        // user (the grant stops working at once), done after the removal is certain.
        self.revoke_at_platform(&before).await;
        Ok(removed)
    }
}
