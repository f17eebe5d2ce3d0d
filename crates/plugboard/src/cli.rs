//! Command line: `plugboard serve | keys | profiles | accounts | healthcheck`.

use crate::app::{self, Application, KEY_FILE};
use crate::config::{Config, StoreKind};
use clap::{Args, Parser, Subcommand};
use plugboard_core::{ApiKeyId, Platform, ProfileId};
use plugboard_service::Services;
use plugboard_service::api_keys::NewApiKey;
use plugboard_service::profiles::{NewProfile, validate_name};
use plugboard_store::{AccountQuery, ProfileFilter};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "plugboard",
    version,
    about = "Self-hosted social account connections, wire-compatible with Zernio's connection API"
)]
pub struct Cli {
    /// TOML configuration file (environment variables override it).
    #[arg(long, global = true, env = "PLUGBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the server (the default command).
    Serve(ServeArgs),
    /// Create, list and revoke API keys; rotate the encryption key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// List and create profiles.
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// List connected accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Serve only the fake platforms, at `/sandbox` (point replicas' platform base URLs at
    /// it, as a deployment points at the real platforms).
    Sandbox(SandboxArgs),
    /// Ask the running server whether it is healthy: exit 0 when `/healthz` (or `/readyz`)
    /// answers 200, 1 otherwise. For container health checks in images without curl.
    Healthcheck(HealthcheckArgs),
}

#[derive(Args, Debug, Default)]
pub struct HealthcheckArgs {
    /// Check `/readyz` (the store answers) instead of `/healthz` (the process serves HTTP).
    #[arg(long)]
    pub ready: bool,
    /// The server's base URL, e.g. http://127.0.0.1:8080 (default: derived from
    /// PLUGBOARD_LISTEN, with a wildcard address replaced by loopback).
    #[arg(long)]
    pub url: Option<url::Url>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Address to listen on, host:port (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: String,
}

/// `plugboard sandbox`: the fakes alone, with no store. Prints where they are, then serves
/// until stopped.
pub async fn run_sandbox(args: SandboxArgs) -> Result<(), CliError> {
    let listener = std::net::TcpListener::bind(&args.listen)
        .map_err(|e| CliError::Failed(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new()
            .service(actix_web::web::scope("/sandbox").configure(plugboard_sandbox::configure))
    })
    .listen(listener)
    .map_err(|e| CliError::Failed(e.to_string()))?
    .run();
    println!(
        "\nPlugboard sandbox is running at http://{addr}/sandbox\n\n  Press Ctrl-C to stop.\n"
    );
    server.await.map_err(|e| CliError::Failed(e.to_string()))
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on, host:port (port 0 picks a free one). Overrides PLUGBOARD_LISTEN.
    #[arg(long)]
    pub listen: Option<String>,
    /// Serve the built-in fake platforms. Overrides PLUGBOARD_SANDBOX.
    #[arg(long, overrides_with = "no_sandbox")]
    pub sandbox: bool,
    /// Do not serve the built-in fake platforms.
    #[arg(long)]
    pub no_sandbox: bool,
    /// Data directory for the embedded store. Overrides PLUGBOARD_DATA_DIR.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a full-access API key and print it (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// Days until the key expires.
        #[arg(long)]
        expires_in: Option<u32>,
        /// Make it a read-only key (GET requests only).
        #[arg(long)]
        read_only: bool,
    },
    /// List API keys (previews only).
    List,
    /// Revoke an API key by id.
    Revoke { id: String },
    /// Re-encrypt every stored secret with the current encryption key. With the embedded
    /// store and a generated key file, `--generate` first makes a new current key.
    RotateEncryption {
        #[arg(long)]
        generate: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProfilesCommand {
    /// List profiles.
    List,
    /// Create a profile.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AccountsCommand {
    /// List connected accounts.
    List {
        #[arg(long)]
        profile: Option<String>,
        #[arg(long)]
        platform: Option<String>,
    },
}

/// A CLI failure: printed as one line, exit code 1 (2 for configuration errors).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Start(#[from] app::StartError),
    #[error("{0}")]
    Failed(String),
}

impl From<plugboard_service::ServiceError> for CliError {
    fn from(e: plugboard_service::ServiceError) -> Self {
        CliError::Failed(e.to_string())
    }
}

impl From<plugboard_store::StoreError> for CliError {
    fn from(e: plugboard_store::StoreError) -> Self {
        CliError::Failed(e.to_string())
    }
}

pub fn load_config(cli: &Cli, serve: Option<&ServeArgs>) -> Result<Config, CliError> {
    let mut config = Config::load(cli.config.as_deref()).map_err(app::StartError::from)?;
    if let Some(s) = serve {
        if let Some(listen) = &s.listen {
            config.listen = std::net::ToSocketAddrs::to_socket_addrs(listen.as_str())
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| {
                    CliError::Failed(format!(
                        "configuration error: --listen: {listen:?} is not host:port"
                    ))
                })?;
        }
        if s.sandbox {
            config.sandbox = true;
        }
        if s.no_sandbox {
            config.sandbox = false;
        }
        if let Some(d) = &s.data_dir {
            config.data_dir = d.clone();
        }
    }
    Ok(config)
}

pub async fn serve(config: Config) -> Result<(), CliError> {
    let app = Application::build(config).await?;
    let url = app.public_url().clone();
    let boot = app.bootstrap();
    let mut banner = format!(
        "\nPlugboard is running at {url}\n  listening on: {}\n  store: {}",
        app.local_addr(),
        app.services().store.backend_name()
    );
    if app.sandbox() {
        banner.push_str(&format!(
            "\n  sandbox: ON — unconfigured platforms are served by built-in fakes ({url}sandbox)"
        ));
    }
    if let Some(key) = &boot.generated_key {
        // Printed once, to the terminal, on the start that created it; never logged.
        banner.push_str(&format!(
            "\n\n  Your first API key (shown once, keep it safe):\n    {}\n\n  Try: curl -H 'Authorization: Bearer {}' {url}v1/profiles",
            key.expose(),
            key.expose()
        ));
    } else if boot.installed_configured_key {
        banner.push_str("\n  first API key: installed from PLUGBOARD_BOOTSTRAP_API_KEY");
    }
    banner.push_str("\n\n  Press Ctrl-C to stop.");
    println!("{banner}\n");
    app.run_until_stopped()
        .await
        .map_err(|e| CliError::Failed(e.to_string()))
}

/// Where `plugboard healthcheck` finds the server listening on `listen`: the same address,
/// or loopback when it listens on every interface.
pub fn healthcheck_base(listen: std::net::SocketAddr) -> Result<url::Url, CliError> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    if listen.port() == 0 {
        return Err(CliError::Failed(
            "healthcheck: PLUGBOARD_LISTEN has port 0 (a free port chosen at start); pass --url"
                .into(),
        ));
    }
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = std::net::SocketAddr::new(ip, listen.port());
    url::Url::parse(&format!("http://{addr}/"))
        .map_err(|e| CliError::Failed(format!("healthcheck: {addr}: {e}")))
}

/// `plugboard healthcheck`: one GET, no redirects followed; 200 is healthy.
pub async fn healthcheck(config: &Config, args: HealthcheckArgs) -> Result<(), CliError> {
    let base = match args.url {
        Some(u) => u,
        None => healthcheck_base(config.listen)?,
    };
    let path = if args.ready { "readyz" } else { "healthz" };
    let url = base
        .join(path)
        .map_err(|e| CliError::Failed(format!("healthcheck: {base}: {e}")))?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(args.timeout.max(1)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CliError::Failed(format!("healthcheck: {e}")))?;
    let status = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| CliError::Failed(format!("healthcheck: {url}: {e}")))?
        .status();
    if status != reqwest::StatusCode::OK {
        return Err(CliError::Failed(format!(
            "healthcheck: {url} answered {status}"
        )));
    }
    println!("ok: {url} answered {status}");
    Ok(())
}

async fn cli_services(config: &Config) -> Result<(Services, plugboard_core::OwnerId), CliError> {
    let services = app::services(config).await?;
    let owner = services.ensure_owner().await?;
    Ok((services, owner.id))
}

pub async fn run_keys(config: Config, cmd: KeysCommand) -> Result<(), CliError> {
    if let KeysCommand::RotateEncryption { generate } = cmd {
        return rotate(config, generate).await;
    }
    let (services, owner) = cli_services(&config).await?;
    match cmd {
        KeysCommand::Create {
            name,
            expires_in,
            read_only,
        } => {
            let mut new = NewApiKey::full(name);
            new.expires_in_days = expires_in;
            if read_only {
                new.permission = plugboard_store::Permission::Read;
            }
            let created = services.create_api_key_for(&owner, new).await?;
            println!("{}", created.key.expose());
            eprintln!(
                "created API key {} ({}); it is shown only this once",
                created.view.record.id, created.view.record.name
            );
        }
        KeysCommand::List => {
            println!(
                "{:<24}  {:<16}  {:<10}  {:<25}  NAME",
                "ID", "PREVIEW", "PERMISSION", "CREATED"
            );
            for k in services.list_api_keys_of(&owner).await? {
                let r = k.record;
                println!(
                    "{:<24}  {:<16}  {:<10}  {:<25}  {}",
                    r.id,
                    r.preview,
                    r.permission.as_str(),
                    r.created_at.to_rfc3339(),
                    r.name
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let id: ApiKeyId = id
                .parse()
                .map_err(|e: plugboard_core::IdError| CliError::Failed(e.to_string()))?;
            services.revoke_api_key_of(&owner, &id).await?;
            println!("revoked {id}");
        }
        KeysCommand::RotateEncryption { .. } => {}
    }
    Ok(())
}

async fn rotate(mut config: Config, generate: bool) -> Result<(), CliError> {
    let key_path = config.data_dir.join(KEY_FILE);
    if generate {
        if config.encryption_key.is_some() || config.store != StoreKind::Sqlite {
            return Err(CliError::Failed(
                "--generate rotates the data-dir key file; with PLUGBOARD_ENCRYPTION_KEY set, set a new key and list the old one in PLUGBOARD_ENCRYPTION_PREVIOUS_KEYS instead".into(),
            ));
        }
        let mut keys = app::key_file_keys(&config.data_dir)?;
        keys.insert(0, plugboard_core::seal::generate_key());
        app::write_key_file(&key_path, &keys)
            .map_err(|e| CliError::Failed(format!("{}: {e}", key_path.display())))?;
        eprintln!("new current key written to {}", key_path.display());
    }
    config.sandbox = false;
    let services = app::services(&config).await?;
    let report = services.reseal_all().await?;
    println!(
        "re-encrypted {} secret(s) with key {}; {} already current; {} changed concurrently",
        report.resealed,
        services.keyring.current_key_id(),
        report.already_current,
        report.skipped
    );
    if generate && report.skipped == 0 && config.encryption_key.is_none() {
        // Everything now opens with the new key; drop the old ones from the file.
        let keys = app::key_file_keys(&config.data_dir)?;
        if let Some(current) = keys.into_iter().next() {
            app::write_key_file(&key_path, &[current])
                .map_err(|e| CliError::Failed(e.to_string()))?;
        }
    }
    Ok(())
}

pub async fn run_profiles(config: Config, cmd: ProfilesCommand) -> Result<(), CliError> {
    let (services, owner) = cli_services(&config).await?;
    let scoped = plugboard_store::Scoped::new(services.store.clone(), owner.clone());
    match cmd {
        ProfilesCommand::List => {
            let (profiles, _) = scoped
                .list_profiles(&ProfileFilter::default(), 0, None)
                .await?;
            println!("{:<24}  {:<7}  NAME", "ID", "DEFAULT");
            for p in profiles {
                println!(
                    "{:<24}  {:<7}  {}",
                    p.id,
                    if p.is_default { "yes" } else { "" },
                    p.name
                );
            }
        }
        ProfilesCommand::Create { name, description } => {
            let caller = owner_caller(&owner);
            let profile = services
                .create_profile(
                    &caller,
                    NewProfile {
                        name: validate_name(&name)?,
                        description,
                        ..Default::default()
                    },
                )
                .await?;
            println!("{}", profile.id);
        }
    }
    Ok(())
}

/// The CLI acts with the owner's full rights.
fn owner_caller(owner: &plugboard_core::OwnerId) -> plugboard_service::Caller {
    plugboard_service::Caller {
        owner: owner.clone(),
        key_id: ApiKeyId::generate(0),
        permission: plugboard_store::Permission::ReadWrite,
        profile_ids: None,
        disabled_resource_groups: vec![],
    }
}

pub async fn run_accounts(config: Config, cmd: AccountsCommand) -> Result<(), CliError> {
    let (services, owner) = cli_services(&config).await?;
    let scoped = plugboard_store::Scoped::new(services.store.clone(), owner);
    let AccountsCommand::List { profile, platform } = cmd;
    let mut query = AccountQuery::default();
    if let Some(p) = profile {
        let id: ProfileId = p
            .parse()
            .map_err(|e: plugboard_core::IdError| CliError::Failed(e.to_string()))?;
        query.profile_ids = Some(vec![id]);
    }
    if let Some(p) = platform {
        let p: Platform = p
            .parse()
            .map_err(|e: plugboard_core::UnknownPlatform| CliError::Failed(e.to_string()))?;
        query.platforms = Some(vec![p]);
    }
    let page = scoped.list_accounts(&query).await?;
    println!(
        "{:<24}  {:<14}  {:<24}  {:<6}  USERNAME",
        "ID", "PLATFORM", "PROFILE", "STATUS"
    );
    for a in page.accounts {
        let status = if a.needs_reconnection {
            "reconnect"
        } else if a.is_active {
            "ok"
        } else {
            "off"
        };
        println!(
            "{:<24}  {:<14}  {:<24}  {:<6}  {}",
            a.id,
            a.platform,
            a.profile_id,
            status,
            a.username.unwrap_or_default()
        );
    }
    Ok(())
}

/// What `main` does with the parsed command line; the benchmark's smoke test runs the
/// server through it from its own binary.
pub async fn main_with(mut cli: Cli) -> ExitCode {
    // The fakes alone need no configuration, store or key.
    if let Some(Command::Sandbox(args)) = cli.command.take_if(|c| matches!(c, Command::Sandbox(_)))
    {
        let _telemetry = crate::telemetry::init(crate::config::LogFormat::Text, "info", None);
        return match run_sandbox(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("plugboard: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let default_serve = ServeArgs::default();
    let serve_args = match &cli.command {
        None => Some(&default_serve),
        Some(Command::Serve(a)) => Some(a),
        _ => None,
    };
    let config = match load_config(&cli, serve_args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("plugboard: {e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = crate::telemetry::init(
        config.log_format,
        &config.log,
        config.otlp_endpoint.as_ref(),
    );
    for var in crate::config::unknown_env_vars(std::env::vars()) {
        tracing::warn!(variable = %var, "unknown PLUGBOARD_* environment variable ignored");
    }
    let result = match cli.command {
        None | Some(Command::Serve(_)) => serve(config).await,
        Some(Command::Keys(cmd)) => run_keys(config, cmd).await,
        Some(Command::Profiles(cmd)) => run_profiles(config, cmd).await,
        Some(Command::Accounts(cmd)) => run_accounts(config, cmd).await,
        Some(Command::Sandbox(_)) => Ok(()),
        Some(Command::Healthcheck(args)) => healthcheck(&config, args).await,
    };
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugboard: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_targets_loopback_when_listening_everywhere() {
        let base = |listen: &str| healthcheck_base(listen.parse().unwrap()).map(|u| u.to_string());
        assert_eq!(base("0.0.0.0:8080").unwrap(), "http://127.0.0.1:8080/");
        assert_eq!(base("[::]:9000").unwrap(), "http://[::1]:9000/");
        assert_eq!(base("10.1.2.3:8080").unwrap(), "http://10.1.2.3:8080/");
        let e = base("127.0.0.1:0").unwrap_err().to_string();
        assert!(e.contains("--url"), "{e}");
    }
}
