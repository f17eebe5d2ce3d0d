//! Platform API usage per platform and UTC day: what every replica adds after each platform
//! call, in one atomic step of the backend (SQLite `INSERT … ON CONFLICT DO UPDATE`,
//! MongoDB `$inc`/`$max` on one document), so replicas sharing a store share the counts.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use plugboard_core::Platform;

use crate::{QueuedEvent, StoreResult};

/// Meta's usage percentages, as the highest seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetaPercentages {
    pub call_count: u32,
    pub total_cputime: u32,
    pub total_time: u32,
}

impl MetaPercentages {
    pub fn highest(&self) -> u32 {
        self.call_count.max(self.total_cputime).max(self.total_time)
    }
}

/// A rate-limit window as a platform last reported it (X, Reddit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSeen {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_at: Option<DateTime<Utc>>,
    pub seen_at: DateTime<Utc>,
}

/// What one call adds to its platform's day.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageIncrement {
    pub platform: Platform,
    pub day: NaiveDate,
    pub at: DateTime<Utc>,
    pub calls: u64,
    pub units: u64,
    pub quota_errors: u64,
    /// Each percentage is kept as the highest of the day.
    pub app_usage: Option<MetaPercentages>,
    pub business_usage: Option<MetaPercentages>,
    /// Replaces the day's snapshot.
    pub rate_limit: Option<RateLimitSeen>,
    /// The platform refuses calls until then; the latest of the day is kept.
    pub blocked_until: Option<DateTime<Utc>>,
}

impl UsageIncrement {
    /// One answered call and nothing else.
    pub fn call(platform: Platform, at: DateTime<Utc>) -> Self {
        Self {
            platform,
            day: at.date_naive(),
            at,
            calls: 1,
            units: 0,
            quota_errors: 0,
            app_usage: None,
            business_usage: None,
            rate_limit: None,
            blocked_until: None,
        }
    }
}

/// One platform's usage on one UTC day.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformUsage {
    pub platform: Platform,
    pub day: NaiveDate,
    pub calls: u64,
    pub units: u64,
    pub quota_errors: u64,
    pub app_usage: Option<MetaPercentages>,
    pub business_usage: Option<MetaPercentages>,
    pub rate_limit: Option<RateLimitSeen>,
    pub blocked_until: Option<DateTime<Utc>>,
    /// When the day's warning was given (at most once per platform and day).
    pub warned_at: Option<DateTime<Utc>>,
    pub last_call_at: Option<DateTime<Utc>>,
}

impl PlatformUsage {
    /// A day nothing was recorded on.
    pub fn empty(platform: Platform, day: NaiveDate) -> Self {
        Self {
            platform,
            day,
            calls: 0,
            units: 0,
            quota_errors: 0,
            app_usage: None,
            business_usage: None,
            rate_limit: None,
            blocked_until: None,
            warned_at: None,
            last_call_at: None,
        }
    }
}

/// The day key both backends store: `YYYY-MM-DD`, which sorts like the days.
pub(crate) fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

pub(crate) fn parse_day(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
}

#[async_trait]
pub trait QuotaStore: Send + Sync {
    /// Adds one call's usage to its platform and day in one atomic step, whatever other
    /// replicas add at the same time, and returns the day's totals after it.
    async fn add_platform_usage(&self, usage: &UsageIncrement) -> StoreResult<PlatformUsage>;
    /// Every platform's recorded days from `from` to `to` (both included), by day then
    /// platform.
    async fn platform_usage(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<PlatformUsage>>;
    /// Takes the day's quota warning of `platform`: `true` for exactly one caller per
    /// platform and day, and only then is `event` queued, in the same step (see
    /// [`crate::outbox`]).
    async fn claim_quota_warning(
        &self,
        platform: Platform,
        day: NaiveDate,
        event: Option<&QueuedEvent>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
