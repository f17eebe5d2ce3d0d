//! Webhooks: the subscriptions integrators manage (Zernio's `/v1/webhooks/*`), and the
//! delivery of queued events to them.
//!
//! An event is queued by the store in the same step as the change that causes it
//! ([`plugboard_store::outbox`]). The dispatcher turns each queued event into one delivery
//! job per matching subscription; the delivery worker POSTs it, signs it, logs every
//! attempt and retries failures with exponential backoff for hours. Both are jobs with
//! leases, so any number of replicas run them and a crash loses nothing: a job whose
//! holder died is taken again when its lease runs out (at-least-once; receivers dedupe on
//! `X-Zernio-Event-Id`).

mod delivery;
pub mod events;
pub mod signing;
pub mod target;

pub use delivery::{DELIVER_JOB, DeliveryPass, QUEUED_JOB_KINDS};

use crate::auth::ResourceGroup;
use crate::{Caller, ServiceError, ServiceResult, Services};
use chrono::Duration;
use plugboard_core::{AccountId, ProfileId, WebhookId};
use plugboard_store::{Webhook, WebhookLog, WebhookLogFilter, WebhookPatch};
use std::collections::BTreeMap;

/// Zernio's limit of subscriptions per user.
pub const MAX_WEBHOOKS: u64 = 50;
/// How long delivery logs (and so redelivery) are kept.
pub const LOG_RETENTION_DAYS: i64 = 30;
const MAX_NAME: usize = 50;
const MAX_SECRET: usize = 256;
const MAX_HEADERS: usize = 20;
const MAX_HEADER_VALUE: usize = 1024;

/// How deliveries behave; the operator's settings.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Deliver to private, loopback and link-local addresses too.
    pub allow_private: bool,
    /// The wait after the first failed attempt; doubled after each further failure.
    pub retry_base: Duration,
    /// The longest wait between two attempts.
    pub retry_cap: Duration,
    /// Attempts in all, the first included, before a delivery counts as failed.
    pub max_attempts: u32,
    /// How long a receiver has to answer.
    pub timeout: std::time::Duration,
}

impl Default for WebhookSettings {
    /// 12 attempts over about five hours: waits of 30 s, 1, 2, 4, 8, 16 and 32 min, then
    /// four of an hour.
    fn default() -> Self {
        Self {
            allow_private: false,
            retry_base: Duration::seconds(30),
            retry_cap: Duration::hours(1),
            max_attempts: 12,
            timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// The delivery side: settings and the HTTP client whose resolver guards the targets.
pub struct Webhooks {
    pub settings: WebhookSettings,
    client: reqwest::Client,
}

impl Webhooks {
    pub fn new(settings: WebhookSettings) -> Self {
        let client = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(target::GuardedResolver {
                allow_private: settings.allow_private,
            }))
            // A redirect could lead anywhere, past the target check: not followed, the
            // attempt fails with the 3xx status.
            .redirect(reqwest::redirect::Policy::none())
            // Through a proxy the resolver would check the proxy, not the target.
            .no_proxy()
            .timeout(settings.timeout)
            .user_agent(concat!("Plugboard-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { settings, client }
    }
}

impl Default for Webhooks {
    fn default() -> Self {
        Self::new(WebhookSettings::default())
    }
}

/// A subscription to create, as sent.
#[derive(Debug, Clone, Default)]
pub struct NewWebhook {
    pub name: Option<String>,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub events: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub custom_headers: Option<BTreeMap<String, String>>,
    pub disabled_resource_groups: Option<Vec<String>>,
    pub profile_ids: Option<Vec<String>>,
    pub account_ids: Option<Vec<String>>,
}

/// The outcome of a synchronous fire (a test or a redelivery).
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub success: bool,
    pub message: String,
}

fn invalid(param: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::BadRequest {
        code: "validation_error",
        message: message.into(),
        param: Some(param),
    }
}

fn parse_webhook_id(raw: Option<&str>) -> ServiceResult<WebhookId> {
    let raw = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("webhookId", "webhookId is required"))?;
    WebhookId::parse(raw).map_err(|e| invalid("webhookId", e.to_string()))
}

fn validate_name(name: &str) -> ServiceResult<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME {
        return Err(invalid("name", "name must be 1-50 characters"));
    }
    Ok(n.to_owned())
}

fn validate_events(events: &[String]) -> ServiceResult<Vec<String>> {
    if events.is_empty() {
        return Err(invalid("events", "events must list at least one event"));
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if !events::is_event(e) {
            return Err(invalid("events", format!("{e:?} is not a webhook event")));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

fn validate_secret(secret: &str) -> ServiceResult<Option<String>> {
    if secret.is_empty() {
        return Ok(None);
    }
    if secret.len() > MAX_SECRET {
        return Err(invalid("secret", "secret must be at most 256 bytes"));
    }
    Ok(Some(secret.to_owned()))
}

/// Headers a subscription may not set: the transport's and the ones we sign with.
fn reserved_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "host"
            | "content-length"
            | "content-type"
            | "transfer-encoding"
            | "connection"
            | "user-agent"
            | "te"
            | "upgrade"
            | "expect"
    ) || n.starts_with("x-zernio-")
        || n.starts_with("x-late-")
        || n.starts_with("x-plugboard-")
}

fn validate_headers(headers: &BTreeMap<String, String>) -> ServiceResult<BTreeMap<String, String>> {
    if headers.len() > MAX_HEADERS {
        return Err(invalid("customHeaders", "at most 20 custom headers"));
    }
    for (k, v) in headers {
        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(invalid(
                "customHeaders",
                format!("{k:?} is not a valid header name"),
            ));
        }
        if reserved_header(k) {
            return Err(invalid(
                "customHeaders",
                format!("{k} is set by Plugboard and cannot be overridden"),
            ));
        }
        if v.len() > MAX_HEADER_VALUE || reqwest::header::HeaderValue::from_str(v).is_err() {
            return Err(invalid(
                "customHeaders",
                format!("the value of {k} must be printable text of at most 1024 bytes"),
            ));
        }
    }
    Ok(headers.clone())
}

fn validate_groups(groups: &[String]) -> ServiceResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for g in groups {
        if !events::RESOURCE_GROUPS.contains(&g.as_str()) {
            return Err(invalid(
                "disabledResourceGroups",
                format!("{g:?} is not a resource group"),
            ));
        }
        if !out.contains(g) {
            out.push(g.clone());
        }
    }
    Ok(out)
}

impl Services {
    /// Whether a profile-scoped key may see this subscription: only one limited to
    /// profiles the key has.
    fn webhook_visible(caller: &Caller, w: &Webhook) -> bool {
        match &caller.profile_ids {
            None => true,
            Some(mine) => {
                !w.profile_ids.is_empty() && w.profile_ids.iter().all(|p| mine.contains(p))
            }
        }
    }

    async fn visible_webhook(&self, caller: &Caller, id: &WebhookId) -> ServiceResult<Webhook> {
        match self.scoped(caller).get_webhook(id).await? {
            Some(w) if Self::webhook_visible(caller, &w) => Ok(w),
            _ => Err(ServiceError::NotFound { what: "Webhook" }),
        }
    }

    async fn checked_profiles(
        &self,
        caller: &Caller,
        ids: &[String],
    ) -> ServiceResult<Vec<ProfileId>> {
        let mut out = Vec::new();
        for raw in ids {
            let id = ProfileId::parse(raw).map_err(|e| invalid("profileIds", e.to_string()))?;
            if !caller.can_see_profile(&id) || self.scoped(caller).get_profile(&id).await?.is_none()
            {
                return Err(ServiceError::NotFound { what: "Profile" });
            }
            if !out.contains(&id) {
                out.push(id);
            }
        }
        // A profile-scoped key cannot subscribe wider than its profiles.
        if out.is_empty()
            && let Some(mine) = &caller.profile_ids
        {
            return Ok(mine.clone());
        }
        Ok(out)
    }

    async fn checked_accounts(
        &self,
        caller: &Caller,
        ids: &[String],
    ) -> ServiceResult<Vec<AccountId>> {
        let mut out = Vec::new();
        for raw in ids {
            let id = AccountId::parse(raw).map_err(|e| invalid("accountIds", e.to_string()))?;
            match self.scoped(caller).get_account(&id).await? {
                Some(a) if caller.can_see_profile(&a.profile_id) => {}
                _ => return Err(ServiceError::NotFound { what: "Account" }),
            }
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// A restricted key's own disabled groups always apply to what it subscribes.
    fn with_caller_groups(caller: &Caller, mut groups: Vec<String>) -> Vec<String> {
        for g in &caller.disabled_resource_groups {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
        groups
    }

    fn seal_secret(&self, w: &Webhook, secret: &str) -> plugboard_core::Sealed {
        self.keyring.seal(
            &Webhook::secret_context(&w.owner_id, &w.id),
            secret.as_bytes(),
        )
    }

    pub async fn list_webhooks(&self, caller: &Caller) -> ServiceResult<Vec<Webhook>> {
        caller.require(ResourceGroup::Webhooks, false)?;
        let all = self.scoped(caller).list_webhooks().await?;
        Ok(all
            .into_iter()
            .filter(|w| Self::webhook_visible(caller, w))
            .collect())
    }

    pub async fn create_webhook(&self, caller: &Caller, new: NewWebhook) -> ServiceResult<Webhook> {
        caller.require(ResourceGroup::Webhooks, true)?;
        let name = validate_name(
            new.name
                .as_deref()
                .ok_or_else(|| invalid("name", "name is required"))?,
        )?;
        let url = target::parse_target(
            new.url.as_deref().unwrap_or_default(),
            self.webhooks.settings.allow_private,
        )?;
        let events = validate_events(
            new.events
                .as_deref()
                .ok_or_else(|| invalid("events", "events is required"))?,
        )?;
        let secret = new
            .secret
            .as_deref()
            .map(validate_secret)
            .transpose()?
            .flatten();
        let custom_headers = new
            .custom_headers
            .as_ref()
            .map(validate_headers)
            .transpose()?
            .unwrap_or_default();
        let groups = validate_groups(new.disabled_resource_groups.as_deref().unwrap_or(&[]))?;
        let profile_ids = self
            .checked_profiles(caller, new.profile_ids.as_deref().unwrap_or(&[]))
            .await?;
        let account_ids = self
            .checked_accounts(caller, new.account_ids.as_deref().unwrap_or(&[]))
            .await?;
        let now = self.clock.now();
        let mut webhook = Webhook {
            id: WebhookId::generate(now.timestamp()),
            owner_id: caller.owner.clone(),
            name,
            url: url.to_string(),
            secret: None,
            events,
            is_active: new.is_active.unwrap_or(true),
            custom_headers,
            disabled_resource_groups: Self::with_caller_groups(caller, groups),
            profile_ids,
            account_ids,
            last_fired_at: None,
            failure_count: 0,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        webhook.secret = secret.map(|s| self.seal_secret(&webhook, &s));
        if !self
            .scoped(caller)
            .insert_webhook(&webhook, MAX_WEBHOOKS)
            .await?
        {
            return Err(ServiceError::BadRequest {
                code: "webhook_limit_reached",
                message: format!("A user can have at most {MAX_WEBHOOKS} webhooks"),
                param: None,
            });
        }
        tracing::info!(webhook = %webhook.id, "webhook created");
        Ok(webhook)
    }

    /// Applies the fields that were sent; `id` comes from `webhookId` (or its deprecated
    /// aliases).
    pub async fn update_webhook(
        &self,
        caller: &Caller,
        id: Option<&str>,
        changes: NewWebhook,
    ) -> ServiceResult<Webhook> {
        caller.require(ResourceGroup::Webhooks, true)?;
        let id = parse_webhook_id(id)?;
        let current = self.visible_webhook(caller, &id).await?;
        let allow_private = self.webhooks.settings.allow_private;
        let mut patch = WebhookPatch {
            name: changes.name.as_deref().map(validate_name).transpose()?,
            url: changes
                .url
                .as_deref()
                .map(|u| target::parse_target(u, allow_private).map(|u| u.to_string()))
                .transpose()?,
            events: changes.events.as_deref().map(validate_events).transpose()?,
            is_active: changes.is_active,
            custom_headers: changes
                .custom_headers
                .as_ref()
                .map(validate_headers)
                .transpose()?,
            ..Default::default()
        };
        if let Some(s) = changes.secret.as_deref() {
            patch.secret = Some(validate_secret(s)?.map(|s| self.seal_secret(&current, &s)));
        }
        // A restricted key can neither clear nor widen a subscription past its own groups.
        match changes.disabled_resource_groups.as_deref() {
            Some(g) => {
                patch.disabled_resource_groups =
                    Some(Self::with_caller_groups(caller, validate_groups(g)?));
            }
            None if caller.is_restricted() => {
                patch.disabled_resource_groups = Some(Self::with_caller_groups(
                    caller,
                    current.disabled_resource_groups.clone(),
                ));
            }
            None => {}
        }
        // An unchanged list is taken as it is (an account in it may be gone by now).
        if let Some(ids) = changes.profile_ids.as_deref() {
            let same = ids
                .iter()
                .map(String::as_str)
                .eq(current.profile_ids.iter().map(|i| i.as_str()));
            if !same {
                patch.profile_ids = Some(self.checked_profiles(caller, ids).await?);
            }
        }
        if let Some(ids) = changes.account_ids.as_deref() {
            let same = ids
                .iter()
                .map(String::as_str)
                .eq(current.account_ids.iter().map(|i| i.as_str()));
            if !same {
                patch.account_ids = Some(self.checked_accounts(caller, ids).await?);
            }
        }
        self.scoped(caller)
            .update_webhook(&id, &patch, self.clock.now())
            .await?
            .ok_or(ServiceError::NotFound { what: "Webhook" })
    }

    pub async fn delete_webhook(&self, caller: &Caller, id: Option<&str>) -> ServiceResult<()> {
        caller.require(ResourceGroup::Webhooks, true)?;
        let id = parse_webhook_id(id)?;
        self.visible_webhook(caller, &id).await?;
        if !self.scoped(caller).delete_webhook(&id).await? {
            return Err(ServiceError::NotFound { what: "Webhook" });
        }
        tracing::info!(webhook = %id, "webhook deleted");
        Ok(())
    }

    /// One synchronous delivery of a test payload: `webhook.test`, or a sample of `event`.
    pub async fn test_webhook(
        &self,
        caller: &Caller,
        id: Option<&str>,
        event: Option<&str>,
    ) -> ServiceResult<Fired> {
        caller.require(ResourceGroup::Webhooks, true)?;
        let id = parse_webhook_id(id)?;
        let webhook = self.visible_webhook(caller, &id).await?;
        let event = event.map(str::trim).filter(|e| !e.is_empty());
        if let Some(e) = event
            && !events::is_event(e)
        {
            return Err(invalid("event", format!("{e:?} is not a webhook event")));
        }
        let name = event.unwrap_or(events::TEST_EVENT);
        let group = events::group_of(name);
        if webhook.disabled_resource_groups.iter().any(|g| g == group)
            || caller.disabled_resource_groups.iter().any(|g| g == group)
        {
            return Err(ServiceError::Forbidden {
                message: format!("The '{group}' resource group is disabled for this webhook"),
                required_group: Some(group),
            });
        }
        let now = self.clock.now();
        let event_id = plugboard_store::outbox::new_event_id(now);
        let body = events::test_body(&event_id, event, now).to_string();
        let log = self
            .attempt_delivery(&webhook, &event_id, name, &body, 1, true)
            .await?;
        Ok(fired(&log, "Test webhook sent successfully"))
    }

    pub async fn webhook_logs(
        &self,
        caller: &Caller,
        filter: WebhookLogFilter,
        skip: u64,
        limit: u64,
    ) -> ServiceResult<(Vec<WebhookLog>, u64)> {
        caller.require(ResourceGroup::Webhooks, false)?;
        if caller.profile_ids.is_some() {
            // A profile-scoped key reads the logs of the subscriptions it can see.
            let Some(w) = &filter.webhook_id else {
                return Err(invalid(
                    "webhookId",
                    "a profile-scoped key must name the webhook whose logs it reads",
                ));
            };
            self.visible_webhook(caller, w).await?;
        }
        Ok(self
            .scoped(caller)
            .list_webhook_logs(&filter, skip, limit)
            .await?)
    }

    /// Sends a logged event again, byte for byte, to the subscription's current URL.
    pub async fn redeliver_webhook_event(
        &self,
        caller: &Caller,
        webhook_id: Option<&str>,
        event_id: Option<&str>,
    ) -> ServiceResult<Fired> {
        caller.require(ResourceGroup::Webhooks, true)?;
        let id = parse_webhook_id(webhook_id)?;
        let event_id = event_id
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| invalid("eventId", "eventId is required"))?;
        let webhook = self.visible_webhook(caller, &id).await?;
        let filter = WebhookLogFilter {
            webhook_id: Some(id.clone()),
            event_id: Some(event_id.to_owned()),
            ..Default::default()
        };
        let (latest, _) = self.scoped(caller).list_webhook_logs(&filter, 0, 1).await?;
        let Some(last) = latest.into_iter().next() else {
            return Err(ServiceError::NotFound {
                what: "Webhook event",
            });
        };
        let now = self.clock.now();
        if last.created_at < now - Duration::days(LOG_RETENTION_DAYS) {
            return Err(ServiceError::Conflict {
                code: "redelivery_window_expired",
                message: format!(
                    "Events can be redelivered for {LOG_RETENTION_DAYS} days after delivery"
                ),
                details: None,
            });
        }
        let log = self
            .attempt_delivery(
                &webhook,
                &last.event_id,
                &last.event,
                &last.request_body,
                last.attempt_number + 1,
                last.test,
            )
            .await?;
        Ok(fired(&log, "Event redelivered"))
    }
}

fn fired(log: &WebhookLog, ok: &str) -> Fired {
    match log.status {
        plugboard_store::DeliveryStatus::Success => Fired {
            success: true,
            message: ok.to_owned(),
        },
        plugboard_store::DeliveryStatus::Failed => Fired {
            success: false,
            message: format!(
                "Delivery failed: {}",
                log.error_message.as_deref().unwrap_or("no response")
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_checked_and_deduplicated() {
        assert_eq!(
            validate_events(&["account.connected".into(), "account.connected".into()]).unwrap(),
            ["account.connected"]
        );
        assert!(validate_events(&[]).is_err());
        assert!(validate_events(&["account.exploded".into()]).is_err());
    }

    #[test]
    fn custom_headers_cannot_override_transport_or_signature_headers() {
        let ok: BTreeMap<String, String> = [("Authorization".into(), "Bearer x".into())].into();
        assert!(validate_headers(&ok).is_ok());
        for name in [
            "Host",
            "content-type",
            "X-Zernio-Signature",
            "x-plugboard-signature",
            "bad name",
        ] {
            let h: BTreeMap<String, String> = [(name.to_owned(), "v".to_owned())].into();
            assert!(validate_headers(&h).is_err(), "{name}");
        }
        let crlf: BTreeMap<String, String> = [("X-A".into(), "a\r\nX-B: b".into())].into();
        assert!(validate_headers(&crlf).is_err());
    }
}
