//! The application as a value: build it (store, keys, listener), read its port, run it.
//! Tests build it with a config made in code and port 0.

use crate::config::{Config, StoreKind};
use plugboard_core::{Keyring, Secret, SystemClock};
use plugboard_http::{Metrics, ServerOptions};
use plugboard_service::Services;
use plugboard_service::bootstrap::Bootstrap;
use plugboard_store::Store;
use plugboard_store::mongo::MongoStore;
use plugboard_store::sqlite::SqliteStore;
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
    let keyring = keyring(config)?;
    let store = open_store(config).await?;
    Ok(Services::new(
        store,
        Arc::new(SystemClock),
        Arc::new(keyring),
    ))
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
        let services = services(&config).await?;
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
        self.server.await
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
