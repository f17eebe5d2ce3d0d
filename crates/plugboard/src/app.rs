//! The application as a value: build it (store, keys, listener), read its port, run it.
//! Tests build it with a config made in code and port 0.

use crate::config::{Config, StoreKind};
use plugboard_core::{Clock, Keyring, Platform, Secret, SystemClock};
use plugboard_http::{Metrics, ServerOptions};
use plugboard_platforms::{BaseUrl, Connectors, Flavor, PlatformApp, build_connector};
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
pub fn connect_context(
    config: &Config,
    public_url: &url::Url,
    clock: Arc<dyn Clock>,
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
    Ok(ConnectContext::new(
        connectors,
        public_url.clone(),
        sandboxed,
    ))
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
    match config.store {
        StoreKind::Sqlite => {
            let path = config.data_dir.join(DB_FILE);
            let store = SqliteStore::open(&path)
                .await
                .map_err(|e| StartError::Store {
                    backend: "sqlite",
                    message: format!("{}: {e}", path.display()),
                })?;
            Ok(Arc::new(store))
        }
        StoreKind::Mongodb => {
            let uri = config
                .mongodb_uri
                .as_ref()
                .map(|u| u.expose().as_str())
                .unwrap_or_default();
            let store = MongoStore::connect(uri, &config.mongodb_database)
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
    let store = open_store(config).await?;
    Ok(Services::new(store, clock, Arc::new(keyring)))
}

pub struct Application {
    server: actix_web::dev::Server,
    addr: SocketAddr,
    public_url: url::Url,
    services: Services,
    bootstrap: Bootstrap,
    sandbox: bool,
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
        )?);
        let server = plugboard_http::server(
            services.clone(),
            metrics,
            listener,
            ServerOptions {
                sandbox: config
                    .sandbox
                    .then_some(plugboard_sandbox::configure as fn(&mut _)),
                workers: config.workers,
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

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let services = self.services.clone();
        let sweeper = tokio::spawn(async move {
            let mut every = tokio::time::interval(plugboard_service::sweeper::SWEEP_EVERY);
            loop {
                every.tick().await;
                if let Err(e) = services.sweep_flows(services.clock.now()).await {
                    tracing::warn!(error = %e, "sweeping expired connect records failed");
                }
            }
        });
        let result = self.server.await;
        sweeper.abort();
        result
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
