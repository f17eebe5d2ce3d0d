//! Tickets: a connect link an integrator mints from its backend and hands to a browser.
//! The link points at Plugboard (`/v1/oauth/{platform}/authorize?ticket=…`), lives five
//! minutes and works once; following it starts an ordinary connect (the same session,
//! callback and account upsert as `GET /v1/connect/{platform}`) in which every Facebook
//! Page or YouTube channel granted becomes its own account.

use super::session::StateToken;
use super::start::StartConnect;
use crate::auth::ResourceGroup;
use crate::{Caller, ServiceError, ServiceResult, Services};
use chrono::{DateTime, Duration, Utc};
use plugboard_core::{ApiKeyId, Platform, ProfileId, RedirectUrl};
use plugboard_platforms::Flavor;
use plugboard_platforms::instagram::LoginMethod;
use plugboard_store::OneTimeRecord;
use serde::{Deserialize, Serialize};

pub const TICKET_LIFETIME: Duration = Duration::minutes(5);
const TICKET_KIND: &str = "oauth_ticket";

/// What `POST /v1/oauth/tickets` asks for.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub platform: Platform,
    pub redirect_url: RedirectUrl,
    /// The profile the account(s) go to; the default profile when absent.
    pub profile_id: Option<ProfileId>,
}

#[derive(Debug, Clone)]
pub struct IssuedTicket {
    /// The bearer string (shown once; the store keeps its hash).
    pub ticket_id: String,
    pub auth_url: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TicketRecord {
    platform: Platform,
    profile_id: String,
    redirect_url: String,
    key_id: String,
}

/// Why a ticket link cannot go on. Each is a page for the person holding the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketRefusal {
    /// Unknown, expired or already used: start again.
    Expired,
    /// The link was opened for another platform than the ticket's.
    WrongPlatform,
    /// `redirect_url` on the link differs from the ticket's.
    RedirectMismatch,
    /// The key that minted the ticket is gone, or the platform is no longer set up.
    Unusable(String),
}

/// Platforms a ticket connects: those that connect through an OAuth redirect.
fn ticket_platform(platform: Platform) -> bool {
    plugboard_platforms::oauth_spec(platform).is_some()
}

impl Services {
    /// Mints a ticket. Everything a connect start would check is checked now, so a
    /// ticket that is handed out can be used.
    pub async fn create_ticket(
        &self,
        caller: &Caller,
        req: NewTicket,
    ) -> ServiceResult<IssuedTicket> {
        caller.require(ResourceGroup::Accounts, true)?;
        let ctx = self.connect_context()?;
        if !ticket_platform(req.platform) {
            return Err(ServiceError::BadRequest {
                code: "unsupported_platform",
                message: format!(
                    "{} does not connect through an OAuth redirect, so it has no tickets; use its own connect route",
                    req.platform
                ),
                param: Some("platform"),
            });
        }
        if ctx.connector(req.platform, Flavor::Standard).is_none() {
            return Err(ServiceError::NotConfigured {
                message: format!(
                    "{} is not configured on this server: set its client id and secret, or enable the sandbox",
                    req.platform
                ),
            });
        }
        // A platform out of quota would refuse the link's connect (docs/quota.md).
        self.check_quota(req.platform).await?;
        let profile = match &req.profile_id {
            Some(id) => self.visible_profile(caller, id).await?,
            // The default profile comes first (for a profile-scoped key: its first).
            None => self
                .list_profiles(caller, Default::default(), 0, Some(1))
                .await?
                .profiles
                .into_iter()
                .next()
                .map(|v| v.profile)
                .ok_or(ServiceError::NotFound { what: "Profile" })?,
        };
        let ticket = StateToken::generate();
        let now = self.clock.now();
        let expires_at = now + TICKET_LIFETIME;
        let record = TicketRecord {
            platform: req.platform,
            profile_id: profile.id.to_string(),
            redirect_url: req.redirect_url.as_str().to_owned(),
            key_id: caller.key_id.to_string(),
        };
        self.store
            .put_one_time(&OneTimeRecord {
                kind: TICKET_KIND.into(),
                key: ticket.hash(),
                owner_id: Some(caller.owner.clone()),
                payload: serde_json::to_value(&record)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
                expires_at,
                created_at: now,
            })
            .await?;
        let mut auth_url = ctx.public_url.clone();
        auth_url.set_path(&format!(
            "{}/v1/oauth/{}/authorize",
            ctx.public_url.path().trim_end_matches('/'),
            req.platform
        ));
        auth_url
            .query_pairs_mut()
            .append_pair("ticket", ticket.as_str());
        tracing::info!(platform = %req.platform, profile = %profile.id, "ticket issued");
        Ok(IssuedTicket {
            ticket_id: ticket.as_str().to_owned(),
            auth_url: auth_url.into(),
            expires_at,
        })
    }

    /// Follows a ticket link: takes the ticket (once) and starts the connect as the key
    /// that minted it. Returns the platform's authorization URL.
    pub async fn redeem_ticket(
        &self,
        platform: Platform,
        raw: &str,
        redirect_url: Option<&str>,
    ) -> Result<String, TicketRefusal> {
        let Some(ticket) = StateToken::parse(raw) else {
            tracing::info!(target: "security", platform = %platform, reason = "malformed ticket", "ticket refused");
            return Err(TicketRefusal::Expired);
        };
        let now = self.clock.now();
        let store_failed = |e: plugboard_store::StoreError| {
            tracing::error!(error = %e, "store failure reading a ticket");
            TicketRefusal::Unusable(
                "The server could not read the link. Try again in a moment.".into(),
            )
        };
        // Checked before it is taken: a link opened wrongly does not burn the ticket.
        let Some(seen) = self
            .store
            .get_one_time(TICKET_KIND, &ticket.hash(), now)
            .await
            .map_err(store_failed)?
        else {
            tracing::info!(target: "security", platform = %platform, reason = "unknown, used or expired ticket", "ticket refused");
            return Err(TicketRefusal::Expired);
        };
        let record: TicketRecord =
            serde_json::from_value(seen.payload).map_err(|_| TicketRefusal::Expired)?;
        if record.platform != platform {
            tracing::info!(target: "security", platform = %platform, ticket_platform = %record.platform, "ticket opened for another platform");
            return Err(TicketRefusal::WrongPlatform);
        }
        if let Some(asked) = redirect_url
            && asked != record.redirect_url
        {
            tracing::info!(target: "security", platform = %platform, "ticket opened with another redirect_url");
            return Err(TicketRefusal::RedirectMismatch);
        }
        // Out of quota, the connect would be refused: say so without spending the ticket.
        if let Ok(Some(block)) = self.quota_block(platform).await {
            return Err(TicketRefusal::Unusable(format!(
                "{}. Ask the app for a new link after that time.",
                block.message()
            )));
        }
        let Some(taken) = self
            .store
            .consume_one_time(TICKET_KIND, &ticket.hash(), now)
            .await
            .map_err(store_failed)?
        else {
            return Err(TicketRefusal::Expired);
        };
        let owner = taken.owner_id.ok_or(TicketRefusal::Expired)?;
        let key_id = ApiKeyId::parse(&record.key_id).map_err(|_| TicketRefusal::Expired)?;
        let key = self
            .store
            .list_api_keys(&owner)
            .await
            .map_err(store_failed)?
            .into_iter()
            .find(|k| k.id == key_id && k.expires_at.is_none_or(|at| at > now));
        let Some(key) = key else {
            return Err(TicketRefusal::Unusable(
                "The app that made this link can no longer connect accounts. Ask it for a new link.".into(),
            ));
        };
        let caller = Caller::from_key(&key);
        let start = StartConnect {
            platform,
            profile_id: ProfileId::parse(&record.profile_id).map_err(|_| TicketRefusal::Expired)?,
            redirect_url: RedirectUrl::parse(&record.redirect_url).ok(),
            headless: false,
            login_method: LoginMethod::InstagramLogin,
            force_reauth: false,
            reconnect_account_id: None,
            expected_platform_user_id: None,
            expected_username: None,
        };
        match self.start_connect_as(&caller, start, true).await {
            Ok(started) => Ok(started.auth_url),
            Err(e) => {
                tracing::warn!(error = %e, platform = %platform, "a ticket could not start its connect");
                Err(TicketRefusal::Unusable(format!(
                    "This link cannot be used: {e}. Ask the app for a new link."
                )))
            }
        }
    }
}
