//! Callback overhead: `GET /connect/{platform}/callback` timed from the browser's side,
//! minus the latency the sandbox's token endpoint was told to add (`slow` knob). What is
//! left is Plugboard's own work plus the unslowed calls it makes (the identity lookup).

use crate::Res;
use crate::flows;
use crate::load::histogram;
use crate::metrics::{Scrape, histogram_delta};
use crate::procs::control_client;
use crate::servers::{self, Server};
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct CallbackSection {
    pub platform: String,
    pub flows: usize,
    pub concurrency: usize,
    pub injected_ms: u64,
    /// Whole callback as the browser saw it, microseconds.
    pub total: Histogram<u64>,
    /// Server-side means (ms) from its metrics: the whole callback, and the token
    /// exchange inside it.
    pub server_callback_ms: f64,
    pub server_exchange_ms: f64,
}

impl CallbackSection {
    pub fn overhead_ms(&self, q: f64) -> f64 {
        self.total.value_at_quantile(q) as f64 / 1000.0 - self.injected_ms as f64
    }

    pub fn mean_overhead_ms(&self) -> f64 {
        self.total.mean() / 1000.0 - self.injected_ms as f64
    }
}

pub struct Settings {
    pub platform: String,
    pub flows: usize,
    pub warmup_flows: usize,
    pub concurrency: usize,
    pub injected_ms: u64,
}

/// Runs `n` flows, `concurrency` at a time; returns the callback latencies.
async fn run_flows(
    server: &Server,
    profile: &str,
    s: &Settings,
    n: usize,
    tag: &str,
) -> Res<Histogram<u64>> {
    let client = control_client()?;
    let results: Vec<Res<u64>> = futures::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move {
                let auth = flows::start(&client, server, &s.platform, profile).await?;
                let cb = flows::consent(&client, &auth, &format!("cb_{tag}_{i}")).await?;
                let started = Instant::now();
                flows::callback(&client, &cb).await?;
                Ok(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX))
            }
        })
        .buffer_unordered(s.concurrency)
        .collect()
        .await;
    let mut h = histogram()?;
    for r in results {
        h.saturating_record(r?.max(1));
    }
    Ok(h)
}

pub async fn measure(
    server: &Server,
    sandbox_url: &str,
    s: &Settings,
    progress: &dyn Fn(&str),
) -> Res<CallbackSection> {
    let profile = servers::default_profile(server).await?;
    servers::set_fault(
        sandbox_url,
        json!({"platform": s.platform, "token": "slow", "slowMillis": s.injected_ms}),
    )
    .await?;
    progress(&format!(
        "{} warm-up flows, then {} timed ({} at a time, token endpoint +{} ms)",
        s.warmup_flows, s.flows, s.concurrency, s.injected_ms
    ));
    let tag = servers::random_hex(3);
    run_flows(server, &profile, s, s.warmup_flows, &format!("w{tag}")).await?;
    let client = control_client()?;
    let metrics = server.url("/metrics");
    let before = Scrape::fetch(&client, &metrics).await?;
    let total = run_flows(server, &profile, s, s.flows, &tag).await?;
    let after = Scrape::fetch(&client, &metrics).await?;
    servers::set_fault(sandbox_url, json!({"platform": s.platform})).await?;
    let filter = [("platform", s.platform.as_str())];
    let cb = histogram_delta(
        &before,
        &after,
        "plugboard_callback_duration_seconds",
        &filter,
    );
    let ex = histogram_delta(
        &before,
        &after,
        "plugboard_token_exchange_duration_seconds",
        &filter,
    );
    Ok(CallbackSection {
        platform: s.platform.clone(),
        flows: s.flows,
        concurrency: s.concurrency,
        injected_ms: s.injected_ms,
        total,
        server_callback_ms: cb.seconds * 1000.0 / cb.count.max(1.0),
        server_exchange_ms: ex.seconds * 1000.0 / ex.count.max(1.0),
    })
}
