//! What Plugboard spends of each platform's API allowance, as data the engine hands to a
//! [`UsageSink`] after every answered call: the platform's own cost units where it has them
//! (YouTube Data API units), the usage headers it sends (Meta's `X-App-Usage` and
//! `X-Business-Use-Case-Usage`, X's `x-rate-limit-*`, Reddit's `x-ratelimit-*`), and whether
//! the answer was the platform's quota error ([`quota_error`]).
//!
//! Facts:
//! - YouTube, developers.google.com/youtube/v3/determine_quota_cost: 10,000 units a day by
//!   default, every request costs at least one unit, quotas reset at midnight Pacific Time;
//!   a used-up quota is HTTP 403 with reason `quotaExceeded` (or `dailyLimitExceeded`).
//! - Meta, developers.facebook.com/docs/graph-api/overview/rate-limiting: usage headers in
//!   percent; throttling error codes 4, 17, 32 and 613.
//! - X, docs.x.com/fundamentals/rate-limits: `x-rate-limit-reset` is a Unix time; 429 when
//!   a limit is exceeded.
//! - Reddit: `X-Ratelimit-Used/Remaining/Reset`, the reset in seconds to the end of the
//!   window (platforms.md §9).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveTime, TimeDelta, TimeZone, Utc};
use plugboard_core::Platform;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::connector::ConnectorError;

/// How a platform's allowance is measured against its daily limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotaMeasure {
    /// The platform's own cost units (YouTube Data API).
    Units,
    /// The highest usage percentage the platform reported today (Meta's app and business
    /// use case rate limits).
    Percent,
    /// Plain calls: the platform publishes no cost units Plugboard can count.
    Calls,
}

/// The measure of one platform's allowance.
pub fn quota_measure(platform: Platform) -> QuotaMeasure {
    match platform {
        Platform::Youtube => QuotaMeasure::Units,
        Platform::Facebook
        | Platform::Instagram
        | Platform::Threads
        | Platform::Whatsapp
        | Platform::Metaads => QuotaMeasure::Percent,
        _ => QuotaMeasure::Calls,
    }
}

/// The daily limit when the operator sets none: YouTube's default project quota of 10,000
/// units (platforms.md §6), and Meta's rate limit, which is reached at 100%. Other
/// platforms publish no daily allowance that fits one number.
pub fn default_daily_limit(platform: Platform) -> Option<u64> {
    match quota_measure(platform) {
        QuotaMeasure::Units => Some(10_000),
        QuotaMeasure::Percent => Some(100),
        QuotaMeasure::Calls => None,
    }
}

/// Whether Plugboard's calls to the platform go through the engine and are counted. The
/// Bluesky and Telegram clients are built on their own libraries and are not.
pub fn is_counted(platform: Platform) -> bool {
    !matches!(platform, Platform::Bluesky | Platform::Telegram)
}

/// Meta's usage percentages (`call_count`, `total_cputime`, `total_time`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetaUsage {
    pub call_count: u32,
    pub total_cputime: u32,
    pub total_time: u32,
}

impl MetaUsage {
    /// The percentage closest to the limit.
    pub fn highest(&self) -> u32 {
        self.call_count.max(self.total_cputime).max(self.total_time)
    }

    /// Each percentage the higher of the two.
    pub fn max(self, other: MetaUsage) -> MetaUsage {
        MetaUsage {
            call_count: self.call_count.max(other.call_count),
            total_cputime: self.total_cputime.max(other.total_cputime),
            total_time: self.total_time.max(other.total_time),
        }
    }

    fn from_json(v: &Value) -> Option<MetaUsage> {
        let obj = v.as_object()?;
        let pct = |k: &str| obj.get(k).and_then(percent);
        let (c, cpu, t) = (pct("call_count"), pct("total_cputime"), pct("total_time"));
        if c.is_none() && cpu.is_none() && t.is_none() {
            return None;
        }
        Some(MetaUsage {
            call_count: c.unwrap_or(0),
            total_cputime: cpu.unwrap_or(0),
            total_time: t.unwrap_or(0),
        })
    }
}

/// A percentage as Meta sends it: an integer, sometimes a float or a numeric string.
fn percent(v: &Value) -> Option<u32> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    // Bounded: a percentage far beyond the limit says no more than "over the limit".
    (n.is_finite() && n >= 0.0).then(|| n.round().min(10_000.0) as u32)
}

/// A rate-limit window as X or Reddit reported it on one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_at: Option<DateTime<Utc>>,
}

/// The usage headers of one answer, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageSnapshot {
    /// Meta `X-App-Usage`.
    pub app: Option<MetaUsage>,
    /// Meta `X-Business-Use-Case-Usage`: each percentage the highest over every business
    /// object and use case of the header.
    pub business: Option<MetaUsage>,
    /// The longest `estimated_time_to_regain_access` (minutes) in
    /// `X-Business-Use-Case-Usage`, as a time.
    pub regain_access_at: Option<DateTime<Utc>>,
    /// X `x-rate-limit-*` or Reddit `x-ratelimit-*`.
    pub rate_limit: Option<RateLimit>,
    /// `Retry-After` in seconds (RFC 9110 §10.2.3), as a time.
    pub retry_at: Option<DateTime<Utc>>,
}

/// A platform family, for its usage headers and its quota error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Graph hosts: `X-App-Usage`, `X-Business-Use-Case-Usage`, throttling codes.
    Meta,
    X,
    Reddit,
    /// RFC 6749 and Google-shaped answers (Google, LinkedIn, Snapchat): no usage headers;
    /// Google's quota reasons.
    Google,
    Other,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn number(headers: &HeaderMap, name: &str) -> Option<f64> {
    header(headers, name)
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|n| n.is_finite() && *n >= 0.0)
}

fn count(n: f64) -> u64 {
    n.round().min(u64::MAX as f64) as u64
}

fn in_seconds(now: DateTime<Utc>, seconds: f64) -> Option<DateTime<Utc>> {
    // A reset beyond a day is not a window this parser understands.
    let secs = seconds.min(86_400.0).ceil() as i64;
    now.checked_add_signed(TimeDelta::try_seconds(secs)?)
}

impl UsageSnapshot {
    pub(crate) fn from_headers(
        family: Family,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) -> UsageSnapshot {
        let mut out = UsageSnapshot {
            retry_at: number(headers, "retry-after").and_then(|s| in_seconds(now, s)),
            ..UsageSnapshot::default()
        };
        match family {
            Family::Meta => {
                out.app = header(headers, "x-app-usage")
                    .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
                    .and_then(|v| MetaUsage::from_json(&v));
                if let Some(v) = header(headers, "x-business-use-case-usage")
                    .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
                {
                    let (usage, regain) = business_usage(&v);
                    out.business = usage;
                    out.regain_access_at = regain
                        .filter(|m| *m > 0)
                        .and_then(|m| in_seconds(now, m as f64 * 60.0));
                }
            }
            Family::X => {
                let limit = number(headers, "x-rate-limit-limit").map(count);
                let remaining = number(headers, "x-rate-limit-remaining").map(count);
                let reset_at = number(headers, "x-rate-limit-reset")
                    .and_then(|t| DateTime::from_timestamp(t as i64, 0));
                if limit.is_some() || remaining.is_some() || reset_at.is_some() {
                    out.rate_limit = Some(RateLimit {
                        limit,
                        remaining,
                        reset_at,
                    });
                }
            }
            Family::Reddit => {
                let used = number(headers, "x-ratelimit-used");
                let remaining = number(headers, "x-ratelimit-remaining");
                let reset_at =
                    number(headers, "x-ratelimit-reset").and_then(|s| in_seconds(now, s));
                if used.is_some() || remaining.is_some() || reset_at.is_some() {
                    out.rate_limit = Some(RateLimit {
                        // Reddit sends what was used and what is left; the window is both.
                        limit: used.zip(remaining).map(|(u, r)| count(u + r)),
                        remaining: remaining.map(count),
                        reset_at,
                    });
                }
            }
            Family::Google | Family::Other => {}
        }
        out
    }

    /// The highest Meta percentage of this answer, app or business.
    pub fn meta_highest(&self) -> Option<u32> {
        let app = self.app.map(|u| u.highest());
        let business = self.business.map(|u| u.highest());
        app.max(business)
    }
}

/// `{"<business id>": [{"type", "call_count", "total_cputime", "total_time",
/// "estimated_time_to_regain_access"}, …], …}` → the highest of each percentage, and the
/// longest wait in minutes.
fn business_usage(v: &Value) -> (Option<MetaUsage>, Option<u64>) {
    let mut usage: Option<MetaUsage> = None;
    let mut regain: Option<u64> = None;
    let Some(objects) = v.as_object() else {
        return (None, None);
    };
    for entry in objects.values().filter_map(Value::as_array).flatten() {
        if let Some(u) = MetaUsage::from_json(entry) {
            usage = Some(usage.map_or(u, |prev| prev.max(u)));
        }
        if let Some(m) = entry
            .get("estimated_time_to_regain_access")
            .and_then(percent)
        {
            regain = Some(regain.map_or(u64::from(m), |prev| prev.max(u64::from(m))));
        }
    }
    (usage, regain)
}

/// One answered platform call, as the engine reports it to the [`UsageSink`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformCall {
    pub platform: Platform,
    /// The method's name where the platform has one (`channels.list`), else the HTTP
    /// method and the endpoint's path as the platform publishes it (`GET /2/users/me`,
    /// `POST /token`), never a query.
    pub endpoint: String,
    /// A call to the OAuth endpoints (token, refresh, exchange, revocation) rather than the
    /// platform's API.
    pub oauth: bool,
    /// Cost in the platform's units (0 where it has none, and for OAuth calls).
    pub units: u64,
    pub status: u16,
    pub usage: UsageSnapshot,
    /// The answer was the platform's quota error.
    pub quota_exceeded: Option<QuotaHit>,
    pub at: DateTime<Utc>,
}

/// The platform refused a call for quota, until `reset_at` when it said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaHit {
    pub reset_at: Option<DateTime<Utc>>,
}

/// Where the engine reports every answered call. Recording must not fail the call: an
/// implementation logs its own failures.
#[async_trait]
pub trait UsageSink: Send + Sync {
    async fn record(&self, call: &PlatformCall);

    /// A call that ended without an answer: `transport` (no usable answer after its
    /// retries) or `circuit_open` (not sent: the platform's breaker is open).
    fn unanswered(&self, _platform: Platform, _outcome: &'static str) {}

    /// The platform's breaker opened (`true`) or closed again.
    fn circuit(&self, _platform: Platform, _open: bool) {}
}

/// A sink that forgets everything (tests, the CLI).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoUsage;

#[async_trait]
impl UsageSink for NoUsage {
    async fn record(&self, _call: &PlatformCall) {}
}

/// The sink of a [`crate::PlatformApp`] that records nothing.
pub fn no_usage() -> Arc<dyn UsageSink> {
    Arc::new(NoUsage)
}

/// The cost of one API method in the platform's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ApiCost {
    pub method: &'static str,
    /// The path as the platform publishes it (before any rebase).
    pub path: &'static str,
    pub name: &'static str,
    pub units: u64,
}

/// A platform's cost table: the methods Plugboard calls, and what any other API call costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CostTable {
    pub methods: &'static [ApiCost],
    pub other_units: u64,
}

impl CostTable {
    pub(crate) fn cost(&self, method: &str, path: &str) -> Option<(&'static str, u64)> {
        self.methods
            .iter()
            .find(|c| c.method == method && c.path == path)
            .map(|c| (c.name, c.units))
    }
}

/// The next midnight in Pacific Time after `now`: when Google resets daily quotas
/// ("Daily quotas reset at midnight Pacific Time (PT)", YouTube quota costs page).
pub(crate) fn next_pacific_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = chrono_tz::America::Los_Angeles;
    let local = now.with_timezone(&tz).date_naive();
    let next = local
        .checked_add_days(Days::new(1))
        .map(|d| d.and_time(NaiveTime::MIN));
    next.and_then(|d| tz.from_local_datetime(&d).earliest())
        .map(|d| d.with_timezone(&Utc))
        // No DST rule puts a gap at midnight in Los Angeles; if one did, a day is safe.
        .unwrap_or(now + TimeDelta::days(1))
}

/// The end of the UTC day: Plugboard's day, which stands for a reset the platform did not
/// name (X's monthly cap, a 429 without headers).
fn end_of_utc_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .checked_add_days(Days::new(1))
        .map(|d| d.and_time(NaiveTime::MIN).and_utc())
        .unwrap_or(now + TimeDelta::days(1))
}

/// How long Plugboard waits after a Meta rate-limit error that names no time: Meta's
/// platform rate limits count over a rolling hour.
const META_WINDOW: TimeDelta = TimeDelta::hours(1);

/// Whether an error answer is the platform's quota or rate-limit refusal, and until when:
/// the reset the platform names, else its documented window (Google: midnight Pacific;
/// Meta: an hour), else the end of the UTC day. `description` is the cleaned text the
/// connector error keeps.
pub(crate) fn quota_error(
    family: Family,
    status: u16,
    body: &Value,
    usage: &UsageSnapshot,
    now: DateTime<Utc>,
    description: impl FnOnce() -> String,
) -> Option<ConnectorError> {
    let reset_at = match family {
        // X: any 429, the per-window limit or the monthly `UsageCapExceeded`.
        Family::X | Family::Reddit if status == 429 => usage
            .rate_limit
            .and_then(|r| r.reset_at)
            .or(usage.retry_at)
            .unwrap_or_else(|| end_of_utc_day(now)),
        Family::Meta if is_meta_throttling(body) => usage
            .regain_access_at
            .or(usage.retry_at)
            .unwrap_or(now + META_WINDOW),
        Family::Google if is_google_quota(body) => next_pacific_midnight(now),
        _ => return None,
    };
    Some(ConnectorError::QuotaExceeded {
        reset_at: Some(reset_at),
        description: description(),
    })
}

/// Graph `error.code` 4 (application), 17 (user), 32 (Page), 613 (custom rate limit),
/// whatever HTTP status came with it (400 or 403). The business use case codes (80000 and
/// up) limit one business object, a WABA or an ad account, not the app: they stay transient
/// platform errors.
fn is_meta_throttling(body: &Value) -> bool {
    body.pointer("/error/code")
        .and_then(Value::as_i64)
        .is_some_and(|c| matches!(c, 4 | 17 | 32 | 613))
}

/// Google's `{"error":{"errors":[{"domain":"youtube.quota","reason":"quotaExceeded"}]}}`
/// and `dailyLimitExceeded` (domain `usageLimits`).
fn is_google_quota(body: &Value) -> bool {
    body.pointer("/error/errors")
        .and_then(Value::as_array)
        .is_some_and(|errors| {
            errors.iter().any(|e| {
                matches!(
                    e.get("reason").and_then(Value::as_str),
                    Some("quotaExceeded" | "dailyLimitExceeded")
                )
            })
        })
}

#[cfg(test)]
mod tests;
