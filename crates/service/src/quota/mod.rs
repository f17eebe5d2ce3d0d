//! Platform API quota (docs/quota.md): what Plugboard spent today of each platform app's
//! allowance, in the platform's own units where it has them, against the operator's daily
//! limits; the gate that stops connects and refreshes once a platform is exhausted (its
//! limit reached, or the platform itself refusing calls for quota until a reset); the 80%
//! warning; and the operator's view of it all.
//!
//! The counts come from the platforms crate's usage sink ([`QuotaRecorder`]), which every
//! connector's engine calls after each answered call, and live in the store per platform
//! and UTC day, so replicas sharing a store share them.

mod recorder;

pub use recorder::QuotaRecorder;

use crate::{Caller, ServiceError, ServiceResult, Services};
use chrono::{DateTime, Days, NaiveDate, NaiveTime, SecondsFormat, Utc};
use plugboard_core::Platform;
use plugboard_platforms::QuotaMeasure;
use plugboard_platforms::usage::{default_daily_limit, is_counted, quota_measure};
use plugboard_store::{Permission, PlatformUsage};
use std::collections::BTreeMap;

/// Usage at this share of a limit logs a warning and emits [`WARNING_EVENT`], once per
/// platform and day.
pub const WARNING_PERCENT: u64 = 80;

/// The webhook event of the 80% warning, sent to the first owner's subscriptions.
pub const WARNING_EVENT: &str = "platform.quota.warning";

/// The operator's daily limits, in each platform's measure ([`quota_measure`]): YouTube
/// units, Meta percent, calls elsewhere. A platform without one is not limited by Plugboard
/// (the platform's own quota errors still stop it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaSettings {
    pub daily_limits: BTreeMap<Platform, u64>,
}

impl Default for QuotaSettings {
    /// The platforms' own defaults: YouTube 10,000 units, Meta 100%.
    fn default() -> Self {
        Self {
            daily_limits: Platform::ALL
                .into_iter()
                .filter_map(|p| Some((p, default_daily_limit(p)?)))
                .collect(),
        }
    }
}

impl QuotaSettings {
    pub fn limit(&self, platform: Platform) -> Option<u64> {
        self.daily_limits.get(&platform.login_platform()).copied()
    }
}

/// The first moment of the UTC day after `day`: when Plugboard's own counts start again.
pub fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    day.checked_add_days(Days::new(1))
        .unwrap_or(day)
        .and_time(NaiveTime::MIN)
        .and_utc()
}

/// What the day's usage comes to in the platform's measure.
pub fn used(usage: &PlatformUsage) -> u64 {
    match quota_measure(usage.platform) {
        QuotaMeasure::Units => usage.units,
        QuotaMeasure::Calls => usage.calls,
        QuotaMeasure::Percent => u64::from(
            usage
                .app_usage
                .map(|u| u.highest())
                .max(usage.business_usage.map(|u| u.highest()))
                .unwrap_or(0),
        ),
    }
}

/// Why a platform takes no more connects and refreshes for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exhaustion {
    /// Today's usage reached the configured limit (units or calls).
    LimitReached { used: u64, limit: u64 },
    /// The platform answered with its quota error or reported usage at the limit (Meta's
    /// percentages).
    PlatformRefused,
}

/// A platform that is exhausted, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaBlock {
    pub platform: Platform,
    pub reason: Exhaustion,
    pub reset_at: DateTime<Utc>,
}

impl QuotaBlock {
    pub fn message(&self) -> String {
        let platform = self.platform;
        let reset = self.reset_at.to_rfc3339_opts(SecondsFormat::Secs, true);
        match &self.reason {
            Exhaustion::LimitReached { used, limit } => format!(
                "{platform}'s daily API quota for this server is used up ({used} of {limit} {}); connects and token refreshes on {platform} resume at {reset}",
                unit_name(quota_measure(platform))
            ),
            Exhaustion::PlatformRefused => format!(
                "{platform} is refusing this server's API calls for quota; connects and token refreshes on {platform} resume at {reset}"
            ),
        }
    }

    pub fn to_error(&self) -> ServiceError {
        ServiceError::QuotaExceeded {
            platform: self.platform,
            reset_at: Some(self.reset_at),
            message: self.message(),
        }
    }
}

fn unit_name(measure: QuotaMeasure) -> &'static str {
    match measure {
        QuotaMeasure::Units => "units",
        QuotaMeasure::Percent => "percent",
        QuotaMeasure::Calls => "calls",
    }
}

/// One platform's day as the operator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformQuota {
    pub usage: PlatformUsage,
    pub measure: QuotaMeasure,
    pub limit: Option<u64>,
    pub used: u64,
    /// `used` as a share of `limit`, in percent.
    pub percent_used: Option<f64>,
    pub block: Option<QuotaBlock>,
}

/// Every counted platform's day.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaOverview {
    pub day: NaiveDate,
    pub resets_at: DateTime<Utc>,
    pub platforms: Vec<PlatformQuota>,
    /// Platforms whose calls are not counted (their clients do not use the engine).
    pub not_counted: Vec<Platform>,
}

/// Where `platform` stands, from its rows of yesterday and today (a platform's reset may
/// fall in the next UTC day: YouTube's, at midnight Pacific).
fn standing(
    settings: &QuotaSettings,
    platform: Platform,
    rows: &[PlatformUsage],
    now: DateTime<Utc>,
) -> PlatformQuota {
    let today = now.date_naive();
    let usage = rows
        .iter()
        .find(|u| u.platform == platform && u.day == today)
        .cloned()
        .unwrap_or_else(|| PlatformUsage::empty(platform, today));
    let refused = rows
        .iter()
        .filter(|u| u.platform == platform)
        .filter_map(|u| u.blocked_until)
        .filter(|t| *t > now)
        .max();
    let limit = settings.limit(platform);
    let used = used(&usage);
    let percent_used = limit
        .filter(|l| *l > 0)
        .map(|l| (used as f64 * 10_000.0 / l as f64).round() / 100.0);
    let over = limit.filter(|l| used >= *l && quota_measure(platform) != QuotaMeasure::Percent);
    let block = match (refused, over) {
        (Some(until), _) => Some(QuotaBlock {
            platform,
            reason: Exhaustion::PlatformRefused,
            reset_at: until,
        }),
        (None, Some(limit)) => Some(QuotaBlock {
            platform,
            reason: Exhaustion::LimitReached { used, limit },
            reset_at: end_of_day(today),
        }),
        (None, None) => None,
    };
    PlatformQuota {
        measure: quota_measure(platform),
        usage,
        limit,
        used,
        percent_used,
        block,
    }
}

impl Services {
    /// Whether `platform` is exhausted now. Connects and refreshes call this before they
    /// call the platform.
    pub async fn quota_block(&self, platform: Platform) -> ServiceResult<Option<QuotaBlock>> {
        let platform = platform.login_platform();
        if !is_counted(platform) {
            return Ok(None);
        }
        let now = self.clock.now();
        let today = now.date_naive();
        let rows = self
            .store
            .platform_usage(today.pred_opt().unwrap_or(today), today)
            .await?;
        Ok(standing(&self.quota, platform, &rows, now).block)
    }

    /// Fails with [`ServiceError::QuotaExceeded`] when `platform` is exhausted.
    pub async fn check_quota(&self, platform: Platform) -> ServiceResult<()> {
        match self.quota_block(platform).await? {
            None => Ok(()),
            Some(block) => {
                tracing::info!(platform = %block.platform, reset_at = %block.reset_at, "refused for quota");
                Err(block.to_error())
            }
        }
    }

    /// `GET /v1/admin/quota`: every counted platform's day. Operators only.
    pub async fn quota_overview(&self, caller: &Caller) -> ServiceResult<QuotaOverview> {
        self.require_operator(caller).await?;
        let now = self.clock.now();
        let today = now.date_naive();
        let rows = self
            .store
            .platform_usage(today.pred_opt().unwrap_or(today), today)
            .await?;
        Ok(QuotaOverview {
            day: today,
            resets_at: end_of_day(today),
            platforms: Platform::ALL
                .into_iter()
                .filter(|p| is_counted(*p))
                .map(|p| standing(&self.quota, p, &rows, now))
                .collect(),
            not_counted: Platform::ALL
                .into_iter()
                .filter(|p| !is_counted(*p))
                .collect(),
        })
    }

    /// The operator is the installation's first owner, calling with an unrestricted
    /// read-write key (no profile scope, no disabled resource group).
    pub async fn require_operator(&self, caller: &Caller) -> ServiceResult<()> {
        let first = self.store.first_owner().await?;
        let operator = first.is_some_and(|o| o.id == caller.owner)
            && caller.permission == Permission::ReadWrite
            && caller.profile_ids.is_none()
            && caller.disabled_resource_groups.is_empty();
        if operator {
            Ok(())
        } else {
            tracing::info!(target: "security", key_id = %caller.key_id, "operator route refused");
            Err(ServiceError::Forbidden {
                message: "This route needs an operator key: an unrestricted read-write key of the installation's first owner".into(),
                required_group: None,
            })
        }
    }
}

#[cfg(test)]
mod tests;
