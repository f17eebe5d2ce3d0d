//! Memory of the release binary (RSS idle, with connect flows started, with their callbacks
//! in flight at a slowed provider) and the time from spawn to `/readyz` answering 200.

use crate::Res;
use crate::flows;
use crate::procs::{Launcher, control_client, peak_rss_kib, rss_kib};
use crate::servers::{self, Platforms, Server, ServerSpec, Store};
use futures::StreamExt;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct MemorySection {
    pub idle_after: Duration,
    pub idle_kib: u64,
    pub flows: usize,
    /// After `flows` connects were started (sessions stored, users at the consent page).
    pub started_kib: u64,
    /// Highest RSS sampled while the `flows` callbacks waited on the slowed token endpoint.
    pub in_flight_kib: u64,
    pub in_flight_latency_ms: u64,
    /// How many callbacks were in flight at the sample that saw the highest RSS.
    pub in_flight_seen: usize,
    pub peak_kib: u64,
}

#[derive(Debug, Clone)]
pub struct StartSection {
    /// Fresh data directory: creates the database, key file, owner, profile and key.
    pub fresh: Vec<Duration>,
    /// The same data directory again.
    pub existing: Vec<Duration>,
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s.get(s.len() / 2).copied().unwrap_or_default()
}

impl StartSection {
    pub fn fresh_median(&self) -> Duration {
        median(&self.fresh)
    }
    pub fn existing_median(&self) -> Duration {
        median(&self.existing)
    }
}

pub struct Settings {
    pub workers: usize,
    pub idle: Duration,
    pub flows: usize,
    pub in_flight_latency_ms: u64,
    pub platform: String,
    pub start_runs: usize,
}

fn sqlite_spec(dir: &Path, platforms: Platforms, workers: usize) -> ServerSpec {
    ServerSpec {
        data_dir: dir.to_path_buf(),
        store: Store::Sqlite,
        platforms,
        workers,
        key: servers::random_key(),
        encryption_key: None,
        extra_env: vec![],
    }
}

pub async fn memory(
    launcher: &Launcher,
    sandbox_url: &str,
    s: &Settings,
    work: &Path,
    progress: &dyn Fn(&str),
) -> Res<MemorySection> {
    let spec = sqlite_spec(
        &work.join("memory-data"),
        Platforms::External(sandbox_url.to_owned()),
        s.workers,
    );
    let server: Server =
        servers::start_plugboard(launcher, &spec, &work.join("memory-server.log"), "server")
            .await?;
    let pid = server.proc.pid;
    progress(&format!("idle for {:.0} s", s.idle.as_secs_f64()));
    tokio::time::sleep(s.idle).await;
    let idle_kib = rss_kib(pid)?;
    let profile = servers::default_profile(&server).await?;
    progress(&format!("starting {} connect flows", s.flows));
    let client = control_client()?;
    let auth_urls: Vec<Res<String>> = futures::stream::iter(0..s.flows)
        .map(|_| flows::start(&client, &server, &s.platform, &profile))
        .buffer_unordered(16)
        .collect()
        .await;
    let started_kib = rss_kib(pid)?;
    let tag = servers::random_hex(3);
    let mut callbacks = Vec::new();
    for (i, a) in auth_urls.into_iter().enumerate() {
        callbacks.push(flows::consent(&client, &a?, &format!("mem_{tag}_{i}")).await?);
    }
    servers::set_fault(
        sandbox_url,
        json!({"platform": s.platform, "token": "slow", "slowMillis": s.in_flight_latency_ms}),
    )
    .await?;
    progress(&format!(
        "{} callbacks in flight (token endpoint +{} ms)",
        s.flows, s.in_flight_latency_ms
    ));
    // One connection per browser: every callback is in flight at once.
    let browsers = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(s.flows)
        .timeout(Duration::from_secs(60))
        .build()?;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = callbacks
        .into_iter()
        .map(|cb| {
            let browsers = browsers.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let r = flows::callback(&browsers, &cb).await;
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                r
            })
        })
        .collect();
    let mut in_flight_kib = 0;
    let mut in_flight_seen = 0;
    let sample_for = Duration::from_millis(s.in_flight_latency_ms.saturating_sub(200));
    let sampling = tokio::time::Instant::now();
    while sampling.elapsed() < sample_for {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rss = rss_kib(pid)?;
        if rss > in_flight_kib {
            in_flight_kib = rss;
            in_flight_seen = s.flows - done.load(std::sync::atomic::Ordering::SeqCst);
        }
    }
    for t in tasks {
        t.await??;
    }
    servers::set_fault(sandbox_url, json!({"platform": s.platform})).await?;
    let peak_kib = peak_rss_kib(pid)?;
    server.proc.stop().await;
    Ok(MemorySection {
        idle_after: s.idle,
        idle_kib,
        flows: s.flows,
        started_kib,
        in_flight_kib,
        in_flight_latency_ms: s.in_flight_latency_ms,
        in_flight_seen,
        peak_kib,
    })
}

/// Spawn to `/readyz` = 200, on SQLite with the built-in sandbox (what `cargo run` starts).
pub async fn start_to_ready(launcher: &Launcher, s: &Settings, work: &Path) -> Res<StartSection> {
    let mut fresh = Vec::new();
    let mut existing = Vec::new();
    for i in 0..s.start_runs {
        let dir = work.join(format!("start-{i}"));
        let spec = sqlite_spec(&dir, Platforms::InProcess, s.workers);
        let log = work.join(format!("start-{i}.log"));
        let first = servers::start_plugboard(launcher, &spec, &log, "server").await?;
        fresh.push(first.ready_after);
        first.proc.stop().await;
        let again = servers::start_plugboard(launcher, &spec, &log, "server").await?;
        existing.push(again.ready_after);
        again.proc.stop().await;
    }
    Ok(StartSection { fresh, existing })
}
