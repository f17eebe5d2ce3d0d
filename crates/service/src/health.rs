//! Account health in Zernio's shapes (shared/api-scope.md §6.5, §6.6): what the stored
//! state says (reconnection needed, expiry, deactivation, missing permissions) and, for one
//! account, what the platform says now — cached in the store for a few minutes so health
//! calls from many replicas do not hammer the platform.

use crate::auth::ResourceGroup;
use crate::connect::AccountTokens;
use crate::{Caller, ServiceResult, Services};
use chrono::{DateTime, Duration, Utc};
use plugboard_core::{AccountId, Platform};
use plugboard_platforms::ConnectorError;
use plugboard_store::{Account, AccountQuery, OneTimeRecord};
use serde::{Deserialize, Serialize};

const CACHE_KIND: &str = "health_probe";
/// A platform verdict is reused this long.
const CACHE_MINUTES: i64 = 5;
/// Zernio's `needsRefresh`: the token expires within a day.
const SOON: Duration = Duration::hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Warning,
    Error,
}

impl HealthStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "healthy" => Some(Self::Healthy),
            "warning" => Some(Self::Warning),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// What the platform said when the token was last tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// The token works.
    Accepted,
    /// The platform refused the token.
    Refused,
    /// The platform could not be asked (down, not configured, nothing to ask).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScopeCheck {
    pub scope: String,
    pub granted: bool,
    pub required: bool,
}

#[derive(Debug, Clone)]
pub struct AccountHealth {
    pub account: Account,
    pub status: HealthStatus,
    pub token_valid: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub needs_refresh: bool,
    pub permissions: Vec<ScopeCheck>,
    pub issues: Vec<String>,
    pub recommendations: Vec<String>,
    /// `None` when the platform was not asked (listing).
    pub probe: Option<Probe>,
    pub checked_at: DateTime<Utc>,
}

impl AccountHealth {
    pub fn missing_required(&self) -> Vec<String> {
        self.permissions
            .iter()
            .filter(|p| p.required && !p.granted)
            .map(|p| p.scope.clone())
            .collect()
    }

    pub fn can_post(&self) -> bool {
        self.token_valid && self.account.is_active && self.missing_required().is_empty()
    }
}

#[derive(Debug, Clone, Default)]
pub struct HealthFilter {
    pub profile_id: Option<plugboard_core::ProfileId>,
    pub platform: Option<Platform>,
    pub status: Option<HealthStatus>,
}

impl Services {
    /// `GET /v1/accounts/health`: every visible account, from stored state and cached
    /// platform verdicts (a listing never calls the platforms).
    pub async fn accounts_health(
        &self,
        caller: &Caller,
        filter: &HealthFilter,
    ) -> ServiceResult<Vec<AccountHealth>> {
        caller.require(ResourceGroup::Accounts, false)?;
        let profile_ids = match (&filter.profile_id, &caller.profile_ids) {
            (Some(p), Some(allowed)) if !allowed.contains(p) => Some(vec![]),
            (Some(p), _) => Some(vec![p.clone()]),
            (None, allowed) => allowed.clone(),
        };
        let page = self
            .scoped(caller)
            .list_accounts(&AccountQuery {
                profile_ids,
                platforms: filter.platform.map(|p| vec![p]),
                ..Default::default()
            })
            .await?;
        let mut out = Vec::new();
        for account in page.accounts {
            let cached = self.cached_probe(&account).await?;
            let h = self.evaluate(account, cached);
            if filter.status.is_none_or(|s| s == h.status) {
                out.push(h);
            }
        }
        Ok(out)
    }

    /// `GET /v1/accounts/{id}/health`: the stored state plus the platform's verdict on the
    /// token (cached for a few minutes).
    pub async fn account_health(
        &self,
        caller: &Caller,
        id: &AccountId,
    ) -> ServiceResult<AccountHealth> {
        let account = self.get_account(caller, id).await?;
        let probe = match self.cached_probe(&account).await? {
            Some(p) => p,
            None => {
                let p = self.probe(&account).await;
                self.cache_probe(&account, p).await?;
                p
            }
        };
        Ok(self.evaluate(account, Some(probe)))
    }

    fn cache_key(&self, account: &Account) -> String {
        // One record per account and 5-minute window: records cannot be overwritten, so
        // the window is part of the key.
        let window = self.clock.now().timestamp() / (CACHE_MINUTES * 60);
        format!(
            "{}:{}:{window}",
            account.id,
            account.updated_at.timestamp_millis()
        )
    }

    async fn cached_probe(&self, account: &Account) -> ServiceResult<Option<Probe>> {
        let rec = self
            .store
            .get_one_time(CACHE_KIND, &self.cache_key(account), self.clock.now())
            .await?;
        Ok(rec.and_then(|r| serde_json::from_value(r.payload).ok()))
    }

    async fn cache_probe(&self, account: &Account, probe: Probe) -> ServiceResult<()> {
        let now = self.clock.now();
        let put = self
            .store
            .put_one_time(&OneTimeRecord {
                kind: CACHE_KIND.into(),
                key: self.cache_key(account),
                owner_id: Some(account.owner_id.clone()),
                payload: serde_json::to_value(probe).unwrap_or_default(),
                expires_at: now + Duration::minutes(CACHE_MINUTES),
                created_at: now,
            })
            .await;
        match put {
            // Another replica probed in the same window: its verdict stands.
            Err(plugboard_store::StoreError::Conflict { .. }) | Ok(()) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Asks the platform who the token belongs to.
    async fn probe(&self, account: &Account) -> Probe {
        let (Some(sealed), Some(ctx)) = (&account.tokens, self.connect.as_ref()) else {
            return Probe::Unknown;
        };
        let Ok(tokens) = self
            .keyring
            .open_json::<AccountTokens>(&account.own_tokens_context(), sealed)
        else {
            return Probe::Unknown;
        };
        let result = match account.platform {
            Platform::Bluesky | Platform::Telegram | Platform::Whatsapp => return Probe::Unknown,
            other => {
                let flavor = match account.metadata.get("loginMethod").and_then(|v| v.as_str()) {
                    Some("facebook_login") => plugboard_platforms::Flavor::InstagramFacebookLogin,
                    _ => plugboard_platforms::Flavor::Standard,
                };
                match ctx.connector(other.login_platform(), flavor) {
                    Some(c) => {
                        c.identity(tokens.login.as_ref().unwrap_or(&tokens.tokens))
                            .await
                    }
                    None => return Probe::Unknown,
                }
            }
        };
        match result {
            Ok(_) => Probe::Accepted,
            Err(ConnectorError::InvalidGrant { .. }) => Probe::Refused,
            Err(e) => {
                tracing::debug!(account = %account.id, error = %e, "health probe inconclusive");
                Probe::Unknown
            }
        }
    }

    fn evaluate(&self, account: Account, probe: Option<Probe>) -> AccountHealth {
        let now = self.clock.now();
        let expires_at = account.token_expires_at;
        let expired = expires_at.is_some_and(|e| e <= now);
        let token_valid = !account.needs_reconnection && !expired && probe != Some(Probe::Refused);
        let needs_refresh = expires_at.is_some_and(|e| e - now <= SOON);
        let required: Vec<String> = self
            .connect
            .as_ref()
            .and_then(|c| {
                c.connector(
                    account.platform.login_platform(),
                    plugboard_platforms::Flavor::Standard,
                )
            })
            .map(|c| {
                let spec = c.spec().spec;
                let ads: &[&str] = if account.platform == Platform::Metaads {
                    plugboard_platforms::facebook::ADS_SCOPES
                } else {
                    &[]
                };
                spec.scopes
                    .iter()
                    .chain(ads)
                    .map(|s| (*s).to_owned())
                    .collect()
            })
            .unwrap_or_default();
        // Platforms that report granted scopes: compare; the others (empty) pass.
        let permissions: Vec<ScopeCheck> = if account.scopes.is_empty() {
            vec![]
        } else {
            required
                .iter()
                .map(|s| ScopeCheck {
                    scope: s.clone(),
                    granted: account.scopes.iter().any(|g| g == s),
                    required: true,
                })
                .collect()
        };
        let mut issues = Vec::new();
        let mut recommendations = Vec::new();
        let mut status = HealthStatus::Healthy;
        if account.needs_reconnection || probe == Some(Probe::Refused) {
            issues.push("The platform no longer accepts this account's token".to_owned());
            recommendations.push(
                "Reconnect the account (GET /v1/connect/{platform}?reconnectAccountId=…)"
                    .to_owned(),
            );
            status = HealthStatus::Error;
        } else if expired {
            issues.push("The token has expired".to_owned());
            recommendations.push("Reconnect the account".to_owned());
            status = HealthStatus::Error;
        }
        let missing: Vec<&ScopeCheck> = permissions.iter().filter(|p| !p.granted).collect();
        if !missing.is_empty() {
            issues.push(format!(
                "Permissions not granted: {}",
                missing
                    .iter()
                    .map(|p| p.scope.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            recommendations.push("Reconnect and allow every requested permission".to_owned());
            if status == HealthStatus::Healthy {
                status = HealthStatus::Warning;
            }
        }
        if !account.is_active {
            issues.push("The account is deactivated".to_owned());
            if status == HealthStatus::Healthy {
                status = HealthStatus::Warning;
            }
        }
        if token_valid && needs_refresh && account.refresh_failures > 0 {
            issues.push(format!(
                "Refreshing the token failed {} time(s) in a row; it is retried",
                account.refresh_failures
            ));
            if status == HealthStatus::Healthy {
                status = HealthStatus::Warning;
            }
        }
        AccountHealth {
            account,
            status,
            token_valid,
            expires_at,
            needs_refresh,
            permissions,
            issues,
            recommendations,
            probe,
            checked_at: now,
        }
    }
}
