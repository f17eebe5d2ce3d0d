//! Configuration: defaults, then a TOML file (only when given with `--config` or
//! `PLUGBOARD_CONFIG`, never picked up from the working directory by accident), then
//! `PLUGBOARD_*` environment variables. `PLUGBOARD_X_FILE` reads a secret from a file.
//! A bad setting stops the start with one line naming it.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use plugboard_core::Platform;
use plugboard_core::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Sqlite,
    Mongodb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The raw settings, as read.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: String,
    public_url: Option<String>,
    data_dir: PathBuf,
    store: StoreKind,
    mongodb_uri: Option<String>,
    mongodb_database: String,
    sandbox: Option<bool>,
    encryption_key: Option<String>,
    encryption_previous_keys: Vec<String>,
    bootstrap_api_key: Option<String>,
    log_format: LogFormat,
    log: String,
    workers: Option<usize>,
    webhooks_allow_private: bool,
    webhooks_retry_base_seconds: u64,
    shutdown_drain_seconds: u64,
    shutdown_grace_seconds: u64,
    refresh_interval_seconds: u64,
    rate_limit_per_minute: u32,
    otlp_endpoint: Option<String>,
    /// `[platforms.<name>]` tables: app credentials and base URL per platform.
    platforms: BTreeMap<String, RawPlatform>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    client_id: Option<String>,
    client_secret: Option<String>,
    base_url: Option<String>,
    /// Replaces the default scopes; a TOML list, or comma-separated in the environment.
    scopes: Option<Vec<String>>,
    user_agent: Option<String>,
    /// Telegram: the bot's token from @BotFather.
    bot_token: Option<String>,
    /// Bluesky: the entryway or PDS to log in at.
    service_url: Option<String>,
    /// Telegram: `webhook` or `polling`.
    updates: Option<String>,
    /// The app's daily API limit in the platform's measure, or `none`.
    quota_daily_limit: Option<RawLimit>,
}

/// A number in TOML, text in the environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum RawLimit {
    Number(i64),
    Text(String),
}

/// Per-platform settings: `PLUGBOARD_<PLATFORM>_<FIELD>` in the environment.
const PLATFORM_FIELDS: &[&str] = &[
    "client_id",
    "client_secret",
    "base_url",
    "scopes",
    "user_agent",
    "bot_token",
    "service_url",
    "updates",
    "quota_daily_limit",
];

/// Platform settings that are secrets and may come from `PLUGBOARD_<PLATFORM>_<FIELD>_FILE`.
const PLATFORM_SECRETS: &[&str] = &["client_secret", "bot_token"];

/// `twitter_client_id` → (`twitter`, `client_id`) when it names a platform setting.
fn platform_setting(key: &str) -> Option<(Platform, &'static str)> {
    PLATFORM_FIELDS.iter().find_map(|field| {
        let name = key.strip_suffix(field)?.strip_suffix('_')?;
        Some((name.parse::<Platform>().ok()?, *field))
    })
}

impl Default for Raw {
    fn default() -> Self {
        Raw {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            data_dir: PathBuf::from("./data"),
            store: StoreKind::Sqlite,
            mongodb_uri: None,
            mongodb_database: "plugboard".into(),
            sandbox: None,
            encryption_key: None,
            encryption_previous_keys: vec![],
            bootstrap_api_key: None,
            log_format: LogFormat::Text,
            log: "info".into(),
            workers: None,
            webhooks_allow_private: false,
            webhooks_retry_base_seconds: 30,
            shutdown_drain_seconds: 5,
            shutdown_grace_seconds: 20,
            refresh_interval_seconds: 60,
            rate_limit_per_minute: 600,
            otlp_endpoint: None,
            platforms: BTreeMap::new(),
        }
    }
}

/// Settings whose value may come from `PLUGBOARD_<NAME>_FILE`.
const FILE_SECRETS: &[&str] = &["encryption_key", "bootstrap_api_key", "mongodb_uri"];

const KNOWN: &[&str] = &[
    "listen",
    "public_url",
    "data_dir",
    "store",
    "mongodb_uri",
    "mongodb_database",
    "sandbox",
    "encryption_key",
    "encryption_previous_keys",
    "bootstrap_api_key",
    "log_format",
    "log",
    "workers",
    "webhooks_allow_private",
    "webhooks_retry_base_seconds",
    "shutdown_drain_seconds",
    "shutdown_grace_seconds",
    "refresh_interval_seconds",
    "rate_limit_per_minute",
    "otlp_endpoint",
    "config",
];

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The externally reachable base URL; `None` means `http://<bound address>/`.
    pub public_url: Option<url::Url>,
    pub data_dir: PathBuf,
    pub store: StoreKind,
    pub mongodb_uri: Option<Secret<String>>,
    pub mongodb_database: String,
    pub sandbox: bool,
    pub encryption_key: Option<Secret<String>>,
    pub encryption_previous_keys: Vec<Secret<String>>,
    pub bootstrap_api_key: Option<Secret<String>>,
    pub log_format: LogFormat,
    pub log: String,
    pub workers: Option<usize>,
    /// Let webhooks target private, loopback and link-local addresses.
    pub webhooks_allow_private: bool,
    /// The wait after a failed webhook delivery, doubled per further failure (capped at an
    /// hour).
    pub webhooks_retry_base: std::time::Duration,
    /// On SIGTERM: how long `/readyz` answers 503 (so load balancers stop sending) before
    /// the listener closes.
    pub shutdown_drain: std::time::Duration,
    /// Then: how long in-flight requests and worker passes may take before they are cut.
    pub shutdown_grace: std::time::Duration,
    /// How often each replica's refresh worker looks for due tokens.
    pub refresh_interval: std::time::Duration,
    /// Requests per minute per API key, per replica; 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// An OpenTelemetry collector's OTLP/HTTP base URL; traces are exported there when set.
    pub otlp_endpoint: Option<url::Url>,
    /// Platforms with app credentials or a base URL override; others are "not configured".
    pub platforms: BTreeMap<Platform, PlatformSettings>,
    /// Each platform app's daily API limit in the platform's measure (YouTube units, Meta
    /// percent, calls elsewhere): the platforms' defaults (YouTube 10,000, Meta 100) with
    /// the operator's settings over them. A platform absent here is not limited.
    pub quota_daily_limits: BTreeMap<Platform, u64>,
}

/// One platform's app registration and where its API lives.
#[derive(Debug, Clone, Default)]
pub struct PlatformSettings {
    /// Client id and secret of the operator's app on the platform.
    pub credentials: Option<(String, Secret<String>)>,
    /// Replaces the origin of every URL of the platform (a self-hosted proxy, a test fake).
    pub base_url: Option<url::Url>,
    /// Replaces the connector's default scopes (an app approved for more, or fewer).
    pub scopes: Option<Vec<String>>,
    /// Sent where the platform wants a descriptive User-Agent (Reddit).
    pub user_agent: Option<String>,
    /// Telegram's bot token.
    pub bot_token: Option<Secret<String>>,
    /// Bluesky's entryway or PDS.
    pub service_url: Option<url::Url>,
    /// Telegram: how updates arrive; `None` decides from the public URL.
    pub updates: Option<TelegramUpdates>,
}

/// How the Telegram bot receives updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelegramUpdates {
    /// Telegram POSTs them to `<public_url>/telegram/webhook`; any replica takes them.
    Webhook,
    /// One replica long-polls `getUpdates` under a store lease.
    Polling,
}

/// A configuration error: one line, naming the setting.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

fn err(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.to_owned(),
        message: message.into(),
    }
}

fn env_name(key: &str) -> String {
    format!("PLUGBOARD_{}", key.to_ascii_uppercase())
}

/// Unknown `PLUGBOARD_*` variables, to warn about (a typo silently ignored is worse).
pub fn unknown_env_vars(vars: impl Iterator<Item = (String, String)>) -> Vec<String> {
    vars.filter_map(|(k, _)| {
        let rest = k.strip_prefix("PLUGBOARD_")?.to_ascii_lowercase();
        let base = rest.strip_suffix("_file").unwrap_or(&rest);
        // Test-suite variables are read by the tests, not the server.
        let known = KNOWN.contains(&rest.as_str())
            || FILE_SECRETS.contains(&base)
            || platform_setting(&rest).is_some()
            || platform_setting(base).is_some_and(|(_, f)| PLATFORM_SECRETS.contains(&f))
            || rest.starts_with("test_")
            || rest.starts_with("nx27017");
        (!known).then_some(k)
    })
    .collect()
}

/// The daily limits: the defaults, then each `[platforms.<p>] quota_daily_limit` (a
/// positive number, or `none` for no limit).
fn quota_limits(
    raw: &BTreeMap<String, RawPlatform>,
) -> Result<BTreeMap<Platform, u64>, ConfigError> {
    use plugboard_platforms::QuotaMeasure;
    use plugboard_platforms::usage::{is_counted, quota_measure};
    let mut limits = plugboard_service::quota::QuotaSettings::default().daily_limits;
    for (name, p) in raw {
        let Some(value) = &p.quota_daily_limit else {
            continue;
        };
        // Unknown platform names are reported by validate_platforms.
        let Ok(platform) = name.parse::<Platform>() else {
            continue;
        };
        let setting = env_name(&format!("{platform}_quota_daily_limit"));
        if !is_counted(platform) {
            return Err(err(
                &setting,
                format!("{platform}'s calls are not counted, so they cannot be limited"),
            ));
        }
        let limit = match value {
            RawLimit::Number(n) => Some(*n),
            RawLimit::Text(t)
                if matches!(t.trim().to_ascii_lowercase().as_str(), "none" | "off") =>
            {
                None
            }
            RawLimit::Text(t) => Some(
                t.trim()
                    .parse::<i64>()
                    .map_err(|_| err(&setting, "must be a whole number, or none for no limit"))?,
            ),
        };
        let Some(limit) = limit else {
            limits.remove(&platform);
            continue;
        };
        let max = match quota_measure(platform) {
            QuotaMeasure::Percent => 100,
            QuotaMeasure::Units | QuotaMeasure::Calls => i64::MAX,
        };
        if !(1..=max).contains(&limit) {
            return Err(err(
                &setting,
                if max == 100 {
                    "is a percentage of Meta's rate limit: between 1 and 100 (or none)"
                } else {
                    "must be at least 1 (or none for no limit)"
                },
            ));
        }
        limits.insert(platform, u64::try_from(limit).unwrap_or(u64::MAX));
    }
    Ok(limits)
}

fn validate_platforms(
    raw: BTreeMap<String, RawPlatform>,
) -> Result<BTreeMap<Platform, PlatformSettings>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, p) in raw {
        let platform: Platform = name
            .parse()
            .map_err(|_| err(&format!("[platforms.{name}]"), "unknown platform"))?;
        let setting = |field: &str| env_name(&format!("{platform}_{field}"));
        let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let credentials = match (nonempty(p.client_id), nonempty(p.client_secret)) {
            (Some(id), Some(secret)) => {
                Some((id.trim().to_owned(), Secret::new(secret.trim().to_owned())))
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(err(
                    &setting("client_secret"),
                    "required with the client id",
                ));
            }
            (None, Some(_)) => {
                return Err(err(
                    &setting("client_id"),
                    "required with the client secret",
                ));
            }
        };
        let base_url = match nonempty(p.base_url) {
            None => None,
            Some(u) => {
                let url = url::Url::parse(&u)
                    .map_err(|e| err(&setting("base_url"), format!("{u:?}: {e}")))?;
                if !matches!(url.scheme(), "http" | "https")
                    || url.host().is_none()
                    || url.query().is_some()
                {
                    return Err(err(
                        &setting("base_url"),
                        "must be an absolute http(s) URL without a query",
                    ));
                }
                Some(url)
            }
        };
        let scopes = match p.scopes {
            None => None,
            Some(list) => {
                let list: Vec<String> = list
                    .iter()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                if list.is_empty() || list.iter().any(|s| s.contains(char::is_whitespace)) {
                    return Err(err(
                        &setting("scopes"),
                        "must be a non-empty comma-separated list of scopes without spaces",
                    ));
                }
                Some(list)
            }
        };
        let user_agent = nonempty(p.user_agent).map(|u| u.trim().to_owned());
        if user_agent
            .as_deref()
            .is_some_and(|u| u.chars().any(char::is_control))
        {
            return Err(err(
                &setting("user_agent"),
                "must be one line of printable text",
            ));
        }
        let bot_token = match nonempty(p.bot_token) {
            None => None,
            Some(_) if platform != Platform::Telegram => {
                return Err(err(&setting("bot_token"), "only Telegram has a bot token"));
            }
            Some(t) => {
                let t = t.trim().to_owned();
                // `<bot id>:<secret>`, as @BotFather issues them (platforms.md §14).
                let shaped = t.split_once(':').is_some_and(|(id, rest)| {
                    !id.is_empty()
                        && id.bytes().all(|b| b.is_ascii_digit())
                        && !rest.is_empty()
                        && rest
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                });
                if !shaped {
                    return Err(err(
                        &setting("bot_token"),
                        "must look like 123456789:AAE… (from @BotFather)",
                    ));
                }
                Some(Secret::new(t))
            }
        };
        let service_url = match nonempty(p.service_url) {
            None => None,
            Some(_) if platform != Platform::Bluesky => {
                return Err(err(
                    &setting("service_url"),
                    "only Bluesky has a service URL",
                ));
            }
            Some(u) => {
                let url = url::Url::parse(u.trim())
                    .map_err(|e| err(&setting("service_url"), format!("{u:?}: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(err(
                        &setting("service_url"),
                        "must be an absolute http(s) URL",
                    ));
                }
                Some(url)
            }
        };
        let updates = match nonempty(p.updates).map(|u| u.trim().to_ascii_lowercase()) {
            None => None,
            Some(_) if platform != Platform::Telegram => {
                return Err(err(&setting("updates"), "only Telegram has an update mode"));
            }
            Some(u) if u == "webhook" => Some(TelegramUpdates::Webhook),
            Some(u) if u == "polling" => Some(TelegramUpdates::Polling),
            Some(_) => return Err(err(&setting("updates"), "must be webhook or polling")),
        };
        out.insert(
            platform,
            PlatformSettings {
                credentials,
                base_url,
                scopes,
                user_agent,
                bot_token,
                service_url,
                updates,
            },
        );
    }
    Ok(out)
}

impl Config {
    /// Reads defaults, the optional TOML file and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Config::load`] with an explicit environment (tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env.filter(|(k, _)| k.starts_with("PLUGBOARD_")).collect();
        let mut fig = Figment::from(Serialized::defaults(Raw::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(err(
                    "--config",
                    format!("{} is not a readable file", path.display()),
                ));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        let mut plain: Vec<(String, String)> = Vec::new();
        for (k, v) in &env {
            let key = k.trim_start_matches("PLUGBOARD_").to_ascii_lowercase();
            if let Some((platform, field)) = platform_setting(&key) {
                plain.push((format!("platforms.{platform}.{field}"), v.clone()));
            } else if let Some(base) = key.strip_suffix("_file")
                && let Some((platform, field)) = platform_setting(base)
                && PLATFORM_SECRETS.contains(&field)
            {
                let content = std::fs::read_to_string(v)
                    .map_err(|e| err(k, format!("cannot read {v}: {e}")))?;
                plain.push((
                    format!("platforms.{platform}.{field}"),
                    content.trim().to_owned(),
                ));
            } else if let Some(base) = key.strip_suffix("_file")
                && FILE_SECRETS.contains(&base)
            {
                let content = std::fs::read_to_string(v)
                    .map_err(|e| err(k, format!("cannot read {v}: {e}")))?;
                plain.push((base.to_owned(), content.trim().to_owned()));
            } else if KNOWN.contains(&key.as_str()) && key != "config" {
                plain.push((key, v.clone()));
            }
        }
        for (key, value) in plain {
            let value = if key == "encryption_previous_keys" || key.ends_with(".scopes") {
                figment::value::Value::from(
                    value
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>(),
                )
            } else if matches!(
                key.as_str(),
                "sandbox"
                    | "workers"
                    | "webhooks_allow_private"
                    | "webhooks_retry_base_seconds"
                    | "shutdown_drain_seconds"
                    | "shutdown_grace_seconds"
                    | "refresh_interval_seconds"
                    | "rate_limit_per_minute"
            ) {
                // Booleans and numbers; everything else stays text (a hex key of digits
                // must not turn into a number).
                value
                    .parse::<figment::value::Value>()
                    .unwrap_or_else(|_| value.into())
            } else {
                value.into()
            };
            fig = fig.merge(Serialized::default(&key, value));
        }
        let raw: Raw = fig.extract().map_err(|e| {
            let key = e.path.first().cloned().unwrap_or_default();
            let setting = if key.is_empty() {
                "configuration".into()
            } else {
                env_name(&key)
            };
            err(&setting, e.kind.to_string())
        })?;
        Self::validate(raw)
    }

    fn validate(raw: Raw) -> Result<Config, ConfigError> {
        let listen = raw
            .listen
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                err(
                    "PLUGBOARD_LISTEN",
                    format!("{:?} is not host:port", raw.listen),
                )
            })?;
        let public_url = match &raw.public_url {
            Some(u) => {
                let url = url::Url::parse(u)
                    .map_err(|e| err("PLUGBOARD_PUBLIC_URL", format!("{u:?}: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(err(
                        "PLUGBOARD_PUBLIC_URL",
                        "must be an absolute http(s) URL",
                    ));
                }
                Some(url)
            }
            None => None,
        };
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty()).map(Secret::new);
        let mongodb_uri = non_empty(raw.mongodb_uri);
        let encryption_key = non_empty(raw.encryption_key);
        if raw.store == StoreKind::Mongodb {
            match &mongodb_uri {
                None => {
                    return Err(err(
                        "PLUGBOARD_MONGODB_URI",
                        "required when PLUGBOARD_STORE=mongodb",
                    ));
                }
                Some(u)
                    if !u.expose().starts_with("mongodb://")
                        && !u.expose().starts_with("mongodb+srv://") =>
                {
                    return Err(err(
                        "PLUGBOARD_MONGODB_URI",
                        "must start with mongodb:// or mongodb+srv://",
                    ));
                }
                Some(_) => {}
            }
            if encryption_key.is_none() {
                return Err(err(
                    "PLUGBOARD_ENCRYPTION_KEY",
                    "required when PLUGBOARD_STORE=mongodb (replicas must share it); generate one with `openssl rand -hex 32`",
                ));
            }
        }
        if let Some(k) = &encryption_key {
            plugboard_core::seal::parse_key(k.expose())
                .map_err(|e| err("PLUGBOARD_ENCRYPTION_KEY", e.to_string()))?;
        }
        for k in &raw.encryption_previous_keys {
            plugboard_core::seal::parse_key(k)
                .map_err(|e| err("PLUGBOARD_ENCRYPTION_PREVIOUS_KEYS", e.to_string()))?;
        }
        let bootstrap_api_key = non_empty(raw.bootstrap_api_key);
        if let Some(k) = &bootstrap_api_key
            && !plugboard_service::auth::looks_like_key(k.expose())
        {
            return Err(err(
                "PLUGBOARD_BOOTSTRAP_API_KEY",
                "must be 'sk_' followed by 64 hexadecimal characters",
            ));
        }
        if raw.mongodb_database.trim().is_empty() {
            return Err(err("PLUGBOARD_MONGODB_DATABASE", "must not be empty"));
        }
        if raw.workers == Some(0) {
            return Err(err("PLUGBOARD_WORKERS", "must be at least 1"));
        }
        if !(1..=3600).contains(&raw.webhooks_retry_base_seconds) {
            return Err(err(
                "PLUGBOARD_WEBHOOKS_RETRY_BASE_SECONDS",
                "must be between 1 and 3600",
            ));
        }
        if raw.shutdown_drain_seconds > 300 {
            return Err(err(
                "PLUGBOARD_SHUTDOWN_DRAIN_SECONDS",
                "must be between 0 and 300",
            ));
        }
        if !(1..=600).contains(&raw.shutdown_grace_seconds) {
            return Err(err(
                "PLUGBOARD_SHUTDOWN_GRACE_SECONDS",
                "must be between 1 and 600",
            ));
        }
        if !(1..=3600).contains(&raw.refresh_interval_seconds) {
            return Err(err(
                "PLUGBOARD_REFRESH_INTERVAL_SECONDS",
                "must be between 1 and 3600",
            ));
        }
        let otlp_endpoint = match raw.otlp_endpoint.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw_url) => match url::Url::parse(raw_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                _ => {
                    return Err(err(
                        "PLUGBOARD_OTLP_ENDPOINT",
                        "must be an absolute http(s) URL, e.g. http://collector:4318",
                    ));
                }
            },
        };
        let quota_daily_limits = quota_limits(&raw.platforms)?;
        let platforms = validate_platforms(raw.platforms)?;
        tracing_subscriber::EnvFilter::try_new(&raw.log)
            .map_err(|e| err("PLUGBOARD_LOG", e.to_string()))?;
        Ok(Config {
            listen,
            public_url,
            data_dir: raw.data_dir,
            store: raw.store,
            mongodb_uri,
            mongodb_database: raw.mongodb_database,
            // The sandbox is on by default only for the embedded store, so a newcomer can try
            // everything at once while a production MongoDB deployment never serves fakes
            // unless asked.
            sandbox: raw.sandbox.unwrap_or(raw.store == StoreKind::Sqlite),
            encryption_key,
            encryption_previous_keys: raw
                .encryption_previous_keys
                .into_iter()
                .map(Secret::new)
                .collect(),
            bootstrap_api_key,
            log_format: raw.log_format,
            log: raw.log,
            workers: raw.workers,
            webhooks_allow_private: raw.webhooks_allow_private,
            webhooks_retry_base: std::time::Duration::from_secs(raw.webhooks_retry_base_seconds),
            shutdown_drain: std::time::Duration::from_secs(raw.shutdown_drain_seconds),
            shutdown_grace: std::time::Duration::from_secs(raw.shutdown_grace_seconds),
            refresh_interval: std::time::Duration::from_secs(raw.refresh_interval_seconds),
            rate_limit_per_minute: raw.rate_limit_per_minute,
            otlp_endpoint,
            platforms,
            quota_daily_limits,
        })
    }

    /// Configuration for tests and embedding: defaults with a data directory.
    pub fn for_data_dir(dir: impl Into<PathBuf>) -> Config {
        let mut raw = Raw {
            listen: "127.0.0.1:0".into(),
            ..Raw::default()
        };
        raw.data_dir = dir.into();
        // Defaults always validate.
        Self::validate(raw).unwrap_or_else(|e| unreachable!("default configuration is valid: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn zero_configuration_runs_on_sqlite_with_the_sandbox() {
        let c = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(c.store, StoreKind::Sqlite);
        assert!(c.sandbox);
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nsandbox = false\nlog_format = \"json\"\n",
        )
        .unwrap();
        let c =
            Config::load_from(Some(&file), env(&[("PLUGBOARD_LISTEN", "127.0.0.1:0")])).unwrap();
        assert_eq!(c.listen.port(), 0);
        assert!(!c.sandbox);
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, format!("{}\n", "ab".repeat(32))).unwrap();
        let c = Config::load_from(
            None,
            env(&[("PLUGBOARD_ENCRYPTION_KEY_FILE", file.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(c.encryption_key.unwrap().expose(), &"ab".repeat(32));
    }

    #[test]
    fn bad_settings_fail_with_one_line_naming_the_setting() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("PLUGBOARD_LISTEN", "nonsense")], "PLUGBOARD_LISTEN"),
            (&[("PLUGBOARD_STORE", "postgres")], "PLUGBOARD_STORE"),
            (&[("PLUGBOARD_SANDBOX", "maybe")], "PLUGBOARD_SANDBOX"),
            (
                &[("PLUGBOARD_PUBLIC_URL", "ftp://x")],
                "PLUGBOARD_PUBLIC_URL",
            ),
            (&[("PLUGBOARD_STORE", "mongodb")], "PLUGBOARD_MONGODB_URI"),
            (
                &[
                    ("PLUGBOARD_STORE", "mongodb"),
                    ("PLUGBOARD_MONGODB_URI", "mongodb://h"),
                ],
                "PLUGBOARD_ENCRYPTION_KEY",
            ),
            (
                &[("PLUGBOARD_ENCRYPTION_KEY", "short")],
                "PLUGBOARD_ENCRYPTION_KEY",
            ),
            (
                &[("PLUGBOARD_BOOTSTRAP_API_KEY", "secret")],
                "PLUGBOARD_BOOTSTRAP_API_KEY",
            ),
            (&[("PLUGBOARD_WORKERS", "0")], "PLUGBOARD_WORKERS"),
            (
                &[("PLUGBOARD_ENCRYPTION_KEY_FILE", "/nonexistent/key")],
                "PLUGBOARD_ENCRYPTION_KEY_FILE",
            ),
        ];
        for (vars, setting) in cases {
            let e = Config::load_from(None, env(vars)).expect_err(setting);
            let line = e.to_string();
            assert!(line.contains(setting), "{line} should name {setting}");
            assert!(!line.contains('\n'), "one line: {line}");
        }
    }

    #[test]
    fn error_lines_never_echo_secret_values() {
        let e = Config::load_from(
            None,
            env(&[("PLUGBOARD_BOOTSTRAP_API_KEY", "hunter2-secret")]),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn platform_credentials_come_from_env_file_and_secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(
            &file,
            "[platforms.linkedin]\nclient_id = \"li-id\"\nclient_secret = \"li-secret\"\n",
        )
        .unwrap();
        let secret = dir.path().join("tiktok-secret");
        std::fs::write(&secret, "tt-secret\n").unwrap();
        let c = Config::load_from(
            Some(&file),
            env(&[
                ("PLUGBOARD_TWITTER_CLIENT_ID", "tw-id"),
                ("PLUGBOARD_TWITTER_CLIENT_SECRET", "tw-secret"),
                (
                    "PLUGBOARD_TWITTER_BASE_URL",
                    "http://127.0.0.1:9/sandbox/twitter",
                ),
                ("PLUGBOARD_TIKTOK_CLIENT_ID", "tt-id"),
                (
                    "PLUGBOARD_TIKTOK_CLIENT_SECRET_FILE",
                    secret.to_str().unwrap(),
                ),
            ]),
        )
        .unwrap();
        let tw = &c.platforms[&Platform::Twitter];
        let (id, secret) = tw.credentials.as_ref().unwrap();
        assert_eq!(
            (id.as_str(), secret.expose().as_str()),
            ("tw-id", "tw-secret")
        );
        assert_eq!(
            tw.base_url.as_ref().unwrap().as_str(),
            "http://127.0.0.1:9/sandbox/twitter"
        );
        assert_eq!(
            c.platforms[&Platform::Tiktok]
                .credentials
                .as_ref()
                .unwrap()
                .1
                .expose(),
            "tt-secret"
        );
        assert_eq!(
            c.platforms[&Platform::Linkedin]
                .credentials
                .as_ref()
                .unwrap()
                .0,
            "li-id"
        );
        assert!(
            !c.platforms.contains_key(&Platform::Reddit),
            "unconfigured platforms are absent"
        );
        assert!(
            !format!("{c:?}").contains("tw-secret"),
            "Debug never shows secrets"
        );
    }

    #[test]
    fn platform_scopes_and_user_agent_come_from_a_comma_list_or_a_toml_array() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(
            &file,
            "[platforms.linkedin]\nscopes = [\"openid\", \"rw_organization_admin\"]\n",
        )
        .unwrap();
        let c = Config::load_from(
            Some(&file),
            env(&[
                (
                    "PLUGBOARD_TWITTER_SCOPES",
                    "tweet.read, users.read,offline.access",
                ),
                ("PLUGBOARD_REDDIT_USER_AGENT", "web:acme:1.0 (by /u/acme)"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.platforms[&Platform::Twitter].scopes.as_deref(),
            Some(
                &[
                    "tweet.read".to_owned(),
                    "users.read".into(),
                    "offline.access".into()
                ][..]
            )
        );
        assert_eq!(
            c.platforms[&Platform::Linkedin].scopes.as_deref(),
            Some(&["openid".to_owned(), "rw_organization_admin".into()][..])
        );
        assert_eq!(
            c.platforms[&Platform::Reddit].user_agent.as_deref(),
            Some("web:acme:1.0 (by /u/acme)")
        );
        let e = Config::load_from(None, env(&[("PLUGBOARD_TIKTOK_SCOPES", " , ")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("PLUGBOARD_TIKTOK_SCOPES"), "{e}");
    }

    #[test]
    fn daily_quota_limits_default_to_the_platforms_and_are_set_or_lifted_per_platform() {
        let c = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(
            c.quota_daily_limits,
            [
                (Platform::Instagram, 100),
                (Platform::Facebook, 100),
                (Platform::Youtube, 10_000),
                (Platform::Threads, 100),
                (Platform::Whatsapp, 100),
            ]
            .into()
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(
            &file,
            "[platforms.twitter]\nquota_daily_limit = 5000\n[platforms.facebook]\nquota_daily_limit = \"none\"\n",
        )
        .unwrap();
        let c = Config::load_from(
            Some(&file),
            env(&[
                ("PLUGBOARD_YOUTUBE_QUOTA_DAILY_LIMIT", "50000"),
                ("PLUGBOARD_THREADS_QUOTA_DAILY_LIMIT", "90"),
            ]),
        )
        .unwrap();
        let limits = &c.quota_daily_limits;
        assert_eq!(limits.get(&Platform::Youtube), Some(&50_000));
        assert_eq!(limits.get(&Platform::Twitter), Some(&5_000));
        assert_eq!(limits.get(&Platform::Threads), Some(&90));
        assert_eq!(
            limits.get(&Platform::Facebook),
            None,
            "none lifts the default"
        );
        assert!(
            c.platforms[&Platform::Twitter].credentials.is_none(),
            "a limit alone configures no app"
        );
        for (var, value) in [
            ("PLUGBOARD_YOUTUBE_QUOTA_DAILY_LIMIT", "lots"),
            ("PLUGBOARD_YOUTUBE_QUOTA_DAILY_LIMIT", "0"),
            ("PLUGBOARD_FACEBOOK_QUOTA_DAILY_LIMIT", "150"),
            ("PLUGBOARD_BLUESKY_QUOTA_DAILY_LIMIT", "10"),
        ] {
            let e = Config::load_from(None, env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(var), "{var}={value}: {e}");
        }
        assert!(unknown_env_vars(env(&[("PLUGBOARD_REDDIT_QUOTA_DAILY_LIMIT", "1")])).is_empty());
    }

    #[test]
    fn telegram_bot_token_and_bluesky_service_url_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("bot");
        std::fs::write(&token_file, "123456:AAE-secret_part\n").unwrap();
        let c = Config::load_from(
            None,
            env(&[
                (
                    "PLUGBOARD_TELEGRAM_BOT_TOKEN_FILE",
                    token_file.to_str().unwrap(),
                ),
                ("PLUGBOARD_BLUESKY_SERVICE_URL", "https://pds.example.com"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.platforms[&Platform::Telegram]
                .bot_token
                .as_ref()
                .unwrap()
                .expose(),
            "123456:AAE-secret_part"
        );
        assert_eq!(
            c.platforms[&Platform::Bluesky]
                .service_url
                .as_ref()
                .unwrap()
                .as_str(),
            "https://pds.example.com/"
        );
        assert!(!format!("{c:?}").contains("secret_part"));
        for (vars, setting) in [
            (
                &[("PLUGBOARD_TELEGRAM_BOT_TOKEN", "not a token")][..],
                "PLUGBOARD_TELEGRAM_BOT_TOKEN",
            ),
            (
                &[("PLUGBOARD_TWITTER_BOT_TOKEN", "1:a")][..],
                "PLUGBOARD_TWITTER_BOT_TOKEN",
            ),
            (
                &[("PLUGBOARD_BLUESKY_SERVICE_URL", "ftp://x")][..],
                "PLUGBOARD_BLUESKY_SERVICE_URL",
            ),
        ] {
            let e = Config::load_from(None, env(vars)).unwrap_err().to_string();
            assert!(e.contains(setting), "{e}");
            assert!(!e.contains("not a token"), "never echoes the value: {e}");
        }
    }

    #[test]
    fn incomplete_platform_settings_name_the_missing_variable() {
        for (vars, setting) in [
            (
                &[("PLUGBOARD_REDDIT_CLIENT_ID", "x")][..],
                "PLUGBOARD_REDDIT_CLIENT_SECRET",
            ),
            (
                &[("PLUGBOARD_REDDIT_CLIENT_SECRET", "x")][..],
                "PLUGBOARD_REDDIT_CLIENT_ID",
            ),
            (
                &[("PLUGBOARD_SNAPCHAT_BASE_URL", "not a url")][..],
                "PLUGBOARD_SNAPCHAT_BASE_URL",
            ),
        ] {
            let e = Config::load_from(None, env(vars)).unwrap_err().to_string();
            assert!(e.contains(setting), "{e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn unknown_variables_are_reported() {
        let unknown = unknown_env_vars(env(&[
            ("PLUGBOARD_LISTEN", "x"),
            ("PLUGBOARD_LISTN", "x"),
            ("PLUGBOARD_ENCRYPTION_KEY_FILE", "x"),
            ("PLUGBOARD_TEST_MONGODB_URI", "x"),
            ("PLUGBOARD_TWITTER_CLIENT_ID", "x"),
            ("PLUGBOARD_TWITTER_CLIENT_SECRET_FILE", "x"),
            ("PLUGBOARD_MYSPACE_CLIENT_ID", "x"),
        ]));
        assert_eq!(
            unknown,
            vec![
                "PLUGBOARD_LISTN".to_string(),
                "PLUGBOARD_MYSPACE_CLIENT_ID".to_string()
            ]
        );
    }
}
