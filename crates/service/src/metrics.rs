//! The service's Prometheus metrics: what an operator asks of connects, refreshes, webhook
//! deliveries and the store. Served at `/metrics` beside the HTTP metrics. Labels are
//! platforms, error codes and outcomes — never ids.

use plugboard_store::StoreObserver;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};
use std::time::Duration;

pub struct ServiceMetrics {
    registry: Registry,
    pub connects_started: IntCounterVec,
    pub connects_completed: IntCounterVec,
    pub connects_failed: IntCounterVec,
    pub callback_duration: HistogramVec,
    pub token_exchange_duration: HistogramVec,
    pub refreshes: IntCounterVec,
    pub webhook_deliveries: IntCounterVec,
    pub webhook_backlog: IntGauge,
    pub store_duration: HistogramVec,
    pub lease_steals: IntCounterVec,
    pub rate_limited: IntCounter,
    pub circuit_open: IntGaugeVec,
    pub platform_calls: IntCounterVec,
}

/// Latency buckets from a millisecond to half a minute (platform calls can be slow).
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

fn register<C: Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
    // Only a second registration of one name fails; each is registered once, here.
    if let Err(e) = registry.register(Box::new(c.clone())) {
        tracing::error!(error = %e, "metric registration failed");
    }
    c
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("static metric {name}: {e}"));
    register(r, c)
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()),
        labels,
    )
    .unwrap_or_else(|e| unreachable!("static metric {name}: {e}"));
    register(r, h)
}

impl Default for ServiceMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ServiceMetrics {
    pub fn new() -> Self {
        let r = Registry::new();
        let backlog = IntGauge::new(
            "plugboard_webhook_backlog",
            "Webhook events and deliveries queued and not yet done",
        )
        .unwrap_or_else(|e| unreachable!("static metric: {e}"));
        let rate_limited = IntCounter::new(
            "plugboard_rate_limited_total",
            "Requests refused with 429 by the per-key rate limit",
        )
        .unwrap_or_else(|e| unreachable!("static metric: {e}"));
        let circuit = IntGaugeVec::new(
            Opts::new(
                "plugboard_circuit_open",
                "1 while calls to a platform fail fast after repeated failures",
            ),
            &["platform"],
        )
        .unwrap_or_else(|e| unreachable!("static metric: {e}"));
        Self {
            connects_started: counter(
                &r,
                "plugboard_connects_started_total",
                "Connect flows started",
                &["platform"],
            ),
            connects_completed: counter(
                &r,
                "plugboard_connects_completed_total",
                "Accounts connected (or reconnected)",
                &["platform"],
            ),
            connects_failed: counter(
                &r,
                "plugboard_connects_failed_total",
                "Connect flows that ended in an error, by error code",
                &["platform", "code"],
            ),
            callback_duration: histogram(
                &r,
                "plugboard_callback_duration_seconds",
                "Time to handle a platform's callback",
                &["platform"],
            ),
            token_exchange_duration: histogram(
                &r,
                "plugboard_token_exchange_duration_seconds",
                "Time of the code-for-token exchange with the platform",
                &["platform"],
            ),
            refreshes: counter(
                &r,
                "plugboard_refreshes_total",
                "Token refreshes by outcome (refreshed, dead, deferred, skipped, unsupported)",
                &["platform", "outcome"],
            ),
            webhook_deliveries: counter(
                &r,
                "plugboard_webhook_deliveries_total",
                "Webhook delivery attempts by outcome (success, retry, failed, dropped)",
                &["outcome"],
            ),
            webhook_backlog: register(&r, backlog),
            store_duration: histogram(
                &r,
                "plugboard_store_operation_duration_seconds",
                "Store operation time (SQLite: read/write; MongoDB: command)",
                &["operation"],
            ),
            lease_steals: counter(
                &r,
                "plugboard_lease_steals_total",
                "Leases and jobs taken over after their holder's lease ran out",
                &["lease"],
            ),
            rate_limited: register(&r, rate_limited),
            circuit_open: register(&r, circuit),
            platform_calls: counter(
                &r,
                "plugboard_platform_calls_total",
                "Calls to platforms by outcome (ok, error, quota, transport, circuit_open)",
                &["platform", "outcome"],
            ),
            registry: r,
        }
    }

    pub fn gather(&self) -> Vec<MetricFamily> {
        self.registry.gather()
    }

    /// A timer for one histogram series; observes when dropped.
    pub fn time(h: &Histogram) -> prometheus::HistogramTimer {
        h.start_timer()
    }
}

impl StoreObserver for ServiceMetrics {
    fn operation(&self, operation: &str, elapsed: Duration) {
        self.store_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
    }

    fn taken_over(&self, kind: &str) {
        self.lease_steals.with_label_values(&[kind]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_registered_under_its_documented_name() {
        let m = ServiceMetrics::new();
        m.connects_started.with_label_values(&["twitter"]).inc();
        m.lease_steals.with_label_values(&["refresh"]).inc();
        m.operation("find", Duration::from_millis(3));
        m.webhook_backlog.set(2);
        let names: Vec<String> = m.gather().iter().map(|f| f.name().to_owned()).collect();
        for name in [
            "plugboard_connects_started_total",
            "plugboard_lease_steals_total",
            "plugboard_store_operation_duration_seconds",
            "plugboard_webhook_backlog",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
    }
}
