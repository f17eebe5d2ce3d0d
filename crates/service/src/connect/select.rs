//! Pending selections: what the integrator's picker or the hosted page lists, and the pick
//! that turns a login into one or more accounts.

#![allow(
    clippy::result_large_err,
    reason = "a ConnectError ends a browser flow once; its size does not matter there"
)]

use super::callback::{internal, pending_context, reconnect_mismatch, success_params};
use super::outcome::with_params;
use super::session::{
    AccountTokens, CONNECT_TOKEN_KIND, ConnectToken, ConnectTokenRecord, PENDING_KIND,
    PendingRecord, PendingSecrets, PendingToken, nonce_hash,
};
use crate::auth::ResourceGroup;
use crate::{Caller, ServiceError, ServiceResult, Services};
use chrono::{DateTime, Utc};
use plugboard_core::{ApiKeyId, OwnerId, Platform, ProfileId, RedirectUrl, Sealed};
use plugboard_platforms::{Destination, Identity, SelectionKind, TokenSet};
use plugboard_store::{Account, OneTimeRecord};
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;
use url::Url;

/// Who is picking.
#[derive(Debug, Clone, Copy)]
pub enum SelectAuthority<'a> {
    /// An API key (Bearer) or a connect token resolved to the key that started the flow.
    Caller(&'a Caller),
    /// The hosted page, in the browser that came back from the platform (cookie nonce).
    Browser { nonce: &'a str },
}

/// One pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// A listed destination, by id.
    Destination(String),
    /// LinkedIn: the member's own profile rather than an organization.
    Personal,
}

/// A pending selection as listings show it (no tokens).
#[derive(Debug, Clone)]
pub struct PendingView {
    pub platform: Platform,
    pub profile_id: ProfileId,
    pub kind: SelectionKind,
    pub identity: Identity,
    pub destinations: Vec<Destination>,
    pub expires_at: DateTime<Utc>,
    pub headless: bool,
    pub has_redirect: bool,
}

#[derive(Debug, Clone)]
pub struct Selected {
    pub account: Account,
    /// The picked destination (`None` for LinkedIn's personal profile).
    pub destination: Option<Destination>,
}

#[derive(Debug)]
pub struct SelectOutcome {
    pub platform: Platform,
    pub selected: Vec<Selected>,
    /// The flow's redirect with the result parameters, when there is one.
    pub redirect: Option<Url>,
}

/// Where a pick lands: the account identity and how it shows.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    pub platform_user_id: String,
    pub destination_id: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub picture: Option<String>,
    pub url: Option<String>,
}

impl Services {
    /// `GET /v1/connect/pending-data`: public, the token is the capability (Zernio).
    pub async fn pending_data(&self, raw: &str) -> ServiceResult<PendingView> {
        let (_, record, expires_at, _) = self.load_pending(raw).await?;
        view(record, expires_at)
    }

    /// A pending selection the authority may use, of this platform (and profile, when
    /// named).
    pub async fn pending_for(
        &self,
        authority: SelectAuthority<'_>,
        platform: Platform,
        raw: &str,
        profile_id: Option<&ProfileId>,
    ) -> ServiceResult<PendingView> {
        let (owner, record, expires_at, _) = self.load_pending(raw).await?;
        self.authorize_pending(authority, platform, &owner, &record, profile_id)?;
        view(record, expires_at)
    }

    /// Turns the pending login into accounts, one per choice. Everything is checked before
    /// the pending selection is taken, so a bad pick changes nothing and can be retried.
    #[tracing::instrument(name = "connect.select", skip_all, fields(platform = %platform))]
    pub async fn select_destinations(
        &self,
        authority: SelectAuthority<'_>,
        platform: Platform,
        raw: &str,
        profile_id: Option<&ProfileId>,
        choices: Vec<Choice>,
        redirect_override: Option<RedirectUrl>,
    ) -> ServiceResult<SelectOutcome> {
        let (owner, record, _, token) = self.load_pending(raw).await?;
        self.authorize_pending(authority, platform, &owner, &record, profile_id)?;
        if let SelectAuthority::Caller(c) = authority {
            c.require(ResourceGroup::Accounts, true)?;
        }
        if choices.is_empty() {
            return Err(ServiceError::invalid(
                "pageId",
                "pick at least one destination",
            ));
        }
        let mut picks = Vec::new();
        for choice in &choices {
            let dest = match choice {
                Choice::Personal if record.kind == SelectionKind::LinkedinOrganization => None,
                Choice::Personal => {
                    return Err(ServiceError::invalid(
                        "accountType",
                        "only LinkedIn offers a personal profile",
                    ));
                }
                Choice::Destination(id) => Some(
                    record
                        .destinations
                        .iter()
                        .find(|d| &d.id == id)
                        .cloned()
                        .ok_or(ServiceError::NotFound {
                            what: not_found_what(record.kind),
                        })?,
                ),
            };
            if record.kind == SelectionKind::InstagramAccount
                && dest
                    .as_ref()
                    .is_some_and(|d| instagram_account(d).is_none())
            {
                return Err(ServiceError::invalid(
                    "pageId",
                    "that Page has no linked Instagram professional account",
                ));
            }
            picks.push(dest);
        }
        let reconnect = self
            .reconnect_target(&owner, &record.flow)
            .await
            .map_err(super::callback::connect_error_to_service)?;
        if reconnect.is_some() && picks.len() > 1 {
            return Err(ServiceError::invalid(
                "pageIds",
                "a reconnect picks exactly one destination",
            ));
        }
        let placed: Vec<Placed> = picks
            .iter()
            .map(|d| place(record.kind, &record.identity, d.as_ref()))
            .collect();
        // Zernio honours expectedUsername / expectedPlatformUserId at Instagram's selection
        // (the login is Facebook's; the account is the picked one).
        if record.kind == SelectionKind::InstagramAccount {
            for p in &placed {
                let picked = Identity {
                    platform_user_id: p.platform_user_id.clone(),
                    username: p.username.clone(),
                    ..Identity::default()
                };
                super::callback::check_expected(&record.flow, &picked)
                    .map_err(super::callback::connect_error_to_service)?;
            }
        }
        if let Some(target) = &reconnect {
            let p = &placed[0];
            if target.platform_user_id != p.platform_user_id
                || target.destination_id != p.destination_id
            {
                return Err(super::callback::connect_error_to_service(
                    reconnect_mismatch(&record.identity),
                ));
            }
        }

        // Taken once: of concurrent picks of one login, exactly one goes on.
        let now = self.clock.now();
        let taken = self
            .store
            .consume_one_time(PENDING_KIND, &token.hash(), now)
            .await?;
        if taken.is_none() {
            return Err(ServiceError::NotFound {
                what: "Pending selection",
            });
        }
        let secrets: PendingSecrets = self
            .keyring
            .open_json(
                &pending_context(&token.hash()),
                &Sealed::from_stored(record.sealed.clone()),
            )
            .map_err(|e| ServiceError::Internal(format!("opening a pending selection: {e}")))?;

        let mut selected = Vec::new();
        for (dest, p) in picks.into_iter().zip(placed) {
            let tokens = account_tokens(record.kind, &secrets, dest.as_ref());
            let metadata = selection_metadata(record.kind, dest.as_ref());
            let account = self
                .store_account(
                    &owner,
                    &record.flow,
                    &record.identity,
                    Some(&p),
                    tokens,
                    metadata,
                )
                .await?;
            selected.push(Selected {
                account,
                destination: dest,
            });
        }
        let redirect = redirect_override
            .or_else(|| {
                record
                    .flow
                    .redirect_url
                    .as_deref()
                    .and_then(|r| RedirectUrl::parse(r).ok())
            })
            .map(|r| with_params(&r, &success_params(&selected[0].account, "select_page")));
        Ok(SelectOutcome {
            platform,
            selected,
            redirect,
        })
    }

    /// Resolves an `X-Connect-Token` to the key that started the flow, if that key is still
    /// valid.
    pub async fn authenticate_connect_token(&self, raw: &str) -> ServiceResult<Caller> {
        const INVALID: &str = "Invalid or expired connect token";
        let token =
            ConnectToken::parse(raw).ok_or(ServiceError::Unauthenticated { message: INVALID })?;
        let record = self
            .store
            .get_one_time(CONNECT_TOKEN_KIND, &token.hash(), self.clock.now())
            .await?
            .ok_or(ServiceError::Unauthenticated { message: INVALID })?;
        let owner = record
            .owner_id
            .clone()
            .ok_or(ServiceError::Unauthenticated { message: INVALID })?;
        let payload: ConnectTokenRecord = serde_json::from_value(record.payload)
            .map_err(|_| ServiceError::Unauthenticated { message: INVALID })?;
        let key_id = ApiKeyId::parse(&payload.key_id)
            .map_err(|_| ServiceError::Unauthenticated { message: INVALID })?;
        let key = self
            .store
            .list_api_keys(&owner)
            .await?
            .into_iter()
            .find(|k| k.id == key_id)
            .filter(|k| k.expires_at.is_none_or(|at| at > self.clock.now()))
            .ok_or_else(|| {
                tracing::info!(target: "security", reason = "connect token of a revoked key", "connect token rejected");
                ServiceError::Unauthenticated { message: INVALID }
            })?;
        Ok(Caller::from_key(&key))
    }

    async fn load_pending(
        &self,
        raw: &str,
    ) -> ServiceResult<(OwnerId, PendingRecord, DateTime<Utc>, PendingToken)> {
        let missing = ServiceError::NotFound {
            what: "Pending selection",
        };
        let Some(token) = PendingToken::parse(raw) else {
            return Err(missing);
        };
        let Some(OneTimeRecord {
            owner_id: Some(owner),
            payload,
            expires_at,
            ..
        }) = self
            .store
            .get_one_time(PENDING_KIND, &token.hash(), self.clock.now())
            .await?
        else {
            return Err(missing);
        };
        let record: PendingRecord = serde_json::from_value(payload)
            .map_err(|e| ServiceError::Internal(format!("pending selection: {e}")))?;
        Ok((owner, record, expires_at, token))
    }

    fn authorize_pending(
        &self,
        authority: SelectAuthority<'_>,
        platform: Platform,
        owner: &OwnerId,
        record: &PendingRecord,
        profile_id: Option<&ProfileId>,
    ) -> ServiceResult<()> {
        let missing = ServiceError::NotFound {
            what: "Pending selection",
        };
        if record.flow.platform != platform {
            return Err(missing);
        }
        if let Some(p) = profile_id
            && p.as_str() != record.flow.profile_id
        {
            return Err(ServiceError::Forbidden {
                message: "This selection belongs to another profile".into(),
                required_group: None,
            });
        }
        match authority {
            SelectAuthority::Caller(c) => {
                c.require(ResourceGroup::Accounts, false)?;
                let profile =
                    ProfileId::parse(&record.flow.profile_id).map_err(|_| internal_error())?;
                if &c.owner != owner || !c.can_see_profile(&profile) {
                    tracing::info!(target: "security", reason = "pending selection of another owner or profile", "selection refused");
                    return Err(missing);
                }
            }
            SelectAuthority::Browser { nonce } => {
                let expected = record.browser.as_deref().unwrap_or_default();
                let presented = nonce_hash(nonce);
                if expected.is_empty()
                    || !bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
                {
                    tracing::info!(target: "security", reason = "hosted picker opened without its browser cookie", "selection refused");
                    return Err(ServiceError::Forbidden {
                        message: "This selection page belongs to another browser session".into(),
                        required_group: None,
                    });
                }
            }
        }
        Ok(())
    }
}

fn internal_error() -> ServiceError {
    ServiceError::Internal(internal().message)
}

fn view(record: PendingRecord, expires_at: DateTime<Utc>) -> ServiceResult<PendingView> {
    Ok(PendingView {
        platform: record.flow.platform,
        profile_id: ProfileId::parse(&record.flow.profile_id)
            .map_err(|e| ServiceError::Internal(e.to_string()))?,
        kind: record.kind,
        identity: record.identity,
        destinations: record.destinations,
        expires_at,
        headless: record.flow.headless,
        has_redirect: record.flow.redirect_url.is_some(),
    })
}

fn not_found_what(kind: SelectionKind) -> &'static str {
    match kind {
        SelectionKind::FacebookPage | SelectionKind::InstagramAccount => "Page",
        SelectionKind::LinkedinOrganization => "Organization",
        SelectionKind::PinterestBoard => "Board",
        SelectionKind::GoogleBusinessLocation => "Location",
        SelectionKind::SnapchatPublicProfile => "Public profile",
        SelectionKind::WhatsAppPhoneNumber => "Phone number",
    }
}

fn str_of(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// The Instagram professional account linked to a Page (Instagram through Facebook Login).
pub(crate) fn instagram_account(d: &Destination) -> Option<&Map<String, Value>> {
    d.extra
        .get("instagram_business_account")
        .and_then(Value::as_object)
        .filter(|ig| ig.get("id").and_then(Value::as_str).is_some())
}

/// The account a pick becomes (ARCHITECTURE: unique per profile, platform, platform user
/// id and destination).
pub(crate) fn place(
    kind: SelectionKind,
    identity: &Identity,
    dest: Option<&Destination>,
) -> Placed {
    let own = Placed {
        platform_user_id: identity.platform_user_id.clone(),
        destination_id: String::new(),
        username: identity.username.clone(),
        display_name: identity.display_name.clone(),
        picture: identity.profile_picture.clone(),
        url: identity.profile_url.clone(),
    };
    let Some(d) = dest else {
        return own;
    };
    match kind {
        // The board is the account's default board, not its identity: one Pinterest
        // account per Pinterest user.
        SelectionKind::PinterestBoard => own,
        SelectionKind::InstagramAccount => {
            let ig = instagram_account(d).cloned().unwrap_or_default();
            let username = str_of(&ig, "username");
            Placed {
                platform_user_id: str_of(&ig, "id").unwrap_or_default(),
                destination_id: String::new(),
                display_name: str_of(&ig, "name")
                    .or_else(|| username.clone())
                    .or_else(|| Some(d.name.clone())),
                picture: str_of(&ig, "profile_picture_url"),
                url: username
                    .as_ref()
                    .map(|u| format!("https://www.instagram.com/{u}")),
                username,
            }
        }
        SelectionKind::LinkedinOrganization => Placed {
            platform_user_id: identity.platform_user_id.clone(),
            destination_id: d.id.clone(),
            username: str_of(&d.extra, "vanityName").or_else(|| Some(d.name.clone())),
            display_name: Some(d.name.clone()),
            picture: d.picture.clone().or_else(|| str_of(&d.extra, "logoUrl")),
            url: d.url.clone(),
        },
        // The number is the account: the same number connected from credentials is the
        // same account.
        SelectionKind::WhatsAppPhoneNumber => Placed {
            platform_user_id: d.id.clone(),
            destination_id: String::new(),
            username: str_of(&d.extra, "displayPhoneNumber").or_else(|| Some(d.name.clone())),
            display_name: str_of(&d.extra, "verifiedName").or_else(|| Some(d.name.clone())),
            picture: None,
            url: None,
        },
        SelectionKind::FacebookPage
        | SelectionKind::GoogleBusinessLocation
        | SelectionKind::SnapchatPublicProfile => Placed {
            platform_user_id: identity.platform_user_id.clone(),
            destination_id: d.id.clone(),
            username: d.username.clone().or_else(|| Some(d.name.clone())),
            display_name: Some(d.name.clone()),
            picture: d.picture.clone().or_else(|| own.picture.clone()),
            url: d.url.clone(),
        },
    }
}

/// The Page's own token acts for Page accounts (and the Instagram account behind it); the
/// user token is kept to list Pages again later.
pub(crate) fn account_tokens(
    kind: SelectionKind,
    secrets: &PendingSecrets,
    dest: Option<&Destination>,
) -> AccountTokens {
    let page_token = dest.and_then(|d| secrets.destination_tokens.get(&d.id));
    match (kind, page_token) {
        (SelectionKind::FacebookPage | SelectionKind::InstagramAccount, Some(t)) => AccountTokens {
            tokens: TokenSet {
                access_token: t.clone(),
                refresh_token: None,
                // Page tokens from a long-lived user token do not expire (platforms.md §3).
                expires_at: None,
                refresh_expires_at: None,
                scopes: secrets.tokens.scopes.clone(),
                user_id: None,
            },
            login: Some(secrets.tokens.clone()),
        },
        _ => AccountTokens {
            tokens: secrets.tokens.clone(),
            login: None,
        },
    }
}

/// What Zernio shows of the pick on the account (shared/api-scope.md §2.1, §4).
pub(crate) fn selection_metadata(
    kind: SelectionKind,
    dest: Option<&Destination>,
) -> Map<String, Value> {
    let mut m = Map::new();
    let Some(d) = dest else {
        if kind == SelectionKind::LinkedinOrganization {
            m.insert("accountType".into(), json!("personal"));
        }
        return m;
    };
    match kind {
        SelectionKind::FacebookPage => {
            m.insert("selectedPageId".into(), json!(d.id));
            m.insert("selectedPageName".into(), json!(d.name));
            if let Some(c) = d.extra.get("category") {
                m.insert("pageCategory".into(), c.clone());
            }
        }
        SelectionKind::InstagramAccount => {
            m.insert("pageId".into(), json!(d.id));
            m.insert("pageName".into(), json!(d.name));
        }
        SelectionKind::LinkedinOrganization => {
            m.insert("accountType".into(), json!("organization"));
            m.insert("organizationId".into(), json!(d.id));
            m.insert("organizationName".into(), json!(d.name));
            if let Some(urn) = d.extra.get("urn") {
                m.insert("organizationUrn".into(), urn.clone());
            }
            if let Some(v) = d.extra.get("vanityName") {
                m.insert("organizationInfo".into(), json!({"vanityName": v}));
            }
        }
        SelectionKind::PinterestBoard => {
            m.insert("defaultBoardId".into(), json!(d.id));
            m.insert("defaultBoardName".into(), json!(d.name));
        }
        SelectionKind::GoogleBusinessLocation => {
            m.insert("selectedLocationId".into(), json!(d.id));
            m.insert("selectedLocationName".into(), json!(d.name));
            for (from, to) in [
                ("accountId", "googleAccountId"),
                ("address", "address"),
                ("storeCode", "storeCode"),
            ] {
                if let Some(v) = d.extra.get(from) {
                    m.insert(to.into(), v.clone());
                }
            }
        }
        SelectionKind::WhatsAppPhoneNumber => {
            m.insert("phoneNumberId".into(), json!(d.id));
            for k in [
                "wabaId",
                "displayPhoneNumber",
                "verifiedName",
                "qualityRating",
                "nameStatus",
                "messagingLimitTier",
            ] {
                if let Some(v) = d.extra.get(k).filter(|v| !v.is_null()) {
                    m.insert(k.into(), v.clone());
                }
            }
        }
        SelectionKind::SnapchatPublicProfile => {
            m.insert("publicProfileId".into(), json!(d.id));
            m.insert("publicProfileName".into(), json!(d.name));
            if let Some(v) = d.extra.get("subscriber_count") {
                m.insert("subscriberCount".into(), v.clone());
            }
        }
    }
    m
}
