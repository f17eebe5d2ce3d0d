//! The usage sink every connector reports to: each answered platform call becomes one
//! atomic increment of its platform's day in the store, a quota error a block until the
//! platform's reset, and crossing [`WARNING_PERCENT`] of a limit the day's one warning.

use super::{QuotaSettings, WARNING_EVENT, WARNING_PERCENT, end_of_day, used};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use plugboard_platforms::usage::{MetaUsage, quota_measure};
use plugboard_platforms::{PlatformCall, QuotaMeasure, UsageSink};
use plugboard_store::outbox::new_event_id;
use plugboard_store::{
    MetaPercentages, PlatformUsage, QueuedEvent, RateLimitSeen, Store, UsageIncrement,
};
use serde_json::json;
use std::sync::Arc;

/// How long a Meta app is left alone once it reports usage at its limit: Meta's platform
/// rate limits count over a rolling hour.
const META_BACK_OFF: TimeDelta = TimeDelta::hours(1);

/// Records platform calls in the store ([`plugboard_store::QuotaStore`]).
pub struct QuotaRecorder {
    store: Arc<dyn Store>,
    settings: Arc<QuotaSettings>,
    metrics: Option<Arc<crate::metrics::ServiceMetrics>>,
}

impl QuotaRecorder {
    pub fn new(store: Arc<dyn Store>, settings: Arc<QuotaSettings>) -> Self {
        Self {
            store,
            settings,
            metrics: None,
        }
    }

    /// The same recorder also counting calls and open circuits in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::ServiceMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn count_call(&self, platform: plugboard_core::Platform, outcome: &str) {
        if let Some(m) = &self.metrics {
            m.platform_calls
                .with_label_values(&[platform.as_str(), outcome])
                .inc();
        }
    }
}

/// What `call` adds to its platform's day.
fn increment(settings: &QuotaSettings, call: &PlatformCall) -> UsageIncrement {
    let day = call.at.date_naive();
    let refused = call.quota_exceeded.map(|q| {
        q.reset_at
            .filter(|r| *r > call.at)
            .unwrap_or_else(|| end_of_day(day))
    });
    // Meta says how close to its limit the app is, not when it runs out: at the
    // limit, calls wait out Meta's window (or the wait it names).
    let at_limit = match (
        quota_measure(call.platform),
        settings.limit(call.platform),
        call.usage.meta_highest(),
    ) {
        (QuotaMeasure::Percent, Some(limit), Some(pct)) if u64::from(pct) >= limit => Some(
            call.usage
                .regain_access_at
                .unwrap_or(call.at + META_BACK_OFF),
        ),
        _ => None,
    };
    UsageIncrement {
        platform: call.platform,
        day,
        at: call.at,
        calls: 1,
        units: call.units,
        quota_errors: u64::from(call.quota_exceeded.is_some()),
        app_usage: call.usage.app.map(percentages),
        business_usage: call.usage.business.map(percentages),
        rate_limit: call.usage.rate_limit.map(|r| RateLimitSeen {
            limit: r.limit,
            remaining: r.remaining,
            reset_at: r.reset_at,
            seen_at: call.at,
        }),
        blocked_until: refused.max(at_limit),
    }
}

impl QuotaRecorder {
    /// Gives the day's warning when usage is at [`WARNING_PERCENT`] of the limit: one log
    /// line and one event, whichever replica gets there first.
    async fn warn_if_due(&self, day: &PlatformUsage, at: DateTime<Utc>) {
        let Some(limit) = self.settings.limit(day.platform).filter(|l| *l > 0) else {
            return;
        };
        let used = used(day);
        if day.warned_at.is_some()
            || used.saturating_mul(100) < limit.saturating_mul(WARNING_PERCENT)
        {
            return;
        }
        let owner = match self.store.first_owner().await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the first owner for the quota warning");
                return;
            }
        };
        let event = owner.map(|o| warning_event(&o.id, day, used, limit, at));
        match self
            .store
            .claim_quota_warning(day.platform, day.day, event.as_ref(), at)
            .await
        {
            Ok(true) => tracing::warn!(
                platform = %day.platform,
                used,
                limit,
                measure = ?quota_measure(day.platform),
                "platform API usage reached {WARNING_PERCENT}% of today's limit"
            ),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot record the quota warning"),
        }
    }
}

fn percentages(u: MetaUsage) -> MetaPercentages {
    MetaPercentages {
        call_count: u.call_count,
        total_cputime: u.total_cputime,
        total_time: u.total_time,
    }
}

/// `platform.quota.warning`: the envelope and a `quota` object.
fn warning_event(
    owner: &plugboard_core::OwnerId,
    day: &PlatformUsage,
    used: u64,
    limit: u64,
    at: DateTime<Utc>,
) -> QueuedEvent {
    let measure = quota_measure(day.platform);
    let percent = (used as f64 * 10_000.0 / limit as f64).round() / 100.0;
    QueuedEvent::new(
        &new_event_id(at),
        WARNING_EVENT,
        at,
        owner,
        None,
        None,
        None,
        [(
            "quota",
            json!({
                "platform": day.platform.as_str(),
                "day": day.day.format("%Y-%m-%d").to_string(),
                "measure": measure,
                "used": used,
                "limit": limit,
                "percentUsed": percent,
                "calls": day.calls,
                "units": day.units,
                "resetsAt": end_of_day(day.day).to_rfc3339_opts(SecondsFormat::Millis, true),
            }),
        )],
    )
}

#[async_trait]
impl UsageSink for QuotaRecorder {
    fn unanswered(&self, platform: plugboard_core::Platform, outcome: &'static str) {
        self.count_call(platform, outcome);
    }

    fn circuit(&self, platform: plugboard_core::Platform, open: bool) {
        if let Some(m) = &self.metrics {
            m.circuit_open
                .with_label_values(&[platform.as_str()])
                .set(i64::from(open));
        }
    }

    async fn record(&self, call: &PlatformCall) {
        let outcome = match call.status {
            _ if call.quota_exceeded.is_some() => "quota",
            200..=299 => "ok",
            _ => "error",
        };
        self.count_call(call.platform, outcome);
        let inc = increment(&self.settings, call);
        let blocked = inc.blocked_until;
        match self.store.add_platform_usage(&inc).await {
            Ok(day) => {
                match (blocked, call.quota_exceeded.is_some()) {
                    (Some(until), true) => tracing::warn!(
                        platform = %call.platform,
                        endpoint = %call.endpoint,
                        status = call.status,
                        until = %until,
                        "the platform refused a call for quota; connects and refreshes wait"
                    ),
                    (Some(until), false) => tracing::warn!(
                        platform = %call.platform,
                        until = %until,
                        "the platform reports usage at the limit; connects and refreshes wait"
                    ),
                    (None, _) => {}
                }
                self.warn_if_due(&day, call.at).await;
            }
            Err(e) => {
                tracing::warn!(platform = %call.platform, error = %e, "cannot record a platform call")
            }
        }
    }
}

#[cfg(test)]
mod tests;
