//! Two read-only views an agent asks for that the REST API answers only in pieces: what
//! each platform offers here, and how the caller's connections are doing.

use crate::auth::ResourceGroup;
use crate::{Caller, ServiceResult, Services};
use chrono::Duration;
use plugboard_core::Platform;
use plugboard_platforms::Flavor;
use plugboard_store::{AccountQuery, DeliveryStatus, PageRequest, WebhookLogFilter};
use serde::Serialize;
use std::collections::BTreeMap;

/// How a user connects an account of a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectMethod {
    /// A link to the platform's consent page (`start_connect`).
    Oauth,
    /// A handle and an app password (`connect_bluesky`).
    AppPassword,
    /// A code the user sends to the bot (`start_telegram_connect`).
    BotCode,
    /// A Meta login, or WhatsApp Business API credentials.
    MetaLoginOrCredentials,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformInfo {
    pub platform: Platform,
    pub category: plugboard_core::platform::Category,
    pub connect_method: ConnectMethod,
    /// What the user picks after the consent (a Page, a board…), if anything.
    pub selects: Option<&'static str>,
    /// Whether this server can connect it now (app credentials set, or the sandbox).
    pub configured: bool,
    /// Served by the built-in sandbox instead of the real network.
    pub sandboxed: bool,
}

fn selects(platform: Platform) -> Option<&'static str> {
    match platform {
        Platform::Facebook => Some("a Facebook Page"),
        Platform::Instagram => Some("an Instagram professional account (with Facebook Login)"),
        Platform::Linkedin => Some("the personal profile or an organization page"),
        Platform::Pinterest => Some("a board"),
        Platform::Googlebusiness => Some("a business location"),
        Platform::Snapchat => Some("a public profile"),
        Platform::Whatsapp => Some("a phone number"),
        Platform::Telegram => Some("a channel or group (by sending the code there)"),
        _ => None,
    }
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformUsage {
    pub accounts: u64,
    pub active: u64,
    pub needs_reconnection: u64,
    /// Accounts whose last refresh failed (transiently; they are retried).
    pub refresh_failing: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageStats {
    pub total_accounts: u64,
    pub needs_reconnection: u64,
    pub refresh_failing: u64,
    pub by_platform: BTreeMap<String, PlatformUsage>,
    pub webhooks: WebhookStats,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookStats {
    /// The window the delivery counts cover.
    pub window_days: i64,
    pub delivered: u64,
    pub failed: u64,
    /// Delivered ÷ all attempts, `null` when there were none.
    pub success_rate: Option<f64>,
}

const STATS_WINDOW_DAYS: i64 = 7;

impl Services {
    /// Every platform with how it connects and whether this server can connect it.
    pub fn platform_overview(&self) -> ServiceResult<Vec<PlatformInfo>> {
        let ctx = self.connect_context()?;
        Ok(Platform::ALL
            .into_iter()
            .map(|platform| {
                let (method, configured) = match platform {
                    Platform::Bluesky => (ConnectMethod::AppPassword, ctx.bluesky.is_some()),
                    Platform::Telegram => (ConnectMethod::BotCode, ctx.telegram.is_some()),
                    Platform::Whatsapp => (
                        ConnectMethod::MetaLoginOrCredentials,
                        ctx.whatsapp.is_some()
                            || ctx
                                .connector(Platform::Facebook, Flavor::Standard)
                                .is_some(),
                    ),
                    p => (ConnectMethod::Oauth, ctx.connectors.is_configured(p)),
                };
                PlatformInfo {
                    platform,
                    category: platform.category(),
                    connect_method: method,
                    selects: selects(platform),
                    configured,
                    sandboxed: ctx.is_sandboxed(platform),
                }
            })
            .collect())
    }

    /// The caller's accounts per platform, refresh trouble, and webhook delivery success
    /// over the last week.
    pub async fn usage_stats(&self, caller: &Caller) -> ServiceResult<UsageStats> {
        caller.require(ResourceGroup::Accounts, false)?;
        let page = self
            .scoped(caller)
            .list_accounts(&AccountQuery {
                profile_ids: caller.profile_ids.clone(),
                page: PageRequest::All,
                ..AccountQuery::default()
            })
            .await?;
        let mut by_platform: BTreeMap<String, PlatformUsage> = BTreeMap::new();
        for a in &page.accounts {
            let u = by_platform.entry(a.platform.to_string()).or_default();
            u.accounts += 1;
            u.active += u64::from(a.is_active);
            u.needs_reconnection += u64::from(a.needs_reconnection);
            u.refresh_failing += u64::from(a.refresh_failures > 0);
        }
        let webhooks = if caller.require(ResourceGroup::Webhooks, false).is_ok() {
            let since = self.clock.now() - Duration::days(STATS_WINDOW_DAYS);
            let count = |status| {
                let filter = WebhookLogFilter {
                    status: Some(status),
                    ..WebhookLogFilter::default()
                };
                async move {
                    // Newest first: walk pages until one is older than the window.
                    let mut n = 0u64;
                    let mut skip = 0u64;
                    loop {
                        let (logs, _) = self
                            .store
                            .list_webhook_logs(&caller.owner, &filter, skip, 500)
                            .await?;
                        let fresh = logs.iter().filter(|l| l.created_at >= since).count() as u64;
                        n += fresh;
                        if logs.len() < 500 || fresh < logs.len() as u64 {
                            return ServiceResult::Ok(n);
                        }
                        skip += 500;
                    }
                }
            };
            let delivered = count(DeliveryStatus::Success).await?;
            let failed = count(DeliveryStatus::Failed).await?;
            let all = delivered + failed;
            WebhookStats {
                window_days: STATS_WINDOW_DAYS,
                delivered,
                failed,
                success_rate: (all > 0).then(|| delivered as f64 / all as f64),
            }
        } else {
            WebhookStats {
                window_days: STATS_WINDOW_DAYS,
                delivered: 0,
                failed: 0,
                success_rate: None,
            }
        };
        Ok(UsageStats {
            total_accounts: page.total,
            needs_reconnection: by_platform.values().map(|u| u.needs_reconnection).sum(),
            refresh_failing: by_platform.values().map(|u| u.refresh_failing).sum(),
            by_platform,
            webhooks,
        })
    }
}
