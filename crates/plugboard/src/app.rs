//! The application as a value: build it (store, keys, listener), read its port, run it.
//! Tests build it with a config made in code and port 0.

use crate::config::{Config, StoreKind, TelegramUpdates};
use plugboard_core::{Clock, Keyring, Platform, Secret, SystemClock};
use plugboard_http::{Metrics, ServerOptions};
use plugboard_platforms::{BaseUrl, Connectors, Flavor, PlatformApp, UsageSink, build_connector};
use plugboard_service::Services;
use plugboard_service::bootstrap::Bootstrap;
use plugboard_service::connect::ConnectContext;
use plugboard_store::Store;
use plugboard_store::mongo::MongoStore;
use plugboard_store::sqlite::SqliteStore;
use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot open the {backend} store: {message}")]
    Store {
        backend: &'static str,
        message: String,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("encryption key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("first start: {0}")]
    Bootstrap(String),
    #[error("platform {platform}: {message}")]
    Platform { platform: Platform, message: String },
}

/// The Reddit API asks for `<platform>:<app id>:<version> (by /u/<user>)`; operators set
/// theirs with `PLUGBOARD_REDDIT_USER_AGENT`.
fn default_user_agent() -> String {
    format!("web:plugboard:{} (self-hosted)", env!("CARGO_PKG_VERSION"))
}

/// Where the sandbox serves a platform: `<public url>/sandbox/<platform>`.
fn sandbox_base(public_url: &url::Url, platform: Platform) -> String {
    format!(
        "{}/sandbox/{platform}",
        public_url.as_str().trim_end_matches('/')
    )
}

/// One connector per OAuth platform that has app credentials, or that the sandbox serves.
/// Instagram through Facebook Login is the Facebook app's (platforms.md §2b).
/// Every connector reports its calls to `usage` ([`Services::usage_sink`]).
pub fn connect_context(
    config: &Config,
    public_url: &url::Url,
    clock: Arc<dyn Clock>,
    usage: Arc<dyn UsageSink>,
) -> Result<ConnectContext, StartError> {
    let http = plugboard_platforms::http_client()
        .map_err(|e| StartError::Bootstrap(format!("HTTP client: {e}")))?;
    let mut connectors = Connectors::new();
    let mut sandboxed = BTreeSet::new();
    for platform in Platform::ALL {
        if plugboard_platforms::oauth_spec(platform).is_none() {
            continue;
        }
        let flavors: &[Flavor] = if platform == Platform::Instagram {
            &[Flavor::Standard, Flavor::InstagramFacebookLogin]
        } else {
            &[Flavor::Standard]
        };
        for &flavor in flavors {
            let source = if flavor == Flavor::InstagramFacebookLogin {
                Platform::Facebook
            } else {
                platform
            };
            let settings = config.platforms.get(&source).cloned().unwrap_or_default();
            let fail = |message: String| StartError::Platform { platform, message };
            let base = |raw: Option<String>| {
                raw.map(|u| BaseUrl::parse(&u).map_err(|e| fail(e.to_string())))
                    .transpose()
            };
            // Facebook's own scope override is for Pages; Instagram's Facebook Login keeps
            // its Instagram scopes.
            let scopes = if flavor == Flavor::Standard {
                settings.scopes.clone()
            } else {
                None
            };
            let user_agent = settings
                .user_agent
                .clone()
                .unwrap_or_else(default_user_agent);
            let app = match &settings.credentials {
                Some((id, secret)) => PlatformApp {
                    client_id: id.clone(),
                    client_secret: secret.clone(),
                    base_url: base(settings.base_url.as_ref().map(|u| u.to_string()))?,
                    scopes,
                    user_agent,
                    usage: usage.clone(),
                },
                None if config.sandbox => {
                    sandboxed.insert(platform);
                    let scopes = scopes.or_else(|| sandbox_scopes(platform));
                    PlatformApp {
                        client_id: plugboard_sandbox::DEFAULT_CLIENT_ID.into(),
                        client_secret: Secret::new(plugboard_sandbox::DEFAULT_CLIENT_SECRET.into()),
                        base_url: base(Some(
                            settings
                                .base_url
                                .as_ref()
                                .map(|u| u.to_string())
                                .unwrap_or_else(|| sandbox_base(public_url, source)),
                        ))?,
                        scopes,
                        user_agent,
                        usage: usage.clone(),
                    }
                }
                None => continue,
            };
            if let Some(c) = build_connector(platform, flavor, app, http.clone(), clock.clone())
                .map_err(|e| fail(e.to_string()))?
            {
                connectors.insert(flavor, c);
            }
        }
    }
    let mut ctx = ConnectContext::new(connectors, public_url.clone(), sandboxed);
    direct_platforms(config, public_url, clock, &http, usage, &mut ctx)?;
    Ok(ctx)
}

/// Bluesky, Telegram and WhatsApp need no OAuth app: each is served by the real network,
/// an operator's override, or (sandbox on, nothing set) the built-in fake.
fn direct_platforms(
    config: &Config,
    public_url: &url::Url,
    clock: Arc<dyn Clock>,
    http: &reqwest::Client,
    usage: Arc<dyn UsageSink>,
    ctx: &mut ConnectContext,
) -> Result<(), StartError> {
    let settings = |p: Platform| config.platforms.get(&p).cloned().unwrap_or_default();
    let fail =
        |platform: Platform| move |message: String| StartError::Platform { platform, message };
    let sandbox_url = |p: Platform| {
        url::Url::parse(&sandbox_base(public_url, p)).map_err(|e| fail(p)(e.to_string()))
    };

    let bluesky = settings(Platform::Bluesky);
    let entryway = match (&bluesky.service_url, &bluesky.base_url) {
        (Some(u), _) | (None, Some(u)) => u.clone(),
        (None, None) if config.sandbox => {
            ctx.sandboxed.insert(Platform::Bluesky);
            sandbox_url(Platform::Bluesky)?
        }
        (None, None) => url::Url::parse(plugboard_platforms::bluesky::DEFAULT_ENTRYWAY)
            .map_err(|e| fail(Platform::Bluesky)(e.to_string()))?,
    };
    ctx.bluesky = Some(Arc::new(plugboard_platforms::bluesky::BlueskyClient::new(
        entryway,
        http.clone(),
        clock,
    )));

    let whatsapp = settings(Platform::Whatsapp);
    let base = match &whatsapp.base_url {
        Some(u) => Some(u.clone()),
        None if config.sandbox => {
            ctx.sandboxed.insert(Platform::Whatsapp);
            Some(sandbox_url(Platform::Whatsapp)?)
        }
        None => None,
    };
    let base = base
        .map(|u| BaseUrl::parse(u.as_str()).map_err(|e| fail(Platform::Whatsapp)(e.to_string())))
        .transpose()?;
    ctx.whatsapp = Some(Arc::new(
        plugboard_platforms::whatsapp::WhatsAppClient::new(base, http.clone())
            .map_err(|e| fail(Platform::Whatsapp)(e.to_string()))?
            .with_usage(usage),
    ));

    let telegram = settings(Platform::Telegram);
    let (token, api_url, sandboxed) = match (&telegram.bot_token, config.sandbox) {
        (Some(t), _) => (t.clone(), telegram.base_url.clone(), false),
        (None, true) => {
            let url = match &telegram.base_url {
                Some(u) => u.clone(),
                None => sandbox_url(Platform::Telegram)?,
            };
            (
                Secret::new(plugboard_sandbox::DEFAULT_BOT_TOKEN.to_owned()),
                Some(url),
                true,
            )
        }
        (None, false) => return Ok(()),
    };
    if sandboxed {
        ctx.sandboxed.insert(Platform::Telegram);
    }
    // A webhook needs an address Telegram can reach: a configured public URL, or this
    // server itself when the bot is the sandbox's.
    let webhook = match telegram.updates {
        Some(TelegramUpdates::Webhook) => true,
        Some(TelegramUpdates::Polling) => false,
        None => config.public_url.is_some() || sandboxed,
    };
    let secret = plugboard_service::connect::webhook_secret_for(token.expose());
    let bot = plugboard_platforms::telegram::TelegramBot::new(token, api_url)
        .map_err(|e| fail(Platform::Telegram)(e.to_string()))?;
    ctx.telegram = Some(Arc::new(plugboard_service::connect::TelegramContext::new(
        bot, secret, webhook,
    )));
    Ok(())
}

/// The sandbox grants everything, so it can offer what gated products would: LinkedIn
/// organization pages (Community Management API).
fn sandbox_scopes(platform: Platform) -> Option<Vec<String>> {
    match platform {
        Platform::Linkedin => Some(
            plugboard_platforms::linkedin::SPEC
                .scopes
                .iter()
                .chain(plugboard_platforms::linkedin::ORGANIZATION_SCOPES)
                .map(|s| (*s).to_owned())
                .collect(),
        ),
        _ => None,
    }
}

pub const KEY_FILE: &str = "encryption.key";
pub const DB_FILE: &str = "plugboard.db";

/// Reads the data-dir key file: current key on the first line, previous keys after it.
/// Creates it with a fresh key (readable by the owner only) when absent.
pub fn key_file_keys(dir: &Path) -> Result<Vec<Secret<String>>, StartError> {
    let path = dir.join(KEY_FILE);
    let fail = |message: String| StartError::KeyFile {
        path: path.clone(),
        message,
    };
    if !path.exists() {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        write_key_file(&path, &[plugboard_core::seal::generate_key()])
            .map_err(|e| fail(e.to_string()))?;
        tracing::info!(path = %path.display(), "generated a new encryption key");
    }
    let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
    let keys: Vec<Secret<String>> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| Secret::new(l.to_owned()))
        .collect();
    if keys.is_empty() {
        return Err(fail("holds no key".into()));
    }
    for k in &keys {
        plugboard_core::seal::parse_key(k.expose()).map_err(|e| fail(e.to_string()))?;
    }
    Ok(keys)
}

/// Writes keys (current first) so only the owner can read them.
pub fn write_key_file(path: &Path, keys: &[Secret<String>]) -> std::io::Result<()> {
    let mut body = String::from(
        "# Plugboard encryption keys: the first line encrypts, the others only decrypt.\n",
    );
    for k in keys {
        body.push_str(k.expose());
        body.push('\n');
    }
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(body.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}

/// The keyring from configuration, or from the data-dir key file in SQLite mode.
pub fn keyring(config: &Config) -> Result<Keyring, StartError> {
    let keys: Vec<Secret<String>> = match &config.encryption_key {
        Some(k) => std::iter::once(k.clone())
            .chain(config.encryption_previous_keys.iter().cloned())
            .collect(),
        None => key_file_keys(&config.data_dir)?,
    };
    let texts: Vec<&str> = keys.iter().map(|k| k.expose().as_str()).collect();
    let (current, previous) = texts
        .split_first()
        .ok_or_else(|| StartError::Bootstrap("no encryption key".into()))?;
    Keyring::from_texts(current, previous).map_err(|e| {
        crate::config::ConfigError {
            setting: "PLUGBOARD_ENCRYPTION_KEY".into(),
            message: e.to_string(),
        }
        .into()
    })
}

pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    open_observed_store(config, Arc::new(plugboard_store::NoObserver)).await
}

/// The store, reporting operation times and lease take-overs to `observer`.
pub async fn open_observed_store(
    config: &Config,
    observer: Arc<dyn plugboard_store::StoreObserver>,
) -> Result<Arc<dyn Store>, StartError> {
    match config.store {
        StoreKind::Sqlite => {
            let path = config.data_dir.join(DB_FILE);
            let store = SqliteStore::open(&path)
                .await
                .map_err(|e| StartError::Store {
                    backend: "sqlite",
                    message: format!("{}: {e}", path.display()),
                })?
                .with_observer(observer);
            Ok(Arc::new(store))
        }
        StoreKind::Mongodb => {
            let uri = config
                .mongodb_uri
                .as_ref()
                .map(|u| u.expose().as_str())
                .unwrap_or_default();
            let store = MongoStore::connect_observed(uri, &config.mongodb_database, observer)
                .await
                .map_err(|e| StartError::Store {
                    backend: "mongodb",
                    // Driver errors can quote the URI, credentials included.
                    message: redact_uri(&e.to_string(), uri),
                })?;
            Ok(Arc::new(store))
        }
    }
}

fn redact_uri(message: &str, uri: &str) -> String {
    if uri.is_empty() {
        message.to_owned()
    } else {
        message.replace(uri, "[PLUGBOARD_MONGODB_URI]")
    }
}

/// Store, keyring and clock: what the server and the CLI both need.
pub async fn services(config: &Config) -> Result<Services, StartError> {
    services_with_clock(config, Arc::new(SystemClock)).await
}

async fn services_with_clock(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Services, StartError> {
    let keyring = keyring(config)?;
    let metrics = Arc::new(plugboard_service::metrics::ServiceMetrics::new());
    let store = open_observed_store(config, metrics.clone()).await?;
    let retry_base = chrono::Duration::from_std(config.webhooks_retry_base)
        .unwrap_or_else(|_| chrono::Duration::seconds(30));
    let webhooks = plugboard_service::webhooks::WebhookSettings {
        allow_private: config.webhooks_allow_private,
        retry_base,
        ..Default::default()
    };
    let quota = plugboard_service::quota::QuotaSettings {
        daily_limits: config.quota_daily_limits.clone(),
    };
    Ok(Services::new(store, clock, Arc::new(keyring))
        .with_webhooks(webhooks)
        .with_metrics(metrics)
        .with_quota(quota))
}

pub struct Application {
    server: actix_web::dev::Server,
    addr: SocketAddr,
    public_url: url::Url,
    services: Services,
    bootstrap: Bootstrap,
    sandbox: bool,
    draining: Arc<std::sync::atomic::AtomicBool>,
    shutdown_drain: std::time::Duration,
    shutdown_grace: std::time::Duration,
    refresh_interval: std::time::Duration,
}

/// Which signal asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopSignal {
    /// SIGTERM: an orchestrator; drain first.
    Terminate,
    /// SIGINT: a person at a terminal; no drain.
    Interrupt,
}

async fn stop_signal() -> StopSignal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => return StopSignal::Terminate,
                    _ = tokio::signal::ctrl_c() => return StopSignal::Interrupt,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops gracefully")
            }
        }
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::warn!(error = %e, "cannot listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
    StopSignal::Interrupt
}

/// Waits for a worker's tick, or for the stop; `false` when it is time to stop.
async fn next_tick(
    every: &mut tokio::time::Interval,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = every.tick() => true,
        _ = stop.changed() => false,
    }
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, StartError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Like [`Application::build`] with another clock (tests move a manual one).
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, StartError> {
        let services = services_with_clock(&config, clock).await?;
        let bootstrap = services
            .bootstrap(config.bootstrap_api_key.as_ref())
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        let listener = TcpListener::bind(config.listen).map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        let public_url = match &config.public_url {
            Some(u) => u.clone(),
            None => url::Url::parse(&format!("http://{addr}/")).map_err(|e| {
                StartError::Bootstrap(format!("cannot form a URL from {addr}: {e}"))
            })?,
        };
        let metrics = Arc::new(Metrics::new().map_err(|e| StartError::Bootstrap(e.to_string()))?);
        let services = services.clone().with_connect(connect_context(
            &config,
            &public_url,
            services.clock.clone(),
            services.usage_sink(),
        )?);
        let draining = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let server = plugboard_http::server(
            services.clone(),
            metrics,
            listener,
            ServerOptions {
                sandbox: config
                    .sandbox
                    .then_some(plugboard_sandbox::configure as fn(&mut _)),
                workers: config.workers,
                shutdown_grace: config.shutdown_grace,
                draining: draining.clone(),
                rate_limit_per_minute: config.rate_limit_per_minute,
            },
        )
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        tracing::info!(address = %addr, public_url = %public_url, store = services.store.backend_name(), sandbox = config.sandbox, "plugboard listening");
        Ok(Application {
            server,
            addr,
            public_url,
            services,
            bootstrap,
            sandbox: config.sandbox,
            draining,
            shutdown_drain: config.shutdown_drain,
            shutdown_grace: config.shutdown_grace,
            refresh_interval: config.refresh_interval,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn public_url(&self) -> &url::Url {
        &self.public_url
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub fn bootstrap(&self) -> &Bootstrap {
        &self.bootstrap
    }

    pub fn sandbox(&self) -> bool {
        self.sandbox
    }

    /// Serves until SIGTERM or Ctrl-C, then stops gracefully: `/readyz` turns 503, (on
    /// SIGTERM) the drain period passes, the listener closes while in-flight requests
    /// finish, worker passes in progress finish, and the Telegram poller's lease is given
    /// back — all within the grace period.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let telegram = self.start_telegram(stop_rx.clone());
        let services = self.services.clone();
        let mut sweep_stop = stop_rx.clone();
        let sweeper = tokio::spawn(async move {
            let mut every = tokio::time::interval(plugboard_service::sweeper::SWEEP_EVERY);
            // The first tick is immediate; nothing is stale at start.
            every.tick().await;
            while next_tick(&mut every, &mut sweep_stop).await {
                if let Err(e) = services.sweep_flows(services.clock.now()).await {
                    tracing::warn!(error = %e, "sweeping expired connect records failed");
                }
            }
        });
        let refresher = self.start_refresher(stop_rx.clone());
        let deliverer = self.start_job_workers(stop_rx);
        let handle = self.server.handle();
        let draining = self.draining.clone();
        let drain = self.shutdown_drain;
        let signals = tokio::spawn(async move {
            let signal = stop_signal().await;
            tracing::info!(?signal, "shutting down: not ready any more");
            draining.store(true, std::sync::atomic::Ordering::SeqCst);
            if signal == StopSignal::Terminate && !drain.is_zero() {
                tokio::time::sleep(drain).await;
            }
            tracing::info!("shutting down: listener closed, finishing in-flight requests");
            handle.stop(true).await;
        });
        let result = self.server.await;
        signals.abort();
        let _ = stop_tx.send(true);
        let deadline = tokio::time::Instant::now() + self.shutdown_grace;
        let mut workers = vec![
            ("sweeper", sweeper),
            ("refresher", refresher),
            ("job workers", deliverer),
        ];
        let mut poller_holder = None;
        if let Some((task, holder)) = telegram {
            workers.push(("telegram", task));
            poller_holder = holder;
        }
        for (name, mut task) in workers {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!(
                    worker = name,
                    "worker did not finish within the grace period; cut"
                );
                task.abort();
            }
        }
        if let Some(holder) = poller_holder
            && let Err(e) = self
                .services
                .store
                .release_lease(plugboard_service::connect::POLLER_LEASE, &holder)
                .await
        {
            tracing::warn!(error = %e, "cannot release the Telegram poller lease; it runs out on its own");
        }
        tracing::info!("stopped");
        result
    }

    /// A name for one of this replica's workers in the leases it takes: unique per start.
    fn worker_name(&self) -> String {
        format!(
            "{}-{}",
            self.addr,
            plugboard_core::new_object_id(self.services.clock.now().timestamp())
        )
    }

    /// The refresh worker: every `refresh_interval` (a minute by default) a pass, and more
    /// at once while passes come back full (`refresh_backlog`); any number of replicas may
    /// run it, each account is held by one at a time (STYLE §9).
    fn start_refresher(
        &self,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let services = self.services.clone();
        let holder = self.worker_name();
        let interval = self.refresh_interval;
        tokio::spawn(async move {
            let mut every = tokio::time::interval(interval);
            // A backlog may outlast several intervals; the ticks it covered are not owed.
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            while next_tick(&mut every, &mut stop).await {
                match services.refresh_backlog(&holder, || *stop.borrow()).await {
                    Ok(pass) if pass.refreshed + pass.skipped + pass.deferred + pass.dead > 0 => {
                        tracing::info!(
                            refreshed = pass.refreshed,
                            deferred = pass.deferred,
                            dead = pass.dead,
                            skipped = pass.skipped,
                            "refresh pass"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "refresh pass failed"),
                }
            }
        })
    }

    /// The job workers: Meta ads initial syncs, then webhook fan-out and delivery; a pass
    /// every second, so an event reaches its receivers about a second after the change.
    /// Any number of replicas may run them (every job is held by one at a time).
    fn start_job_workers(
        &self,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let services = self.services.clone();
        let holder = self.worker_name();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while next_tick(&mut every, &mut stop).await {
                if let Err(e) = services.run_ads_syncs(&holder).await {
                    tracing::warn!(error = %e, "ads sync pass failed");
                }
                if let Err(e) = services.dispatch_webhook_events(&holder).await {
                    tracing::warn!(error = %e, "webhook fan-out failed");
                }
                match services.deliver_webhooks(&holder).await {
                    Ok(pass) if pass != Default::default() => {
                        tracing::debug!(
                            delivered = pass.delivered,
                            retrying = pass.retrying,
                            failed = pass.failed,
                            dropped = pass.dropped,
                            "webhook delivery pass"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "webhook delivery pass failed"),
                }
            }
        })
    }

    /// The Telegram bot's update intake: register the webhook, or run the poller loop
    /// (which only polls while this replica holds the poller lease).
    /// Returns the task and, for the poller, the holder name of its lease.
    fn start_telegram(
        &self,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Option<(tokio::task::JoinHandle<()>, Option<String>)> {
        let tg = self.services.connect.as_ref()?.telegram.clone()?;
        let services = self.services.clone();
        if tg.webhook {
            let url = url::Url::parse(&format!(
                "{}/telegram/webhook",
                self.public_url.as_str().trim_end_matches('/')
            ))
            .ok()?;
            let task = tokio::spawn(async move {
                match tg.bot.set_webhook(&url, &tg.webhook_secret).await {
                    Ok(()) => tracing::info!(url = %url, "Telegram webhook registered"),
                    Err(e) => tracing::error!(error = %e, "cannot register the Telegram webhook"),
                }
            });
            return Some((task, None));
        }
        let poller = plugboard_service::connect::TelegramPoller::new(format!(
            "{}-{}",
            self.addr,
            plugboard_core::new_object_id(services.clock.now().timestamp())
        ));
        let holder = poller.holder.clone();
        let task = tokio::spawn(async move {
            let pause = std::time::Duration::from_secs(5);
            loop {
                // A long poll in flight is dropped on stop: unconfirmed updates come again
                // to the next poller.
                let polled = tokio::select! {
                    r = services.telegram_poll_once(&poller, 10) => r,
                    _ = stop.changed() => return,
                };
                let wait = match polled {
                    Ok(Some(_)) => continue,
                    // Another replica polls; look again before its lease could run out.
                    Ok(None) => pause,
                    Err(e) => {
                        tracing::warn!(error = %e, "Telegram polling failed");
                        pause
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return,
                }
            }
        });
        Some((task, Some(holder)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_never_show_the_mongodb_uri() {
        let uri = "mongodb://admin:hunter2@db:27017";
        let shown = redact_uri(&format!("failed to connect to {uri}: timeout"), uri);
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = key_file_keys(dir.path()).unwrap();
        let again = key_file_keys(dir.path()).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].expose(), again[0].expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "key file must not be readable by others");
        }
    }
}
