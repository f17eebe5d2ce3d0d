//! The compiled binary: start-up banner, first-start key, configuration errors and the CLI.

use plugboard_core::Platform;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_plugboard");

pub(crate) fn plugboard(data_dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PLUGBOARD_DATA_DIR", data_dir)
        .env("PLUGBOARD_LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Starts the server and reads its banner until the URL (and key, if any) is known.
async fn start(data_dir: &Path) -> (Child, String, Option<String>) {
    start_command(plugboard(data_dir)).await
}

/// `plugboard serve` with `cmd`'s settings; the rest of its output is read and dropped, so
/// the server never blocks on a full pipe.
pub(crate) async fn start_command(mut cmd: Command) -> (Child, String, Option<String>) {
    let mut child = cmd
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut key) = (None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let line = line.trim().to_owned();
            if let Some(u) = line.strip_prefix("Plugboard is running at ") {
                url.get_or_insert_with(|| u.trim_end_matches('/').to_owned());
            }
            // Where this process listens, which differs from the public URL behind a
            // load balancer.
            if let Some(a) = line.strip_prefix("listening on: ") {
                url = Some(format!("http://{}", a.trim()));
            }
            if line.starts_with("sk_") {
                key = Some(line.clone());
            }
            if line.starts_with("Press Ctrl-C") {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), read)
        .await
        .expect("banner within a minute");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url.expect("URL in banner"), key)
}

async fn run(data_dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = plugboard(data_dir).args(args).output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn binary_starts_on_port_zero_prints_its_url_and_a_key_only_on_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url, key) = start(dir.path()).await;
    let key = key.expect("first start prints a key");
    let client = reqwest::Client::new();
    let health = client.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let profiles = client
        .get(format!("{url}/v1/profiles"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(profiles.status(), 200);
    assert!(dir.path().join("plugboard.db").exists());
    assert!(dir.path().join("encryption.key").exists());
    child.kill().await.unwrap();

    let (mut child, url2, key2) = start(dir.path()).await;
    assert_eq!(key2, None, "no key on later starts");
    let still = client
        .get(format!("{url2}/v1/profiles"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200, "the first key survives a restart");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn bad_configuration_stops_the_start_with_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("PLUGBOARD_LISTEN", "not-an-address"),
        ("PLUGBOARD_STORE", "oracle"),
        ("PLUGBOARD_SANDBOX", "sometimes"),
    ] {
        let out = plugboard(dir.path())
            .env(var, value)
            .arg("serve")
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(var), "{stderr}");
    }
    let missing = tempfile::tempdir().unwrap();
    let file = missing.path().join("nope.toml");
    let (code, _, stderr) = run(dir.path(), &["--config", file.to_str().unwrap(), "serve"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("--config"), "{stderr}");
}

#[tokio::test]
async fn cli_manages_keys_profiles_and_lists_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let (code, key, _) = run(dir.path(), &["keys", "create", "--name", "deploy"]).await;
    assert_eq!(code, 0);
    let key = key.trim().to_owned();
    assert!(key.starts_with("sk_") && key.len() == 67, "{key}");
    let (_, listed, _) = run(dir.path(), &["keys", "list"]).await;
    assert!(
        listed.contains("deploy") && !listed.contains(&key),
        "{listed}"
    );
    let id = listed
        .lines()
        .find(|l| l.contains("deploy"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let (code, pid, _) = run(dir.path(), &["profiles", "create", "--name", "Brand"]).await;
    assert_eq!(code, 0);
    let (_, profiles, _) = run(dir.path(), &["profiles", "list"]).await;
    assert!(
        profiles.contains(pid.trim()) && profiles.contains("Default"),
        "{profiles}"
    );

    // The key works against a server on the same data directory.
    let mut config = plugboard::Config::for_data_dir(dir.path());
    config.sandbox = false;
    let services = plugboard::app::services(&config).await.unwrap();
    assert!(services.authenticate(&key).await.is_ok());
    let (code, accounts, _) = run(dir.path(), &["accounts", "list", "--platform", "twitter"]).await;
    assert_eq!(code, 0);
    assert!(accounts.starts_with("ID"), "{accounts}");

    let (code, _, _) = run(dir.path(), &["keys", "revoke", &id]).await;
    assert_eq!(code, 0);
    assert!(services.authenticate(&key).await.is_err(), "revoked");
    let (code, _, err) = run(dir.path(), &["keys", "revoke", &id]).await;
    assert_eq!(code, 1, "{err}");

    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["keys", "--help"],
        &["profiles", "--help"],
        &["accounts", "--help"],
        &["keys", "create", "--help"],
    ] {
        let (code, out, _) = run(dir.path(), args).await;
        assert_eq!(code, 0, "{args:?}");
        assert!(out.contains("Usage"), "{args:?}: {out}");
    }
}

#[tokio::test]
async fn rotating_the_encryption_key_reseals_every_token_under_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = plugboard::Config::for_data_dir(dir.path());
    let services = plugboard::app::services(&config).await.unwrap();
    let owner = services.ensure_owner().await.unwrap();
    let profile = services
        .store
        .list_profiles(&owner.id, &Default::default(), 0, None)
        .await
        .unwrap()
        .0
        .remove(0);
    let context =
        plugboard_store::Account::tokens_context(&owner.id, Platform::Threads, "th-1", "");
    let old_kid = services.keyring.current_key_id().to_owned();
    services
        .store
        .upsert_account(
            &plugboard_store::AccountUpsert {
                owner_id: owner.id.clone(),
                profile_id: profile.id.clone(),
                platform: Platform::Threads,
                platform_user_id: "th-1".into(),
                destination_id: String::new(),
                username: None,
                display_name: None,
                profile_picture: None,
                profile_url: None,
                followers_count: None,
                parent_account_id: None,
                enabled: true,
                metadata: Default::default(),
                tokens: Some(services.keyring.seal(&context, b"threads-token")),
                token_expires_at: None,
                scopes: vec![],
            },
            None,
            services.clock.now(),
        )
        .await
        .unwrap();
    drop(services);
    let (code, out, err) = run(dir.path(), &["keys", "rotate-encryption", "--generate"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("re-encrypted 1 secret"), "{out}");
    let services = plugboard::app::services(&config).await.unwrap();
    assert_ne!(services.keyring.current_key_id(), old_kid);
    let acc = services
        .store
        .accounts_with_tokens()
        .await
        .unwrap()
        .remove(0);
    let sealed = acc.tokens.unwrap();
    assert_eq!(sealed.key_id(), Some(services.keyring.current_key_id()));
    assert_eq!(
        services.keyring.open(&context, &sealed).unwrap().expose(),
        b"threads-token"
    );
    let keyfile = std::fs::read_to_string(dir.path().join("encryption.key")).unwrap();
    assert_eq!(
        keyfile.lines().filter(|l| !l.starts_with('#')).count(),
        1,
        "old key dropped once nothing needs it"
    );
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_never_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = crate::helpers::random_key();
    let mut child = plugboard(dir.path())
        .env("PLUGBOARD_LOG_FORMAT", "json")
        .env("PLUGBOARD_BOOTSTRAP_API_KEY", &key)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            let line = out.next_line().await.unwrap().unwrap();
            if let Some(u) = line.trim().strip_prefix("Plugboard is running at ") {
                return u.trim_end_matches('/').to_owned();
            }
        }
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{url}/v1/profiles"))
        .bearer_auth(&key)
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let line = err.next_line().await.unwrap().unwrap();
            if line.contains("trace-me-42") {
                return line;
            }
        }
    })
    .await
    .expect("a log line for the request");
    let entry: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
    assert_eq!(entry["span"]["request_id"], "trace-me-42", "{line}");
    assert!(!line.contains(&key));
    child.kill().await.unwrap();
}

/// Runs two connects (standard and headless) against the compiled binary and reads every
/// log line it wrote: no key, state, code, token or hand-over token may appear.
#[tokio::test]
async fn connect_flow_logs_never_carry_keys_states_codes_or_tokens() {
    use crate::flows::{attr_after, query};
    let dir = tempfile::tempdir().unwrap();
    let key = crate::helpers::random_key();
    let mut child = plugboard(dir.path())
        .env("PLUGBOARD_LOG_FORMAT", "json")
        .env(
            "PLUGBOARD_LOG",
            "info,plugboard_service=debug,plugboard_http=debug,plugboard_platforms=debug",
        )
        .env("PLUGBOARD_BOOTSTRAP_API_KEY", &key)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            let line = out.next_line().await.unwrap().unwrap();
            if let Some(u) = line.trim().strip_prefix("Plugboard is running at ") {
                return u.trim_end_matches('/').to_owned();
            }
        }
    })
    .await
    .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let logs = tokio::spawn(async move {
        let mut all = String::new();
        while let Ok(Some(line)) = err.next_line().await {
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let profiles: serde_json::Value = client
        .get(format!("{url}/v1/profiles"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let profile = profiles["profiles"][0]["_id"].as_str().unwrap().to_owned();
    let mut secrets = vec![key.clone()];
    for (platform, headless) in [("twitter", false), ("facebook", true)] {
        let start: serde_json::Value = client
            .get(format!(
                "{url}/v1/connect/{platform}?profileId={profile}&headless={headless}&redirect_url=https%3A%2F%2Fapp.example%2Fcb"
            ))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let auth = start["authUrl"].as_str().unwrap().to_owned();
        secrets.push(start["state"].as_str().unwrap().to_owned());
        let html = client
            .get(&auth)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let action = attr_after(&html, "<form", "action").unwrap();
        let request = attr_after(&html, "name=\"_request\"", "value").unwrap();
        let consent = client
            .post(format!("{url}{action}"))
            .form(&[
                ("_request", request.as_str()),
                ("username", "logged"),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap();
        let callback = consent.headers()["location"].to_str().unwrap().to_owned();
        let q = query(&url::Url::parse(&callback).unwrap());
        secrets.push(q["code"].clone());
        let landed = client.get(&callback).send().await.unwrap();
        let next = landed.headers()["location"].to_str().unwrap().to_owned();
        let handed = query(&url::Url::parse(&next).unwrap());
        for k in ["tempToken", "connect_token", "token"] {
            if let Some(v) = handed.get(k) {
                secrets.push(v.clone());
            }
        }
    }
    assert!(secrets.len() >= 6, "{secrets:?}");
    child.kill().await.unwrap();
    let logs = tokio::time::timeout(std::time::Duration::from_secs(30), logs)
        .await
        .unwrap()
        .unwrap();
    assert!(
        logs.contains("connect started"),
        "the flow was logged at all"
    );
    assert!(logs.contains("account connected"), "{logs}");
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret reached the logs: {s}");
    }
    assert!(
        !logs.contains("sbx-"),
        "a sandbox code or token reached the logs"
    );
}

/// Against a running binary at `url`: starts a `platform` connect for the key's first
/// profile (redirect `https://app.example/cb`), approves it as `user` at the sandbox whose
/// origin is `sandbox` (the server itself when its sandbox is on), and returns the
/// callback URL the platform sends the browser to.
pub(crate) async fn approve_at_sandbox(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    sandbox: &str,
    platform: &str,
    user: &str,
) -> String {
    let get_json = |u: String| async move {
        client
            .get(u)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let profiles = get_json(format!("{url}/v1/profiles")).await;
    let profile = profiles["profiles"][0]["_id"].as_str().unwrap().to_owned();
    let start = get_json(format!(
        "{url}/v1/connect/{platform}?profileId={profile}&redirect_url=https%3A%2F%2Fapp.example%2Fcb"
    ))
    .await;
    let auth = start["authUrl"].as_str().unwrap().to_owned();
    let html = client
        .get(&auth)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = crate::flows::attr_after(&html, "<form", "action").unwrap();
    let request = crate::flows::attr_after(&html, "name=\"_request\"", "value").unwrap();
    let consent = crate::helpers::reply(
        client
            .post(format!("{sandbox}{action}"))
            .form(&[
                ("_request", request.as_str()),
                ("username", user),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    crate::flows::location(&consent)
}
