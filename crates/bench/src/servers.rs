//! Starting the things under test: a `plugboard serve` on SQLite or MongoDB (with its
//! sandbox in process, or pointed at the sandbox running as its own process), that sandbox
//! process, and the bare actix-web handler.

use crate::Res;
use crate::procs::{Launcher, Proc, control_client, free_port, loopback, wait_ready};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const READY_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub enum Store {
    Sqlite,
    Mongodb { uri: String, database: String },
}

impl Store {
    pub fn label(&self) -> &'static str {
        match self {
            Store::Sqlite => "SQLite",
            Store::Mongodb { .. } => "MongoDB (nx-27017)",
        }
    }
}

/// Where the server's platforms are.
#[derive(Debug, Clone)]
pub enum Platforms {
    /// The sandbox mounted in the server itself (`PLUGBOARD_SANDBOX=true`).
    InProcess,
    /// The sandbox as its own process, at this `…/sandbox` URL, as a deployment points
    /// at the real platforms.
    External(String),
}

#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub data_dir: PathBuf,
    pub store: Store,
    pub platforms: Platforms,
    pub workers: usize,
    pub key: String,
    /// A 64-hex encryption key (required on MongoDB; SQLite uses the data dir's file).
    pub encryption_key: Option<String>,
    pub extra_env: Vec<(String, String)>,
}

pub struct Server {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub base: String,
    pub key: String,
    /// Spawn until `/readyz` answered 200.
    pub ready_after: Duration,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

pub fn random_hex(bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(raw)
}

pub fn random_key() -> String {
    format!("sk_{}", random_hex(32))
}

/// Points every OAuth platform of a server at an external sandbox.
fn external_platform_env(sandbox_url: &str) -> Vec<(String, String)> {
    let mut env = vec![("PLUGBOARD_SANDBOX".to_owned(), "false".to_owned())];
    for slug in plugboard_sandbox::platforms() {
        if matches!(slug, "telegram" | "bluesky" | "whatsapp") {
            continue;
        }
        let up = slug.to_ascii_uppercase();
        env.push((
            format!("PLUGBOARD_{up}_CLIENT_ID"),
            plugboard_sandbox::DEFAULT_CLIENT_ID.to_owned(),
        ));
        env.push((
            format!("PLUGBOARD_{up}_CLIENT_SECRET"),
            plugboard_sandbox::DEFAULT_CLIENT_SECRET.to_owned(),
        ));
        env.push((
            format!("PLUGBOARD_{up}_BASE_URL"),
            format!("{sandbox_url}/{slug}"),
        ));
    }
    env
}

pub async fn start_plugboard(
    launcher: &Launcher,
    spec: &ServerSpec,
    log: &Path,
    name: &str,
) -> Res<Server> {
    let port = free_port()?;
    let addr = loopback(port);
    let mut cmd = launcher.command();
    cmd.arg("serve")
        .env("PLUGBOARD_LISTEN", addr.to_string())
        .env("PLUGBOARD_DATA_DIR", &spec.data_dir)
        .env("PLUGBOARD_BOOTSTRAP_API_KEY", &spec.key)
        .env("PLUGBOARD_WORKERS", spec.workers.to_string())
        // The limiter runs on every request, but never says no to the load generator.
        .env("PLUGBOARD_RATE_LIMIT_PER_MINUTE", "1000000000")
        .env("PLUGBOARD_SHUTDOWN_DRAIN_SECONDS", "0")
        .env("PLUGBOARD_LOG", "info");
    if let Some(k) = &spec.encryption_key {
        cmd.env("PLUGBOARD_ENCRYPTION_KEY", k);
    }
    match &spec.store {
        Store::Sqlite => {
            cmd.env("PLUGBOARD_STORE", "sqlite");
        }
        Store::Mongodb { uri, database } => {
            cmd.env("PLUGBOARD_STORE", "mongodb")
                .env("PLUGBOARD_MONGODB_URI", uri)
                .env("PLUGBOARD_MONGODB_DATABASE", database);
        }
    }
    match &spec.platforms {
        Platforms::InProcess => {
            cmd.env("PLUGBOARD_SANDBOX", "true");
        }
        Platforms::External(url) => {
            cmd.envs(external_platform_env(url));
        }
    }
    cmd.envs(spec.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let started = Instant::now();
    let mut proc = Proc::spawn(name, cmd, log)?;
    let base = format!("http://{addr}");
    let client = control_client()?;
    let ready_after = wait_ready(
        &mut proc,
        &client,
        &format!("{base}/readyz"),
        started,
        READY_LIMIT,
    )
    .await?;
    Ok(Server {
        proc,
        addr,
        base,
        key: spec.key.clone(),
        ready_after,
    })
}

pub struct Sandbox {
    pub proc: Proc,
    /// `http://127.0.0.1:<port>/sandbox`
    pub url: String,
}

/// `plugboard sandbox --listen …`: the fakes as their own process.
pub async fn start_sandbox(launcher: &Launcher, log: &Path) -> Res<Sandbox> {
    let port = free_port()?;
    let addr = loopback(port);
    let mut cmd = launcher.command();
    cmd.args(["sandbox", "--listen", &addr.to_string()]);
    let started = Instant::now();
    let mut proc = Proc::spawn("sandbox", cmd, log)?;
    let url = format!("http://{addr}/sandbox");
    wait_ready(
        &mut proc,
        &control_client()?,
        &format!("{url}/_faults"),
        started,
        READY_LIMIT,
    )
    .await?;
    Ok(Sandbox { proc, url })
}

pub struct Bare {
    pub proc: Proc,
    pub addr: SocketAddr,
}

/// This binary's `bare` mode: actix-web with one JSON handler at the connect path.
pub async fn start_bare(workers: usize, log: &Path) -> Res<Bare> {
    let port = free_port()?;
    let addr = loopback(port);
    let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    cmd.args([
        "bare",
        "--listen",
        &addr.to_string(),
        "--workers",
        &workers.to_string(),
    ])
    .env_clear()
    .stdin(std::process::Stdio::null())
    .kill_on_drop(true);
    let started = Instant::now();
    let mut proc = Proc::spawn("bare actix-web handler", cmd, log)?;
    wait_ready(
        &mut proc,
        &control_client()?,
        &format!("http://{addr}/readyz"),
        started,
        READY_LIMIT,
    )
    .await?;
    Ok(Bare { proc, addr })
}

/// The id of the server's default profile (the bootstrap made it).
pub async fn default_profile(server: &Server) -> Res<String> {
    let r: serde_json::Value = control_client()?
        .get(server.url("/v1/profiles"))
        .bearer_auth(&server.key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    r["profiles"][0]["_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no default profile in {r}").into())
}

/// Sets a sandbox fault knob (`POST /sandbox/_faults`).
pub async fn set_fault(sandbox_url: &str, body: serde_json::Value) -> Res<()> {
    control_client()?
        .post(format!("{sandbox_url}/_faults"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}
