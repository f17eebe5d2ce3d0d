//! Configuration: defaults, then a TOML file (only when given with `--config` or
//! `PLUGBOARD_CONFIG`, never picked up from the working directory by accident), then
//! `PLUGBOARD_*` environment variables. `PLUGBOARD_X_FILE` reads a secret from a file.
//! A bad setting stops the start with one line naming it.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use plugboard_core::Secret;
use serde::{Deserialize, Serialize};
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
        // Test-suite and per-platform settings (later) are not server settings.
        let known = KNOWN.contains(&rest.as_str())
            || FILE_SECRETS.contains(&base)
            || rest.starts_with("test_")
            || rest.starts_with("nx27017");
        (!known).then_some(k)
    })
    .collect()
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
            if let Some(base) = key.strip_suffix("_file")
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
            let value = if key == "encryption_previous_keys" {
                figment::value::Value::from(
                    value
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>(),
                )
            } else if matches!(key.as_str(), "sandbox" | "workers") {
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
    fn unknown_variables_are_reported() {
        let unknown = unknown_env_vars(env(&[
            ("PLUGBOARD_LISTEN", "x"),
            ("PLUGBOARD_LISTN", "x"),
            ("PLUGBOARD_ENCRYPTION_KEY_FILE", "x"),
            ("PLUGBOARD_TEST_MONGODB_URI", "x"),
        ]));
        assert_eq!(unknown, vec!["PLUGBOARD_LISTN".to_string()]);
    }
}
