//! The refresh sweep: N accounts seeded through the store with the server's key, their
//! refresh tokens registered at the sandbox (`POST /sandbox/_grants`), the sandbox's token
//! endpoints slowed to a fixed latency, then a server started whose refresh worker finds
//! them all due. Measured from the first refresh to the last, against
//! max over platforms of (accounts × latency ÷ refresh_concurrency).

use crate::Res;
use crate::metrics::{self, Scrape};
use crate::procs::{Launcher, control_client, cpu_seconds};
use crate::servers::{self, Platforms, ServerSpec, Store};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use plugboard_core::{AccountId, Clock, OwnerId, Platform, Secret, SystemClock};
use plugboard_service::refresh::refresh_concurrency;
use plugboard_store::{AccountUpsert, ProfileFilter};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// The service's batch per pass, for the barrier estimate.
pub const SERVICE_BATCH: usize = plugboard_service::refresh::BATCH as usize;

/// The platforms whose fakes renew with the refresh grant.
pub const REFRESH_GRANT_PLATFORMS: &[Platform] = &[
    Platform::Twitter,
    Platform::Linkedin,
    Platform::Tiktok,
    Platform::Youtube,
    Platform::Googlebusiness,
    Platform::Pinterest,
    Platform::Reddit,
    Platform::Snapchat,
];

#[derive(Debug, Clone)]
pub struct SweepConfig {
    pub accounts: usize,
    pub latency_ms: u64,
    pub platforms: Vec<Platform>,
    pub workers: usize,
}

#[derive(Debug, Clone)]
pub struct PlatformShare {
    pub platform: Platform,
    pub accounts: usize,
    pub concurrency: usize,
}

#[derive(Debug, Clone)]
pub struct SweepResult {
    pub accounts: usize,
    pub latency_ms: u64,
    pub shares: Vec<PlatformShare>,
    pub seeding: Duration,
    pub theoretical: Duration,
    pub measured: Duration,
    /// Refreshes the server counted as done.
    pub refreshed: u64,
    /// Refreshes that failed (deferred or dead) or were skipped.
    pub not_refreshed: BTreeMap<String, u64>,
    /// The sandbox's view: users refreshed, how many more than once, reused rotated tokens.
    pub users_refreshed: u64,
    pub users_refreshed_twice: u64,
    pub rotated_reused: u64,
    /// Expected efficiency from the pass structure alone: each pass ends with its slowest
    /// platform's last round.
    pub barrier_efficiency: f64,
    pub server_cpu_cores: f64,
    pub sandbox_cpu_cores: f64,
    /// Mean store time per refresh (ms), from the server's metrics.
    pub store_ms_per_refresh: f64,
    pub store_ops_per_refresh: f64,
    /// (seconds since the first refresh, refreshed so far).
    pub timeline: Vec<(f64, u64)>,
}

impl SweepResult {
    pub fn efficiency(&self) -> f64 {
        self.theoretical.as_secs_f64() / self.measured.as_secs_f64().max(1e-9)
    }
}

/// Account `i`'s platform: a repeating pattern holding each platform as often as its
/// refresh concurrency, interleaved, so every batch is shared in proportion.
fn pattern(platforms: &[Platform]) -> Vec<Platform> {
    let most = platforms
        .iter()
        .map(|p| refresh_concurrency(*p))
        .max()
        .unwrap_or(1);
    let mut out = Vec::new();
    for k in 0..most {
        out.extend(
            platforms
                .iter()
                .filter(|p| k < refresh_concurrency(**p))
                .copied(),
        );
    }
    out
}

fn shares(accounts: usize, pattern: &[Platform]) -> Vec<PlatformShare> {
    let mut counts: BTreeMap<Platform, usize> = BTreeMap::new();
    for i in 0..accounts {
        if let Some(p) = pattern.get(i % pattern.len().max(1)) {
            *counts.entry(*p).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(platform, accounts)| PlatformShare {
            platform,
            accounts,
            concurrency: refresh_concurrency(platform),
        })
        .collect()
}

/// max over platforms of accounts × latency ÷ concurrency.
pub fn theoretical(shares: &[PlatformShare], latency_ms: u64) -> Duration {
    let secs = shares
        .iter()
        .map(|s| s.accounts as f64 * latency_ms as f64 / 1000.0 / s.concurrency as f64)
        .fold(0.0, f64::max);
    Duration::from_secs_f64(secs)
}

/// The share of the theoretical time the pass structure allows: the service takes
/// batches of `SERVICE_BATCH` in expiry order (here: seeding order), and a pass lasts as long as its
/// slowest platform needs rounds of `concurrency`.
pub fn barrier_efficiency(accounts: usize, pattern: &[Platform], latency_ms: u64) -> f64 {
    let mut rounds_total = 0usize;
    let mut start = 0;
    while start < accounts {
        let end = (start + SERVICE_BATCH).min(accounts);
        let mut per: BTreeMap<Platform, usize> = BTreeMap::new();
        for i in start..end {
            if let Some(p) = pattern.get(i % pattern.len().max(1)) {
                *per.entry(*p).or_default() += 1;
            }
        }
        rounds_total += per
            .iter()
            .map(|(p, n)| n.div_ceil(refresh_concurrency(*p)))
            .max()
            .unwrap_or(0);
        start = end;
    }
    let ideal = theoretical(&shares(accounts, pattern), latency_ms).as_secs_f64();
    let structural = rounds_total as f64 * latency_ms as f64 / 1000.0;
    if structural > 0.0 {
        ideal / structural
    } else {
        1.0
    }
}

struct Seeded {
    owner: OwnerId,
    /// The first batch's ids: the first refresh is among them.
    first_ids: Vec<AccountId>,
    took: Duration,
}

/// Writes the accounts through the store with the key the server will use.
async fn seed(
    data_dir: &Path,
    key: &str,
    accounts: usize,
    pattern: &[Platform],
    nonce: &str,
) -> Res<Seeded> {
    let started = Instant::now();
    let mut config = plugboard::Config::for_data_dir(data_dir);
    config.bootstrap_api_key = Some(Secret::new(key.to_owned()));
    let services = plugboard::app::services(&config)
        .await
        .map_err(|e| format!("opening the store: {e}"))?;
    let boot = services
        .bootstrap(config.bootstrap_api_key.as_ref())
        .await
        .map_err(|e| format!("bootstrap: {e}"))?;
    let owner = boot.owner.id;
    let (profiles, _) = services
        .store
        .list_profiles(&owner, &ProfileFilter::default(), 0, Some(1))
        .await?;
    let profile = profiles
        .into_iter()
        .next()
        .ok_or("the bootstrap made no profile")?
        .id;
    let now = services.clock.now();
    // Due (inside the 15-minute margin) but not yet expired, earliest first in seeding
    // order, so the worker meets them in that order.
    let base = now + chrono::Duration::minutes(2);
    let results: Vec<Res<(usize, AccountId)>> = futures::stream::iter(0..accounts)
        .map(|i| {
            let services = services.clone();
            let owner = owner.clone();
            let profile = profile.clone();
            let platform = pattern[i % pattern.len()];
            let nonce = nonce.to_owned();
            async move {
                let uid = format!("bench{i}");
                let context = plugboard_store::Account::tokens_context(&owner, platform, &uid, "");
                let tokens = services.keyring.seal_json(
                    &context,
                    &json!({"tokens": {
                        "access_token": format!("bench-at-{nonce}-{i}"),
                        "refresh_token": refresh_token(&nonce, i),
                    }}),
                );
                let account = services
                    .store
                    .upsert_account(
                        &AccountUpsert {
                            owner_id: owner,
                            profile_id: profile,
                            platform,
                            platform_user_id: uid.clone(),
                            destination_id: String::new(),
                            username: Some(uid),
                            display_name: Some(format!("Bench account {i}")),
                            profile_picture: None,
                            profile_url: None,
                            followers_count: None,
                            parent_account_id: None,
                            enabled: true,
                            metadata: Default::default(),
                            tokens: Some(tokens),
                            token_expires_at: Some(
                                base + chrono::Duration::milliseconds(i64::try_from(i)?),
                            ),
                            scopes: vec![],
                        },
                        None,
                        now,
                    )
                    .await?;
                Ok((i, account.id))
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut first_ids = Vec::new();
    for r in results {
        let (i, id) = r?;
        if i < SERVICE_BATCH {
            first_ids.push(id);
        }
    }
    Ok(Seeded {
        owner,
        first_ids,
        took: started.elapsed(),
    })
}

fn refresh_token(nonce: &str, i: usize) -> String {
    format!("bench-rt-{nonce}-{i}")
}

fn username(i: usize) -> String {
    format!("bench_{i}")
}

/// Registers every account's refresh token at the sandbox and slows its token endpoints.
async fn prepare_sandbox(
    sandbox_url: &str,
    accounts: usize,
    pattern: &[Platform],
    platforms: &[Platform],
    latency_ms: u64,
    nonce: &str,
) -> Res<()> {
    let client = control_client()?;
    for platform in platforms {
        let mine: Vec<usize> = (0..accounts)
            .filter(|i| pattern[i % pattern.len()] == *platform)
            .collect();
        for chunk in mine.chunks(2_000) {
            let grants: Vec<_> = chunk
                .iter()
                .map(
                    |i| json!({"username": username(*i), "refreshToken": refresh_token(nonce, *i)}),
                )
                .collect();
            let r = client
                .post(format!("{sandbox_url}/_grants"))
                .json(&json!({"platform": platform.as_str(), "grants": grants}))
                .send()
                .await?;
            if !r.status().is_success() {
                return Err(format!("POST _grants: {} {}", r.status(), r.text().await?).into());
            }
        }
        servers::set_fault(
            sandbox_url,
            json!({"platform": platform.as_str(), "token": "slow", "slowMillis": latency_ms}),
        )
        .await?;
    }
    Ok(())
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub async fn run(
    launcher: &Launcher,
    cfg: &SweepConfig,
    work: &Path,
    progress: &dyn Fn(&str),
) -> Res<SweepResult> {
    let pattern = pattern(&cfg.platforms);
    if pattern.is_empty() {
        return Err("no sweep platforms".into());
    }
    let shares = shares(cfg.accounts, &pattern);
    let theoretical = theoretical(&shares, cfg.latency_ms);
    let nonce = servers::random_hex(4);
    let sandbox = servers::start_sandbox(launcher, &work.join("sweep-sandbox.log")).await?;
    let data_dir = work.join("sweep-data");
    let key = servers::random_key();
    progress(&format!(
        "seeding {} accounts through the store",
        cfg.accounts
    ));
    let seeded = seed(&data_dir, &key, cfg.accounts, &pattern, &nonce).await?;
    progress(&format!(
        "seeded in {:.1} s; registering their refresh tokens at the sandbox",
        seeded.took.as_secs_f64()
    ));
    prepare_sandbox(
        &sandbox.url,
        cfg.accounts,
        &pattern,
        &cfg.platforms,
        cfg.latency_ms,
        &nonce,
    )
    .await?;
    let spec = ServerSpec {
        data_dir: data_dir.clone(),
        store: Store::Sqlite,
        platforms: Platforms::External(sandbox.url.clone()),
        workers: cfg.workers,
        key: key.clone(),
        encryption_key: None,
        extra_env: vec![("PLUGBOARD_REFRESH_INTERVAL_SECONDS".into(), "1".into())],
    };
    progress(&format!(
        "sweeping (theoretical {:.1} s)",
        theoretical.as_secs_f64()
    ));
    let cpu_sandbox_before = cpu_seconds(sandbox.proc.pid)?;
    let mut server = servers::start_plugboard(
        launcher,
        &spec,
        &work.join("sweep-server.log"),
        "sweep server",
    )
    .await?;
    let cpu_server_before = cpu_seconds(server.proc.pid)?;
    let client = control_client()?;
    let metrics_url = server.url("/metrics");
    let before = Scrape::fetch(&client, &metrics_url).await?;
    let wall_before = Instant::now();
    let limit = theoretical * 4 + Duration::from_secs(60);
    let mut samples: Vec<(i64, u64)> = Vec::new();
    let mut last_sample = Instant::now();
    let (end_ms, after) = loop {
        let scrape = Scrape::fetch(&client, &metrics_url).await?;
        let done = scrape.sum("plugboard_refreshes_total", &[("outcome", "refreshed")]);
        let now_ms = millis(SystemClock.now());
        if done >= cfg.accounts as f64 {
            samples.push((now_ms, done as u64));
            break (now_ms, scrape);
        }
        if last_sample.elapsed() >= Duration::from_millis(500) {
            samples.push((now_ms, done as u64));
            last_sample = Instant::now();
        }
        let failed = scrape.sum("plugboard_refreshes_total", &[("outcome", "dead")])
            + scrape.sum("plugboard_refreshes_total", &[("outcome", "deferred")]);
        if failed > 0.0 {
            return Err(format!(
                "{failed} refreshes failed during the sweep; see {}",
                work.join("sweep-server.log").display()
            )
            .into());
        }
        if wall_before.elapsed() > limit {
            return Err(format!(
                "the sweep did not finish within {limit:?} ({done} of {} refreshed)",
                cfg.accounts
            )
            .into());
        }
        server.proc.check_alive()?;
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let cpu_server = cpu_seconds(server.proc.pid)? - cpu_server_before;
    let cpu_sandbox = cpu_seconds(sandbox.proc.pid)? - cpu_sandbox_before;
    // The first refresh's start: refresh_locked stamps updated_at with the time it began.
    let store_view = plugboard::app::services(&plugboard::Config::for_data_dir(&data_dir))
        .await
        .map_err(|e| format!("reopening the store: {e}"))?;
    let mut first_ms = i64::MAX;
    for id in &seeded.first_ids {
        if let Some(a) = store_view.store.get_account(&seeded.owner, id).await? {
            first_ms = first_ms.min(millis(a.updated_at));
        }
    }
    if first_ms == i64::MAX {
        return Err("no refreshed account among the first batch".into());
    }
    let measured = Duration::from_millis(u64::try_from(end_ms - first_ms).unwrap_or(0));
    let stats: serde_json::Value = client
        .get(format!("{}/_stats", sandbox.url))
        .send()
        .await?
        .json()
        .await?;
    let counts: Vec<u64> = stats["refreshes"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v.as_u64()).collect())
        .unwrap_or_default();
    let mut not_refreshed = BTreeMap::new();
    for outcome in ["dead", "deferred", "skipped", "unsupported"] {
        let n = after.sum("plugboard_refreshes_total", &[("outcome", outcome)])
            - before.sum("plugboard_refreshes_total", &[("outcome", outcome)]);
        if n > 0.0 {
            not_refreshed.insert(outcome.to_owned(), n as u64);
        }
    }
    let refreshed = after.sum("plugboard_refreshes_total", &[("outcome", "refreshed")]) as u64;
    let store = metrics::store_delta(&before, &after);
    let secs = measured.as_secs_f64().max(1e-9);
    let result = SweepResult {
        accounts: cfg.accounts,
        latency_ms: cfg.latency_ms,
        barrier_efficiency: barrier_efficiency(cfg.accounts, &pattern, cfg.latency_ms),
        shares,
        seeding: seeded.took,
        theoretical,
        measured,
        refreshed,
        not_refreshed,
        users_refreshed: counts.len() as u64,
        users_refreshed_twice: counts.iter().filter(|n| **n > 1).count() as u64,
        rotated_reused: stats["rotatedRefreshTokensReused"].as_u64().unwrap_or(0),
        server_cpu_cores: cpu_server / secs,
        sandbox_cpu_cores: cpu_sandbox / secs,
        store_ms_per_refresh: store.seconds * 1000.0 / refreshed.max(1) as f64,
        store_ops_per_refresh: store.count / refreshed.max(1) as f64,
        timeline: samples
            .iter()
            .map(|(t, n)| ((t - first_ms) as f64 / 1000.0, *n))
            .filter(|(t, _)| *t >= 0.0)
            .collect(),
    };
    server.proc.stop().await;
    sandbox.proc.stop().await;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_holds_each_platform_as_often_as_its_concurrency() {
        let p = pattern(&[Platform::Twitter, Platform::Tiktok]);
        assert_eq!(
            p,
            vec![
                Platform::Twitter,
                Platform::Tiktok,
                Platform::Twitter,
                Platform::Tiktok,
                Platform::Tiktok,
                Platform::Tiktok
            ]
        );
    }

    #[test]
    fn theoretical_time_is_the_slowest_platforms_share() {
        let s = shares(600, &pattern(&[Platform::Twitter, Platform::Tiktok]));
        // 200 on X at 2, 400 on TikTok at 4: both 100 rounds of 10 ms.
        assert_eq!(theoretical(&s, 10), Duration::from_secs(1));
    }

    #[test]
    fn a_batch_that_divides_evenly_loses_nothing_to_the_pass_barrier() {
        let p = vec![Platform::Tiktok; 4];
        assert!((barrier_efficiency(1000, &p, 10) - 1.0).abs() < 1e-9);
        // 201 on one platform of 4: a pass of 50 rounds, then one of 1 round for 1 account.
        let lossy = barrier_efficiency(201, &p, 10);
        assert!(lossy < 1.0 && lossy > 0.98, "{lossy}");
    }
}
