//! The Meta ads-only flow (`GET /v1/connect/facebook/ads`, shared/api-scope.md §3.4): a
//! `metaads` account beside the Facebook account, on the same login, with an optional
//! allowlist of ad accounts, and an initial sync in the background that ends with the
//! `account.ads.initial_sync_completed` webhook.
//!
//! When the profile already has a Facebook account whose login granted the ads
//! permissions, no new login is needed (`alreadyConnected`). Otherwise the user logs in
//! with the Pages and ads permissions; the first Page (or `pageId`) becomes the Facebook
//! account without a picker, as Zernio does headlessly, and the ads account is made beside
//! it.

use super::callback::{Finished, internal, upstream};
use super::session::{AccountTokens, AdsFlow, FlowRecord, PendingSecrets};
use super::start::{StartConnect, StartedConnect};
use crate::auth::ResourceGroup;
use crate::text::truncated;
use crate::{Caller, ServiceError, ServiceResult, Services};
use chrono::Duration;
use plugboard_core::{AccountId, OwnerId, Platform, ProfileId, RedirectUrl};
use plugboard_platforms::facebook::{ADS_SCOPES, is_ad_account_id};
use plugboard_platforms::instagram::LoginMethod;
use plugboard_platforms::{
    AdAccount, Connector, ConnectorError, Flavor, Identity, SelectionKind, TokenSet,
};
use plugboard_store::outbox::new_event_id;
use plugboard_store::{Account, AccountEvent, AccountQuery, AccountUpsert, Job, QueuedEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

/// Job kind of the initial sync of a new ads account.
pub const ADS_SYNC_JOB: &str = "ads.initial_sync";
/// Account metadata key of the persisted allowlist (absent: every ad account).
const SCOPE_KEY: &str = "scopedAdAccountIds";
const SYNC_LEASE: Duration = Duration::seconds(300);
/// Tries of a sync the platform throttles or fails transiently, before it reports failure.
const SYNC_ATTEMPTS: u32 = 5;
/// How much of a platform's message a sync event carries (Zernio: about 2 KB).
const MAX_ERROR: usize = 2000;

/// A validated `GET /v1/connect/{platform}/ads`.
#[derive(Debug, Clone)]
pub struct StartAdsConnect {
    pub platform: Platform,
    pub profile_id: ProfileId,
    pub redirect_url: Option<RedirectUrl>,
    pub headless: bool,
    pub force: bool,
    /// The posting account to put the ads account beside, when the profile has several.
    pub account_id: Option<AccountId>,
    pub page_id: Option<String>,
    /// `None` when neither `adAccountId` nor `adAccountIds` was sent.
    pub ad_account_ids: Option<Vec<String>>,
    /// `loginMode=business` (Facebook Login for Business).
    pub business_login: bool,
}

#[derive(Debug)]
pub enum AdsConnectStarted {
    /// The Facebook login already has the ads permissions: the ads account exists now.
    AlreadyConnected {
        account: Box<Account>,
        scoped_ad_account_ids: Option<Vec<String>>,
    },
    /// The user must log in (again) with the ads permissions.
    Authorize(StartedConnect),
}

/// The initial sync's work item: the ads account by identity (it may not exist yet when
/// the job is queued, and may be gone when it runs).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncJob {
    owner_id: OwnerId,
    profile_id: ProfileId,
    platform_user_id: String,
    /// Fixed when queued, so a sync that runs twice tells it once.
    event_id: String,
}

/// `act_<digits>`, or bare digits which get the prefix; anything else is refused.
pub fn normalize_ad_account_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let id = if raw.bytes().all(|b| b.is_ascii_digit()) && !raw.is_empty() {
        format!("act_{raw}")
    } else {
        raw.to_owned()
    };
    is_ad_account_id(&id).then_some(id)
}

fn has_ads_permissions(scopes: &[String]) -> bool {
    ADS_SCOPES.iter().all(|s| scopes.iter().any(|g| g == s))
}

/// Every requested ad account must be visible to the login, and usable.
fn check_scope(requested: &[String], visible: &[AdAccount]) -> ServiceResult<()> {
    for id in requested {
        match visible.iter().find(|a| &a.id == id) {
            None => {
                return Err(ServiceError::BadRequest {
                    code: "invalid_field_value",
                    message: format!("Ad account {id} is not visible to this Facebook login"),
                    param: Some("adAccountIds"),
                });
            }
            Some(a) if !a.is_usable() => {
                return Err(ServiceError::BadRequestWithDetails {
                    code: "ad_account_unusable",
                    message: format!(
                        "Ad account {id} cannot be used (account_status {})",
                        a.status
                    ),
                    param: Some("adAccountIds"),
                    details: Box::new(json!({
                        "adAccountId": id,
                        "accountStatus": a.status,
                        "disableReason": a.disable_reason,
                    })),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The persisted allowlist of an ads account.
fn persisted_scope(account: &Account) -> Option<Vec<String>> {
    account.metadata.get(SCOPE_KEY).and_then(|v| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
    })
}

impl Services {
    fn facebook(&self) -> ServiceResult<Arc<dyn Connector>> {
        self.connect_context()?
            .connector(Platform::Facebook, Flavor::Standard)
            .ok_or_else(|| ServiceError::NotConfigured {
                message: "facebook is not configured on this server: set PLUGBOARD_FACEBOOK_CLIENT_ID and PLUGBOARD_FACEBOOK_CLIENT_SECRET, or enable the sandbox".into(),
            })
    }

    pub async fn start_ads_connect(
        &self,
        caller: &Caller,
        req: StartAdsConnect,
    ) -> ServiceResult<AdsConnectStarted> {
        caller.require(ResourceGroup::Accounts, true)?;
        if req.platform != Platform::Facebook {
            return Err(ServiceError::BadRequest {
                code: "unsupported_platform",
                message: format!(
                    "ads connections are available for facebook (Meta ads) on this server, not {}",
                    req.platform
                ),
                param: Some("platform"),
            });
        }
        if req.business_login {
            return Err(ServiceError::Unavailable {
                code: "business_login_not_configured",
                message: "Facebook Login for Business (loginMode=business) is not configured on this server; use loginMode=classic".into(),
            });
        }
        self.visible_profile(caller, &req.profile_id).await?;
        let connector = self.facebook()?;
        if req.headless && req.redirect_url.is_none() {
            return Err(ServiceError::BadRequest {
                code: "INVALID_REDIRECT_URL",
                message: "headless mode hands the login back on redirect_url; give one".into(),
                param: Some("redirect_url"),
            });
        }
        let parent = self.ads_parent(caller, &req).await?;
        if let Some(parent) = parent
            && !req.force
            && !parent.needs_reconnection
            && has_ads_permissions(&parent.scopes)
        {
            let (account, scope) = self
                .ads_beside(&parent, connector.as_ref(), req.ad_account_ids.clone())
                .await?;
            return Ok(AdsConnectStarted::AlreadyConnected {
                account: Box::new(account),
                scoped_ad_account_ids: scope,
            });
        }
        let start = StartConnect {
            platform: Platform::Facebook,
            profile_id: req.profile_id.clone(),
            redirect_url: req.redirect_url.clone(),
            headless: req.headless,
            login_method: LoginMethod::InstagramLogin,
            force_reauth: req.force,
            reconnect_account_id: None,
            expected_platform_user_id: None,
            expected_username: None,
        };
        let ads = AdsFlow {
            ad_account_ids: req.ad_account_ids.clone(),
            page_id: req.page_id.clone(),
        };
        let started = self
            .open_session(
                caller,
                &start,
                &connector,
                LoginMethod::InstagramLogin,
                ADS_SCOPES,
                super::start::FlowOptions {
                    ads: Some(ads),
                    all_destinations: false,
                },
            )
            .await?;
        Ok(AdsConnectStarted::Authorize(started))
    }

    /// The Facebook account the ads account goes beside: the one named, or the profile's
    /// first active one.
    async fn ads_parent(
        &self,
        caller: &Caller,
        req: &StartAdsConnect,
    ) -> ServiceResult<Option<Account>> {
        if let Some(id) = &req.account_id {
            let a = self.get_account(caller, id).await?;
            if a.platform != Platform::Facebook || a.profile_id != req.profile_id {
                return Err(ServiceError::invalid(
                    "accountId",
                    "accountId must be a Facebook account of this profile",
                ));
            }
            return Ok(Some(a));
        }
        let q = AccountQuery {
            profile_ids: Some(vec![req.profile_id.clone()]),
            platforms: Some(vec![Platform::Facebook]),
            ..Default::default()
        };
        let page = self.scoped(caller).list_accounts(&q).await?;
        Ok(page.accounts.into_iter().find(|a| a.is_active))
    }

    /// The ads account of a Facebook account whose login has the ads permissions, made or
    /// updated now; returns it and the allowlist in force.
    async fn ads_beside(
        &self,
        parent: &Account,
        connector: &dyn Connector,
        requested: Option<Vec<String>>,
    ) -> ServiceResult<(Account, Option<Vec<String>>)> {
        let sealed = parent.tokens.as_ref().ok_or_else(reconnect_required)?;
        let tokens: AccountTokens = self
            .keyring
            .open_json(&parent.own_tokens_context(), sealed)
            .map_err(|e| ServiceError::Internal(format!("opening account tokens: {e}")))?;
        let login = tokens.login.unwrap_or(tokens.tokens);
        let visible = match connector.ad_accounts(&login).await {
            Ok(v) => v,
            Err(ConnectorError::InvalidGrant { .. }) => return Err(reconnect_required()),
            Err(e) => {
                return Err(ServiceError::Upstream {
                    code: "platform_error",
                    message: "Facebook did not list the ad accounts".into(),
                    details: Some(e.to_string()),
                });
            }
        };
        if let Some(r) = &requested {
            check_scope(r, &visible)?;
        }
        let user_id = login
            .user_id
            .clone()
            .unwrap_or_else(|| parent.platform_user_id.clone());
        let identity = Identity {
            platform_user_id: user_id,
            username: None,
            display_name: parent.display_name.clone(),
            profile_picture: parent.profile_picture.clone(),
            profile_url: None,
            followers_count: None,
            metadata: Default::default(),
        };
        let account = self
            .upsert_ads_account(
                &parent.owner_id,
                &parent.profile_id,
                Some(&parent.id),
                &identity,
                login,
                requested,
            )
            .await?;
        let scope = persisted_scope(&account);
        Ok((account, scope))
    }

    /// Makes or updates the `metaads` account of a Facebook login; a new one gets its
    /// initial sync queued (before it exists, so no crash leaves it without one) and an
    /// `account.connected` event.
    async fn upsert_ads_account(
        &self,
        owner: &OwnerId,
        profile: &ProfileId,
        parent: Option<&AccountId>,
        identity: &Identity,
        login: TokenSet,
        requested: Option<Vec<String>>,
    ) -> ServiceResult<Account> {
        let existing = self
            .ads_account_of(owner, profile, &identity.platform_user_id)
            .await?;
        let scope = requested.or_else(|| existing.as_ref().and_then(persisted_scope));
        let now = self.clock.now();
        if existing.is_none() {
            let job = SyncJob {
                owner_id: owner.clone(),
                profile_id: profile.clone(),
                platform_user_id: identity.platform_user_id.clone(),
                event_id: new_event_id(now),
            };
            let payload =
                serde_json::to_value(&job).map_err(|e| ServiceError::Internal(e.to_string()))?;
            self.store
                .enqueue_job_once(
                    &format!("ads_sync:{profile}:{}", identity.platform_user_id),
                    ADS_SYNC_JOB,
                    &payload,
                    now,
                )
                .await?;
        }
        let mut metadata = serde_json::Map::new();
        if let Some(s) = &scope {
            metadata.insert(SCOPE_KEY.into(), json!(s));
        }
        let context =
            Account::tokens_context(owner, Platform::Metaads, &identity.platform_user_id, "");
        let sealed = self.keyring.seal_json(
            &context,
            &AccountTokens {
                tokens: login.clone(),
                login: None,
            },
        );
        let upsert = AccountUpsert {
            owner_id: owner.clone(),
            profile_id: profile.clone(),
            platform: Platform::Metaads,
            platform_user_id: identity.platform_user_id.clone(),
            destination_id: String::new(),
            username: identity
                .display_name
                .clone()
                .or_else(|| identity.username.clone()),
            display_name: identity.display_name.clone(),
            profile_picture: identity.profile_picture.clone(),
            profile_url: None,
            followers_count: None,
            parent_account_id: parent.cloned(),
            enabled: true,
            metadata,
            tokens: Some(sealed),
            token_expires_at: login.expires_at,
            scopes: login.scopes.clone(),
        };
        let event = existing.is_none().then(|| AccountEvent::connected(now));
        let account = self
            .store
            .upsert_account(&upsert, event.as_ref(), now)
            .await?;
        tracing::info!(account = %account.id, parent = ?parent.map(ToString::to_string), new = existing.is_none(), "ads account connected");
        Ok(account)
    }

    async fn ads_account_of(
        &self,
        owner: &OwnerId,
        profile: &ProfileId,
        platform_user_id: &str,
    ) -> ServiceResult<Option<Account>> {
        let q = AccountQuery {
            profile_ids: Some(vec![profile.clone()]),
            platforms: Some(vec![Platform::Metaads]),
            ..Default::default()
        };
        let page = self.store.list_accounts(owner, &q).await?;
        Ok(page
            .accounts
            .into_iter()
            .find(|a| a.platform_user_id == platform_user_id))
    }

    /// The callback of an ads login: the Page account without a picker, then the ads
    /// account beside it.
    pub(crate) async fn finish_ads_login(
        &self,
        owner: &OwnerId,
        flow: &FlowRecord,
        ads: &AdsFlow,
        connector: &dyn Connector,
        tokens: TokenSet,
        identity: Identity,
    ) -> Result<Finished, super::ConnectError> {
        let platform = Platform::Facebook;
        let visible = connector
            .ad_accounts(&tokens)
            .await
            .map_err(|e| upstream("connection_failed", platform, &e))?;
        if let Some(requested) = &ads.ad_account_ids {
            check_scope(requested, &visible).map_err(|e| {
                let code = match &e {
                    ServiceError::BadRequestWithDetails { code, .. }
                    | ServiceError::BadRequest { code, .. } => code,
                    _ => "invalid_field_value",
                };
                super::ConnectError::new(code, "callback", e.to_string()).user_fixable()
            })?;
        }
        let pages = connector
            .destinations(&tokens, &identity)
            .await
            .map_err(|e| upstream("facebook_pages_error", platform, &e))?;
        let page = match &ads.page_id {
            Some(id) => Some(pages.iter().find(|p| &p.id == id).ok_or_else(|| {
                super::ConnectError::new(
                    "page_not_found",
                    "callback",
                    "The pageId is not among the Pages this login granted",
                )
                .user_fixable()
            })?),
            None => pages.first(),
        };
        let profile = ProfileId::parse(&flow.profile_id).map_err(|_| internal())?;
        let parent = match page {
            None => None,
            Some(p) => {
                let kind = SelectionKind::FacebookPage;
                let placed = super::select::place(kind, &identity, Some(p));
                let mut destination_tokens = std::collections::BTreeMap::new();
                if let Some(t) = &p.access_token {
                    destination_tokens.insert(p.id.clone(), t.clone());
                }
                let secrets = PendingSecrets {
                    tokens: tokens.clone(),
                    destination_tokens,
                };
                let account_tokens = super::select::account_tokens(kind, &secrets, Some(p));
                let metadata = super::select::selection_metadata(kind, Some(p));
                let account = self
                    .store_account(
                        owner,
                        flow,
                        &identity,
                        Some(&placed),
                        account_tokens,
                        metadata,
                    )
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "cannot store the Facebook account");
                        internal()
                    })?;
                Some(account)
            }
        };
        let account = self
            .upsert_ads_account(
                owner,
                &profile,
                parent.as_ref().map(|p| &p.id),
                &identity,
                tokens,
                ads.ad_account_ids.clone(),
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot store the ads account");
                internal()
            })?;
        Ok(Finished::Connected(Box::new(account)))
    }

    /// One pass of initial ads syncs.
    pub async fn run_ads_syncs(&self, holder: &str) -> ServiceResult<u32> {
        let mut done = 0;
        while let Some(job) = self
            .store
            .claim_job(ADS_SYNC_JOB, holder, self.clock.now(), SYNC_LEASE)
            .await?
        {
            self.sync_one(&job, holder).await?;
            done += 1;
        }
        Ok(done)
    }

    async fn sync_one(&self, job: &Job, holder: &str) -> ServiceResult<()> {
        let Ok(spec) = serde_json::from_value::<SyncJob>(job.payload.clone()) else {
            tracing::error!(job = %job.id, "dropping an unreadable ads sync");
            self.store.complete_job(&job.id, holder).await?;
            return Ok(());
        };
        let Some(account) = self
            .ads_account_of(&spec.owner_id, &spec.profile_id, &spec.platform_user_id)
            .await?
        else {
            // The connect that queued it did not get as far as the account.
            self.store.complete_job(&job.id, holder).await?;
            return Ok(());
        };
        let outcome = match self.discover(&account).await {
            Ok(o) => o,
            Err(Transient(e)) if job.attempts < SYNC_ATTEMPTS => {
                let wait = Duration::minutes(1) * 2_i32.pow(job.attempts.min(10));
                tracing::info!(account = %account.id, error = %e, "ads sync deferred");
                self.store
                    .retry_job(&job.id, holder, self.clock.now() + wait)
                    .await?;
                return Ok(());
            }
            Err(Transient(e)) => Outcome::failed(
                if e.contains("rate") {
                    "rate_limited"
                } else {
                    "discovery_failed"
                },
                e,
            ),
        };
        let body = outcome.event_fields(&account);
        let profile = self
            .store
            .get_profile(&account.owner_id, &account.profile_id)
            .await?;
        let event = QueuedEvent::new(
            &spec.event_id,
            "account.ads.initial_sync_completed",
            self.clock.now(),
            &account.owner_id,
            Some(&account.profile_id),
            Some(&account.id),
            profile.as_ref().and_then(|p| p.external_id.as_deref()),
            body,
        );
        if self
            .store
            .complete_job_with_event(&job.id, holder, &event, self.clock.now())
            .await?
        {
            tracing::info!(account = %account.id, status = outcome.status, total_ads = outcome.total, "ads initial sync completed");
        }
        Ok(())
    }

    /// Discovery and the ad listing of every ad account in scope.
    async fn discover(&self, account: &Account) -> Result<Outcome, Transient> {
        let connector = self
            .facebook()
            .map_err(|e| Transient(format!("discovery failed: {e}")))?;
        let Some(sealed) = account.tokens.as_ref() else {
            return Ok(Outcome::failed(
                "token_invalid",
                "The ads account has no token; reconnect".into(),
            ));
        };
        let tokens: AccountTokens = self
            .keyring
            .open_json(&account.own_tokens_context(), sealed)
            .map_err(|e| Transient(format!("opening the ads account's token: {e}")))?;
        let login = tokens.tokens;
        let visible = match connector.ad_accounts(&login).await {
            Ok(v) => v,
            Err(e) => return classify(e),
        };
        let visible_ids: Vec<String> = visible.iter().map(|a| a.id.clone()).collect();
        let scope = persisted_scope(account);
        let in_scope: Vec<&AdAccount> = visible
            .iter()
            .filter(|a| scope.as_ref().is_none_or(|s| s.contains(&a.id)))
            .collect();
        let mut outcome = Outcome {
            status: "success",
            visible: visible_ids,
            scope,
            ..Outcome::default()
        };
        if visible.is_empty() {
            outcome.category = Some("no_ad_accounts");
            outcome.error = Some("The Facebook login sees no ad accounts".into());
            return Ok(outcome);
        }
        let mut errors = Vec::new();
        for a in &in_scope {
            match connector.ads(&login, &a.id).await {
                Ok(ads) => {
                    outcome.total += ads.len() as u64;
                    outcome.synced += ads.len() as u64;
                }
                Err(
                    e @ (ConnectorError::InvalidGrant { .. }
                    | ConnectorError::PermissionDenied { .. }),
                ) => {
                    return classify(e);
                }
                Err(e) => errors.push(format!("{}: {e}", a.id)),
            }
        }
        if !errors.is_empty() {
            outcome.error = Some(truncated(errors.join("; "), MAX_ERROR));
            if errors.len() == in_scope.len() {
                outcome.status = "failure";
                outcome.category = Some("discovery_failed");
            }
        }
        Ok(outcome)
    }
}

fn reconnect_required() -> ServiceError {
    ServiceError::BadRequest {
        code: "RECONNECT_REQUIRED",
        message: "The Facebook account's login no longer works; reconnect it with force=true"
            .into(),
        param: None,
    }
}

/// A failure worth trying again later.
struct Transient(String);

fn classify(e: ConnectorError) -> Result<Outcome, Transient> {
    match e {
        ConnectorError::InvalidGrant { description } => {
            Ok(Outcome::failed("token_invalid", description))
        }
        ConnectorError::PermissionDenied { description } => {
            Ok(Outcome::failed("permission_denied", description))
        }
        ConnectorError::Platform {
            status: 429,
            message,
            ..
        } => Err(Transient(format!("rate limited: {message}"))),
        other => Err(Transient(other.to_string())),
    }
}

/// What a sync found.
#[derive(Debug, Default)]
struct Outcome {
    status: &'static str,
    total: u64,
    synced: u64,
    failed: u64,
    error: Option<String>,
    category: Option<&'static str>,
    visible: Vec<String>,
    scope: Option<Vec<String>>,
}

impl Outcome {
    fn failed(category: &'static str, error: String) -> Self {
        Outcome {
            status: "failure",
            error: Some(truncated(error, MAX_ERROR)),
            category: Some(category),
            ..Outcome::default()
        }
    }

    /// The event's `account` and `sync` objects (shared/api-scope.md §10.4).
    fn event_fields(&self, a: &Account) -> Vec<(&'static str, Value)> {
        let mut account = plugboard_store::outbox::account_summary(a);
        account.insert("platformUserId".into(), json!(a.platform_user_id));
        if let Some(p) = &a.profile_picture {
            account.insert("profilePicture".into(), json!(p));
        }
        if let Some([one]) = self.scope.as_deref() {
            account.insert("platformAdAccountId".into(), json!(one));
        }
        account.insert("platformAdAccountIds".into(), json!(self.visible));
        let mut sync = json!({
            "status": self.status,
            "totalAds": self.total,
            "synced": self.synced,
            "failed": self.failed,
        });
        if let Some(e) = &self.error {
            sync["error"] = json!(e);
        }
        if let Some(c) = self.category {
            sync["errorCategory"] = json!(c);
        }
        vec![("account", Value::Object(account)), ("sync", sync)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ad_account_ids_take_the_act_prefix_and_nothing_else() {
        assert_eq!(normalize_ad_account_id("1234").as_deref(), Some("act_1234"));
        assert_eq!(
            normalize_ad_account_id(" act_99 ").as_deref(),
            Some("act_99")
        );
        for bad in ["", "act_", "abc", "act_1/ads", "12 34"] {
            assert_eq!(normalize_ad_account_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_scope_must_name_visible_usable_ad_accounts() {
        let visible = vec![
            AdAccount {
                id: "act_1".into(),
                name: None,
                status: 1,
                disable_reason: None,
                currency: None,
            },
            AdAccount {
                id: "act_2".into(),
                name: None,
                status: 2,
                disable_reason: Some(1),
                currency: None,
            },
        ];
        assert!(check_scope(&["act_1".into()], &visible).is_ok());
        assert!(matches!(
            check_scope(&["act_3".into()], &visible),
            Err(ServiceError::BadRequest {
                code: "invalid_field_value",
                ..
            })
        ));
        assert!(matches!(
            check_scope(&["act_2".into()], &visible),
            Err(ServiceError::BadRequestWithDetails {
                code: "ad_account_unusable",
                ..
            })
        ));
    }

    #[test]
    fn the_ads_permissions_are_both_ads_scopes() {
        let granted: Vec<String> = vec!["pages_show_list".into(), "ads_read".into()];
        assert!(!has_ads_permissions(&granted));
        let granted: Vec<String> = vec!["ads_read".into(), "ads_management".into()];
        assert!(has_ads_permissions(&granted));
    }

    #[test]
    fn one_scoped_ad_account_is_echoed_and_every_visible_one_listed() {
        let o = Outcome {
            status: "success",
            total: 7,
            synced: 7,
            visible: vec!["act_1".into(), "act_2".into()],
            scope: Some(vec!["act_1".into()]),
            ..Outcome::default()
        };
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let a = Account {
            id: AccountId::generate(at.timestamp()),
            owner_id: OwnerId::generate(at.timestamp()),
            profile_id: ProfileId::generate(at.timestamp()),
            platform: Platform::Metaads,
            platform_user_id: "10158".into(),
            destination_id: String::new(),
            username: Some("Ada".into()),
            display_name: Some("Ada".into()),
            profile_picture: None,
            profile_url: None,
            is_active: true,
            needs_reconnection: false,
            enabled: true,
            followers_count: None,
            followers_last_updated: None,
            parent_account_id: None,
            metadata: Default::default(),
            tokens: None,
            token_expires_at: None,
            scopes: vec![],
            created_at: at,
            updated_at: at,
            refresh_failures: 0,
        };
        let fields = o.event_fields(&a);
        let account = &fields[0].1;
        assert_eq!(account["platform"], "metaads");
        assert_eq!(account["platformAdAccountId"], "act_1");
        assert_eq!(account["platformAdAccountIds"], json!(["act_1", "act_2"]));
        assert_eq!(fields[1].1["totalAds"], 7);
        assert!(fields[1].1.get("errorCategory").is_none());
    }
}
