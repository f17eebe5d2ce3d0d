//! Changing a connected account's destination without a new OAuth (shared/api-scope.md
//! §7): list what the account's login reaches now, and point the account at another
//! Page, organization, board or location. The account keeps its id.

#![allow(
    clippy::result_large_err,
    reason = "ConnectError values are converted at once; their size does not matter"
)]

use super::select::{Choice, account_tokens, place, selection_metadata};
use super::session::{AccountTokens, PendingSecrets, parse_login_method};
use crate::auth::ResourceGroup;
use crate::{Caller, ServiceError, ServiceResult, Services};
use plugboard_core::{AccountId, Platform};
use plugboard_platforms::{ConnectorError, Destination, Flavor, Identity, SelectionKind};
use plugboard_store::{Account, AccountRetarget, StoreError};
use std::collections::BTreeMap;

/// Metadata keys a selection writes; cleared before a new selection's are set, so an
/// organization page does not keep a personal profile's `accountType`, and so on.
const SELECTION_KEYS: &[&str] = &[
    "selectedPageId",
    "selectedPageName",
    "pageCategory",
    "pageId",
    "pageName",
    "accountType",
    "organizationId",
    "organizationName",
    "organizationUrn",
    "organizationInfo",
    "defaultBoardId",
    "defaultBoardName",
    "selectedLocationId",
    "selectedLocationName",
    "googleAccountId",
    "address",
    "storeCode",
    "publicProfileId",
    "publicProfileName",
    "subscriberCount",
    "phoneNumberId",
    "wabaId",
    "displayPhoneNumber",
    "verifiedName",
    "qualityRating",
    "nameStatus",
    "messagingLimitTier",
];

/// What an account's login reaches now.
#[derive(Debug)]
pub struct AccountDestinations {
    pub account: Account,
    pub kind: SelectionKind,
    pub destinations: Vec<Destination>,
}

fn platform_error(e: ConnectorError) -> ServiceError {
    match e {
        ConnectorError::InvalidGrant { .. } => ServiceError::Conflict {
            code: "reconnect_required",
            message: "The platform no longer accepts this account's token; reconnect it with reconnectAccountId".into(),
            details: None,
        },
        ConnectorError::PermissionDenied { description } => ServiceError::Upstream {
            code: "missing_permissions",
            message: "The account's grant lacks a permission this listing needs; reconnect it".into(),
            details: Some(description),
        },
        other => ServiceError::Upstream {
            code: "platform_error",
            message: "The platform could not list the account's destinations; try again".into(),
            details: Some(other.to_string()),
        },
    }
}

impl Services {
    pub async fn account_destinations(
        &self,
        caller: &Caller,
        id: &AccountId,
        platform: Platform,
    ) -> ServiceResult<AccountDestinations> {
        let account = self.get_account(caller, id).await?;
        let (kind, destinations, _, _) = self.live_destinations(&account, platform).await?;
        Ok(AccountDestinations {
            account,
            kind,
            destinations,
        })
    }

    /// Points the account at `choice` among what its login reaches now.
    pub async fn switch_destination(
        &self,
        caller: &Caller,
        id: &AccountId,
        platform: Platform,
        choice: Choice,
    ) -> ServiceResult<(Account, Option<Destination>)> {
        caller.require(ResourceGroup::Accounts, true)?;
        let account = self.get_account(caller, id).await?;
        crate::accounts::require_active(&account)?;
        let (kind, destinations, login, identity) =
            self.live_destinations(&account, platform).await?;
        let dest = match choice {
            Choice::Personal if kind == SelectionKind::LinkedinOrganization => None,
            Choice::Personal => {
                return Err(ServiceError::invalid(
                    "accountType",
                    "only LinkedIn offers a personal profile",
                ));
            }
            Choice::Destination(want) => Some(
                destinations
                    .iter()
                    .find(|d| d.id == want)
                    .cloned()
                    .ok_or_else(|| ServiceError::BadRequest {
                        code: "destination_not_available",
                        message: format!(
                            "{want} is not among the destinations this account's login can reach"
                        ),
                        param: Some("selectedId"),
                    })?,
            ),
        };
        let placed = place(kind, &identity, dest.as_ref());
        if placed.platform_user_id != account.platform_user_id {
            return Err(ServiceError::Conflict {
                code: "reconnect_account_mismatch",
                message: "The account's login now belongs to another platform user; reconnect it"
                    .into(),
                details: None,
            });
        }
        let mut destination_tokens = BTreeMap::new();
        for d in &destinations {
            if let Some(t) = &d.access_token {
                destination_tokens.insert(d.id.clone(), t.clone());
            }
        }
        let secrets = PendingSecrets {
            tokens: login,
            destination_tokens,
        };
        let tokens = account_tokens(kind, &secrets, dest.as_ref());
        let mut metadata = account.metadata.clone();
        for k in SELECTION_KEYS {
            metadata.remove(*k);
        }
        metadata.extend(selection_metadata(kind, dest.as_ref()));
        let context = Account::tokens_context(
            &account.owner_id,
            platform,
            &placed.platform_user_id,
            &placed.destination_id,
        );
        let change = AccountRetarget {
            destination_id: placed.destination_id,
            username: placed.username,
            display_name: placed.display_name,
            profile_picture: placed.picture,
            profile_url: placed.url,
            metadata,
            token_expires_at: tokens.tokens.expires_at,
            tokens: Some(self.keyring.seal_json(&context, &tokens)),
        };
        match self
            .scoped(caller)
            .retarget_account(id, &change, self.clock.now())
            .await
        {
            Ok(Some(a)) => {
                tracing::info!(account = %a.id, platform = %platform, "account destination changed");
                Ok((a, dest))
            }
            Ok(None) => Err(ServiceError::NotFound { what: "Account" }),
            Err(StoreError::Conflict { .. }) => Err(ServiceError::Conflict {
                code: "destination_already_connected",
                message: "Another account of this profile is already connected to that destination"
                    .into(),
                details: None,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Lists live with the account's login token; also returns that token and the login's
    /// identity, read again from the platform.
    async fn live_destinations(
        &self,
        account: &Account,
        platform: Platform,
    ) -> ServiceResult<(
        SelectionKind,
        Vec<Destination>,
        plugboard_platforms::TokenSet,
        Identity,
    )> {
        if account.platform != platform {
            return Err(ServiceError::BadRequest {
                code: "wrong_platform",
                message: format!(
                    "This is a {} account, not a {platform} account",
                    account.platform
                ),
                param: Some("accountId"),
            });
        }
        let ctx = self.connect_context()?;
        let login = account
            .metadata
            .get("loginMethod")
            .and_then(|v| v.as_str())
            .and_then(parse_login_method)
            .unwrap_or_default();
        let connector = ctx
            .connector(platform, Flavor::from(login))
            .ok_or_else(|| ServiceError::NotConfigured {
                message: format!("{platform} is not configured on this server"),
            })?;
        let kind = connector
            .selection()
            .ok_or_else(|| ServiceError::BadRequest {
                code: "wrong_platform",
                message: format!("{platform} accounts have no destination to choose"),
                param: Some("accountId"),
            })?;
        let sealed = account
            .tokens
            .as_ref()
            .ok_or_else(|| ServiceError::Conflict {
                code: "reconnect_required",
                message: "This account holds no token; reconnect it".into(),
                details: None,
            })?;
        let tokens: AccountTokens = self
            .keyring
            .open_json(&account.own_tokens_context(), sealed)
            .map_err(|e| ServiceError::Internal(format!("opening account tokens: {e}")))?;
        let login_tokens = tokens.login.unwrap_or(tokens.tokens);
        let identity = connector
            .identity(&login_tokens)
            .await
            .map_err(platform_error)?;
        let destinations = connector
            .destinations(&login_tokens, &identity)
            .await
            .map_err(platform_error)?;
        Ok((kind, destinations, login_tokens, identity))
    }
}
