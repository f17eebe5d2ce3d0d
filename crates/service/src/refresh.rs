//! Keeping tokens alive (STYLE §9): refresh a margin before expiry, coalesce concurrent
//! refreshes of one account behind a store lease, re-read the account once it is held, swap
//! the tokens only if they are still the ones refreshed, back off with jitter after a
//! transient failure, and mark the account for reconnection when the platform says the
//! grant is dead.

use crate::auth::ResourceGroup;
use crate::connect::AccountTokens;
use crate::{Caller, ServiceError, ServiceResult, Services};
use chrono::{DateTime, Duration, Utc};
use plugboard_core::{AccountId, OwnerId, Platform};
use plugboard_platforms::bluesky::BlueskySession;
use plugboard_platforms::instagram::LoginMethod;
use plugboard_platforms::spec::ResolvedRefresh;
use plugboard_platforms::{ConnectorError, Flavor, TokenSet};
use plugboard_store::{Account, AccountEvent};
use rand::Rng;

/// Short-lived access tokens (hours) are refreshed this long before they expire.
pub const SHORT_MARGIN: Duration = Duration::minutes(15);
/// Long-lived tokens that are extended rather than refreshed (Instagram Login, Threads:
/// 60 days, extendable once a day old) are extended this long before they expire.
pub const LONG_MARGIN: Duration = Duration::days(7);
/// How long one worker holds an account while it refreshes it.
const ACCOUNT_LEASE: Duration = Duration::seconds(60);
/// Accounts per pass. A pass lasts as long as its slowest platform's share, so with a
/// backlog each pass loses up to one round of that platform's slots; at 200 accounts over
/// eight platforms that was a tenth of the sweep (docs/performance.md), at 1000 it is a
/// few percent.
pub const BATCH: u64 = 1000;

/// What one refresh came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// New tokens stored.
    Done { expires_at: Option<DateTime<Utc>> },
    /// Another worker holds the account, or refreshed it first.
    Skipped,
    /// A transient failure; tried again at `retry_at`.
    Deferred {
        retry_at: DateTime<Utc>,
        failures: u32,
    },
    /// The platform refused the grant: the account now needs reconnection.
    Dead { reason: String },
    /// The platform app's quota is used up: the account waits until `retry_at`, its grant
    /// untouched.
    QuotaExceeded {
        platform: Platform,
        retry_at: DateTime<Utc>,
        message: String,
    },
    /// The platform cannot refresh this token; the user reconnects when it expires.
    Unsupported,
}

/// One pass of the worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshPass {
    pub refreshed: u32,
    pub skipped: u32,
    pub deferred: u32,
    pub dead: u32,
    /// The store handed out a whole batch and every account in it was due: more may be
    /// waiting behind them.
    pub batch_full: bool,
}

impl RefreshPass {
    /// Whether the next pass should run at once: the batch was full and this pass got
    /// somewhere. A pass that only skipped (another replica holds the platform's slots)
    /// waits for the next tick, so replicas do not spin against each other.
    pub fn more_due(&self) -> bool {
        self.batch_full && self.refreshed + self.deferred + self.dead > 0
    }

    fn add(&mut self, other: &RefreshPass) {
        self.refreshed += other.refreshed;
        self.skipped += other.skipped;
        self.deferred += other.deferred;
        self.dead += other.dead;
    }
}

/// How many refreshes of one platform run at once, over all replicas. Token endpoints are
/// rate limited per app; X's and Reddit's most tightly.
pub fn refresh_concurrency(platform: Platform) -> usize {
    match platform {
        Platform::Twitter | Platform::Reddit => 2,
        _ => 4,
    }
}

/// The store lease of one of a platform's refresh slots.
pub fn refresh_slot(platform: Platform, slot: usize) -> String {
    format!("refresh-slot:{platform}:{slot}")
}

/// Exponential backoff from one minute, capped at six hours, with up to a quarter of
/// jitter so replicas that failed together do not retry together.
pub fn backoff(failures: u32) -> Duration {
    let base = Duration::minutes(1) * 2_i32.saturating_pow(failures.min(9));
    let capped = base.min(Duration::hours(6));
    let jitter = rand::thread_rng().gen_range(0..=capped.num_seconds().max(4) / 4);
    capped + Duration::seconds(jitter)
}

fn flavor_of(account: &Account) -> Flavor {
    match account.metadata.get("loginMethod").and_then(|v| v.as_str()) {
        Some("facebook_login") => Flavor::from(LoginMethod::FacebookLogin),
        _ => Flavor::Standard,
    }
}

impl Services {
    /// How far ahead of expiry this account's token is renewed.
    fn margin(&self, account: &Account) -> Duration {
        let extends = self
            .connect
            .as_ref()
            .and_then(|c| c.connector(account.platform.login_platform(), flavor_of(account)))
            .is_some_and(|c| matches!(c.spec().refresh, ResolvedRefresh::ExtendAccessToken { .. }));
        if extends { LONG_MARGIN } else { SHORT_MARGIN }
    }

    /// One pass of the refresh worker over every owner's due accounts (STYLE §6:
    /// `run_once`; the loop calls it, tests call it with a moved clock).
    pub async fn refresh_due(&self, holder: &str) -> ServiceResult<RefreshPass> {
        self.refresh_pass(holder, &|| false).await
    }

    /// One pass; once `stop` says so, no further account is started (those in flight
    /// finish) and the rest wait for the next pass.
    async fn refresh_pass(
        &self,
        holder: &str,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> ServiceResult<RefreshPass> {
        let now = self.clock.now();
        let due = self
            .store
            .accounts_due_for_refresh(now + LONG_MARGIN, now, BATCH)
            .await?;
        let listed = due.len();
        let mut by_platform: std::collections::BTreeMap<Platform, Vec<Account>> =
            Default::default();
        for account in due {
            let Some(expires) = account.token_expires_at else {
                continue;
            };
            if expires - self.margin(&account) > now {
                continue;
            }
            by_platform
                .entry(account.platform)
                .or_default()
                .push(account);
        }
        // Every one of a whole batch was due: more may be waiting behind it.
        let batch_full =
            listed as u64 >= BATCH && by_platform.values().map(Vec::len).sum::<usize>() == listed;
        // Platforms run side by side; within one, at most its limit at once.
        let passes =
            futures::future::join_all(by_platform.into_iter().map(|(platform, accounts)| {
                self.refresh_platform(platform, accounts, holder, stop)
            }))
            .await;
        let mut pass = RefreshPass {
            batch_full,
            ..RefreshPass::default()
        };
        for p in passes {
            pass.add(&p?);
        }
        Ok(pass)
    }

    /// Passes one after another while each comes back full and gets somewhere, until
    /// `stop` says so (checked before each account is started): a backlog larger than one
    /// batch (a restart after an outage, a bulk import) is worked through at the
    /// platforms' pace instead of one batch per worker interval. The sum of the passes;
    /// `batch_full` is the last one's.
    pub async fn refresh_backlog(
        &self,
        holder: &str,
        stop: impl Fn() -> bool + Sync,
    ) -> ServiceResult<RefreshPass> {
        let mut total = RefreshPass::default();
        loop {
            let pass = self.refresh_pass(holder, &stop).await?;
            total.add(&pass);
            total.batch_full = pass.batch_full;
            if !pass.more_due() || stop() {
                return Ok(total);
            }
        }
    }

    async fn refresh_platform(
        &self,
        platform: Platform,
        accounts: Vec<Account>,
        holder: &str,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> ServiceResult<RefreshPass> {
        // Each of the platform's slots works through one queue, taking the next account as
        // soon as its last one is done, so a slow refresh holds up only its own slot (in
        // lock-step rounds every slot waited for the slowest of the round). A slot held
        // by another replica ends its worker for this pass, as does the stop; what no
        // worker reached waits for the next pass.
        let queue = std::sync::Mutex::new(accounts.into_iter());
        let next = || queue.lock().unwrap_or_else(|e| e.into_inner()).next();
        let workers = (0..refresh_concurrency(platform)).map(|slot| async move {
            let mut pass = RefreshPass::default();
            while !stop()
                && let Some(account) = next()
            {
                let Some(r) = self
                    .refresh_in_slot(platform, slot, &account, holder)
                    .await?
                else {
                    self.count_refresh(platform, &Refreshed::Skipped);
                    pass.skipped += 1;
                    break;
                };
                self.count_refresh(platform, &r);
                match r {
                    Refreshed::Done { .. } => pass.refreshed += 1,
                    Refreshed::Skipped | Refreshed::Unsupported => pass.skipped += 1,
                    Refreshed::Deferred { .. } | Refreshed::QuotaExceeded { .. } => {
                        pass.deferred += 1
                    }
                    Refreshed::Dead { .. } => pass.dead += 1,
                }
            }
            Ok::<_, ServiceError>(pass)
        });
        let mut pass = RefreshPass::default();
        for p in futures::future::join_all(workers).await {
            pass.add(&p?);
        }
        let left = queue.lock().unwrap_or_else(|e| e.into_inner()).len();
        for _ in 0..left {
            self.count_refresh(platform, &Refreshed::Skipped);
        }
        pass.skipped += u32::try_from(left).unwrap_or(u32::MAX);
        Ok(pass)
    }

    fn count_refresh(&self, platform: Platform, r: &Refreshed) {
        let outcome = match r {
            Refreshed::Done { .. } => "refreshed",
            Refreshed::Dead { .. } => "dead",
            Refreshed::Deferred { .. } => "deferred",
            Refreshed::QuotaExceeded { .. } => "quota",
            Refreshed::Skipped => "skipped",
            Refreshed::Unsupported => "unsupported",
        };
        self.metrics
            .refreshes
            .with_label_values(&[platform.as_str(), outcome])
            .inc();
    }

    /// Refreshes one account in one of the platform's slots: a store lease per slot, so the
    /// limit holds across every replica. `None`: the slot is in use elsewhere, and the
    /// account waits for the next pass.
    async fn refresh_in_slot(
        &self,
        platform: Platform,
        slot: usize,
        account: &Account,
        holder: &str,
    ) -> ServiceResult<Option<Refreshed>> {
        let lease = refresh_slot(platform, slot);
        if !self
            .store
            .acquire_lease(&lease, holder, self.clock.now(), ACCOUNT_LEASE)
            .await?
        {
            return Ok(None);
        }
        let result = self
            .refresh_held(&account.owner_id, &account.id, holder, false)
            .await;
        if let Err(e) = self.store.release_lease(&lease, holder).await {
            tracing::warn!(error = %e, "cannot release a refresh slot; it runs out on its own");
        }
        result.map(Some)
    }

    /// `POST /v1/accounts/{id}/refresh-token`: refresh now, whatever the expiry.
    pub async fn refresh_account_now(
        &self,
        caller: &Caller,
        id: &AccountId,
    ) -> ServiceResult<Account> {
        caller.require(ResourceGroup::Accounts, true)?;
        let account = self.get_account(caller, id).await?;
        crate::accounts::require_active(&account)?;
        if account.needs_reconnection {
            return Err(reconnect_required());
        }
        let holder = format!("api-{}", caller.key_id);
        let refreshed = self.refresh_held(&caller.owner, id, &holder, true).await?;
        self.count_refresh(account.platform, &refreshed);
        match refreshed {
            Refreshed::Done { .. } | Refreshed::Skipped => self.get_account(caller, id).await,
            Refreshed::Dead { .. } => Err(reconnect_required()),
            Refreshed::Unsupported => Err(ServiceError::BadRequest {
                code: "refresh_not_supported",
                message: format!(
                    "{} cannot refresh this token; reconnect the account when it expires",
                    account.platform
                ),
                param: None,
            }),
            Refreshed::QuotaExceeded {
                platform,
                retry_at,
                message,
            } => Err(ServiceError::QuotaExceeded {
                platform,
                reset_at: Some(retry_at),
                message,
            }),
            Refreshed::Deferred { .. } => Err(ServiceError::Upstream {
                code: "refresh_failed",
                message: "The platform could not refresh the token right now; it will be retried"
                    .into(),
                details: None,
            }),
        }
    }

    /// Refreshes one account under its lease. `forced` refreshes even when another
    /// refresh changed the tokens since the account was listed.
    async fn refresh_held(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        holder: &str,
        forced: bool,
    ) -> ServiceResult<Refreshed> {
        let now = self.clock.now();
        let lease = format!("refresh:{id}");
        if !self
            .store
            .acquire_lease(&lease, holder, now, ACCOUNT_LEASE)
            .await?
        {
            return Ok(Refreshed::Skipped);
        }
        let result = self.refresh_locked(owner, id, forced).await;
        if let Err(e) = self.store.release_lease(&lease, holder).await {
            tracing::warn!(error = %e, "cannot release a refresh lease; it runs out on its own");
        }
        result
    }

    async fn refresh_locked(
        &self,
        owner: &OwnerId,
        id: &AccountId,
        forced: bool,
    ) -> ServiceResult<Refreshed> {
        let now = self.clock.now();
        // Re-read once held: another worker may have refreshed it a moment ago.
        let Some(account) = self.store.get_account(owner, id).await? else {
            return Ok(Refreshed::Skipped);
        };
        if account.needs_reconnection {
            return Ok(Refreshed::Skipped);
        }
        if !forced
            && account
                .token_expires_at
                .is_none_or(|e| e - self.margin(&account) > now)
        {
            return Ok(Refreshed::Skipped);
        }
        let Some(sealed) = account.tokens.clone() else {
            return Ok(Refreshed::Unsupported);
        };
        let context = account.own_tokens_context();
        let tokens: AccountTokens = self
            .keyring
            .open_json(&context, &sealed)
            .map_err(|e| ServiceError::Internal(format!("opening account tokens: {e}")))?;
        let renewed = self.renew(&account, &tokens).await;
        let platform = account.platform;
        match renewed {
            Ok(new) => {
                let expires_at = new.expires_at;
                let sealed_new = self.keyring.seal_json(
                    &context,
                    &AccountTokens {
                        tokens: new,
                        login: tokens.login,
                    },
                );
                if self
                    .store
                    .store_refreshed_tokens(id, &sealed, &sealed_new, expires_at, now)
                    .await?
                {
                    tracing::info!(account = %id, platform = %platform, "token refreshed");
                    Ok(Refreshed::Done { expires_at })
                } else {
                    // Someone else stored newer tokens while this one ran.
                    Ok(Refreshed::Skipped)
                }
            }
            Err(ConnectorError::InvalidGrant { description }) => {
                let event =
                    AccountEvent::disconnected(now, false, disconnection_reason(&description));
                if self
                    .store
                    .mark_needs_reconnection(id, Some(&event), now)
                    .await?
                    .is_some()
                {
                    tracing::warn!(account = %id, platform = %platform, reason = %description, "the platform refused the grant; the account needs reconnection");
                }
                Ok(Refreshed::Dead {
                    reason: description,
                })
            }
            Err(ConnectorError::Unsupported(_)) => {
                // Nothing to renew with: once the token is past its expiry the account is
                // as good as disconnected.
                if account.token_expires_at.is_some_and(|e| e <= now) {
                    let event = AccountEvent::disconnected(now, false, "Token expired");
                    self.store
                        .mark_needs_reconnection(id, Some(&event), now)
                        .await?;
                    return Ok(Refreshed::Dead {
                        reason: "The token expired and this platform cannot refresh it".into(),
                    });
                }
                Ok(Refreshed::Unsupported)
            }
            Err(ConnectorError::QuotaExceeded {
                reset_at,
                description,
            }) => {
                // Not the grant's fault: the account waits for the platform's reset.
                let retry_at = reset_at
                    .filter(|r| *r > now)
                    .unwrap_or_else(|| now + backoff(account.refresh_failures));
                self.store.defer_refresh(id, retry_at).await?;
                tracing::warn!(account = %id, platform = %platform, retry_at = %retry_at, "token refresh waits for the platform's API quota");
                // The block the platform's answer left says it in our words.
                let message = match self.quota_block(platform).await {
                    Ok(Some(block)) => block.message(),
                    _ => description,
                };
                Ok(Refreshed::QuotaExceeded {
                    platform: platform.login_platform(),
                    retry_at,
                    message,
                })
            }
            Err(e) => {
                let retry_at = now + backoff(account.refresh_failures);
                let failures = self.store.defer_refresh(id, retry_at).await?;
                tracing::warn!(account = %id, platform = %platform, error = %e, failures, retry_at = %retry_at, "token refresh failed; retrying later");
                Ok(Refreshed::Deferred { retry_at, failures })
            }
        }
    }

    /// Revokes the account's grant where the platform offers revocation (RFC 7009 at X,
    /// LinkedIn, TikTok, Google, Reddit; Bluesky's deleteSession). Failures are logged: the
    /// account is removed either way.
    pub(crate) async fn revoke_at_platform(&self, account: &Account) {
        let (Some(sealed), Some(ctx)) = (&account.tokens, self.connect.as_ref()) else {
            return;
        };
        let Ok(tokens) = self
            .keyring
            .open_json::<AccountTokens>(&account.own_tokens_context(), sealed)
        else {
            tracing::warn!(account = %account.id, "cannot open the tokens to revoke");
            return;
        };
        let result = match account.platform {
            Platform::Bluesky => {
                match (ctx.bluesky.as_ref(), self.bluesky_session(account, &tokens)) {
                    (Some(client), Some(session)) => client.logout(&session).await,
                    _ => return,
                }
            }
            Platform::Telegram | Platform::Whatsapp => return,
            other => match ctx.connector(other.login_platform(), flavor_of(account)) {
                Some(c) => {
                    c.revoke(tokens.login.as_ref().unwrap_or(&tokens.tokens))
                        .await
                }
                None => return,
            },
        };
        match result {
            Ok(()) => {
                tracing::info!(account = %account.id, platform = %account.platform, "grant revoked at the platform")
            }
            Err(ConnectorError::Unsupported(_)) => {}
            Err(e) => {
                tracing::warn!(account = %account.id, error = %e, "revoking the grant at the platform failed")
            }
        }
    }

    fn bluesky_session(&self, account: &Account, tokens: &AccountTokens) -> Option<BlueskySession> {
        let client = self.connect.as_ref()?.bluesky.as_ref()?;
        let t = &tokens.tokens;
        let pds = account
            .metadata
            .get("pdsUrl")
            .and_then(|v| v.as_str())
            .and_then(|u| url::Url::parse(u).ok())
            .unwrap_or_else(|| client.entryway().clone());
        Some(BlueskySession {
            did: account.platform_user_id.clone(),
            handle: account.username.clone().unwrap_or_default(),
            pds,
            access_jwt: t.access_token.clone(),
            refresh_jwt: t.refresh_token.clone()?,
            access_expires_at: t.expires_at,
            refresh_expires_at: t.refresh_expires_at,
            email: None,
        })
    }

    /// The platform call: the connector's refresh, or a Bluesky session refresh.
    async fn renew(
        &self,
        account: &Account,
        tokens: &AccountTokens,
    ) -> Result<TokenSet, ConnectorError> {
        let ctx = self.connect.as_ref().ok_or(ConnectorError::Unsupported(
            "the connect flow is not set up in this process",
        ))?;
        match account.platform {
            Platform::Bluesky => {
                let client = ctx
                    .bluesky
                    .as_ref()
                    .ok_or(ConnectorError::Unsupported("Bluesky is not configured"))?;
                let t = &tokens.tokens;
                let session = self
                    .bluesky_session(account, tokens)
                    .ok_or(ConnectorError::Unsupported("no refresh JWT"))?;
                let s = client.refresh(&session).await?;
                Ok(TokenSet {
                    access_token: s.access_jwt,
                    refresh_token: Some(s.refresh_jwt),
                    expires_at: s.access_expires_at,
                    refresh_expires_at: s.refresh_expires_at,
                    scopes: t.scopes.clone(),
                    user_id: Some(s.did),
                })
            }
            Platform::Telegram | Platform::Whatsapp => {
                Err(ConnectorError::Unsupported("no token to refresh"))
            }
            other => {
                let connector = ctx
                    .connector(other.login_platform(), flavor_of(account))
                    .ok_or(ConnectorError::Unsupported(
                        "the platform is no longer configured",
                    ))?;
                match self.quota_block(other).await {
                    Ok(None) => {}
                    Ok(Some(block)) => {
                        return Err(ConnectorError::QuotaExceeded {
                            reset_at: Some(block.reset_at),
                            description: block.message(),
                        });
                    }
                    // The platform's own answer decides then.
                    Err(e) => tracing::warn!(error = %e, "cannot read the platform quota"),
                }
                connector.refresh(&tokens.tokens).await
            }
        }
    }
}

fn reconnect_required() -> ServiceError {
    ServiceError::Conflict {
        code: "reconnect_required",
        message: "The platform no longer accepts this account's grant; reconnect it with reconnectAccountId".into(),
        details: None,
    }
}

/// The `reason` of an unintentional disconnection: what the platform said, briefly (its
/// description is already cleaned of anything we sent).
fn disconnection_reason(description: &str) -> String {
    crate::text::truncated(format!("Token revoked or expired: {description}"), 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute_and_stops_at_six_hours_plus_jitter() {
        for (failures, low, high) in [
            (0, 60, 75),
            (1, 120, 150),
            (3, 480, 600),
            (20, 21_600, 27_000),
        ] {
            for _ in 0..20 {
                let b = backoff(failures).num_seconds();
                assert!((low..=high).contains(&b), "{failures} failures: {b}s");
            }
        }
    }
}
