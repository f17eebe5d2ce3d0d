//! The official Zernio Python SDK (`zernio-sdk`), unchanged, against the real server: only
//! its base URL differs from production. The scenario lives in `tests/python/sdk_compat.py`;
//! this test prepares the SDK's virtualenv, starts the server, seeds accounts through the
//! store, runs the script and checks what it reports against the store.
//!
//! The virtualenv is `$HOME/.cache/plugboard/venv`. When it is missing or cannot import
//! the pinned SDK it is created and the SDK installed from the package registry; a failed
//! installation fails the test (it is never skipped).

use crate::helpers::*;
use plugboard_core::{AccountId, Platform, ProfileId};
use plugboard_store::{AccountQuery, Permission, ProfileFilter};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SDK_REQUIREMENT: &str = "zernio-sdk==1.4.1385";
pub(crate) const SDK_VERSION: &str = "1.4.1385";
/// Models in the SDK use pydantic's `EmailStr`, which needs this; the wheel does not
/// declare it.
const SDK_EXTRA: &str = "email-validator";

fn venv_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .expect("HOME must be set: the SDK virtualenv lives in $HOME/.cache/plugboard/venv");
    PathBuf::from(home).join(".cache/plugboard/venv")
}

pub(crate) fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `Ok` when `python` imports the SDK at the pinned version, under both module names.
fn sdk_importable(python: &Path) -> Result<(), String> {
    let probe = format!(
        "import late, zernio, email_validator\n\
         assert late.__version__ == '{SDK_VERSION}', late.__version__"
    );
    match Command::new(python).args(["-c", &probe]).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(describe(&o)),
        Err(e) => Err(format!("cannot run {}: {e}", python.display())),
    }
}

/// A lock held by creating a directory (atomic everywhere), so that concurrent test
/// processes install the SDK once. A lock older than ten minutes is from a killed run.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: PathBuf) -> DirLock {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            match std::fs::create_dir(&path) {
                Ok(()) => return DirLock(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok());
                    if age.is_some_and(|a| a > Duration::from_secs(600)) {
                        let _ = std::fs::remove_dir(&path);
                        continue;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "timed out waiting for the SDK install lock {}",
                        path.display()
                    );
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => panic!("cannot create the lock {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start it: {e}"));
    assert!(
        output.status.success(),
        "{what} failed, so the Python SDK cannot be tested: {}",
        describe(&output)
    );
}

/// The virtualenv's interpreter, with the pinned SDK importable; installs it when needed.
pub(crate) fn ensure_sdk() -> PathBuf {
    let venv = venv_dir();
    let python = venv.join("bin").join("python");
    if sdk_importable(&python).is_ok() {
        return python;
    }
    std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
    let _lock = DirLock::acquire(venv.with_extension("lock"));
    if sdk_importable(&python).is_ok() {
        return python;
    }
    let runs = Command::new(&python)
        .args(["-c", "pass"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !runs {
        run(
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
            "python3 -m venv",
        );
    }
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--disable-pip-version-check"])
            .args([SDK_REQUIREMENT, SDK_EXTRA]),
        &format!("pip install {SDK_REQUIREMENT} {SDK_EXTRA}"),
    );
    if let Err(e) = sdk_importable(&python) {
        panic!("{SDK_REQUIREMENT} is installed but cannot be imported: {e}");
    }
    python
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/sdk_compat.py")
}

/// Runs one SDK scenario script against `app` with `seed` in `PLUGBOARD_SEED`, and returns
/// its `SDK_SUMMARY` (the last line it prints on success). A failed script fails the test
/// with its output.
pub(crate) async fn run_sdk_script(
    app: &TestApp,
    python: &Path,
    script: &Path,
    seed: &Value,
    scenario: &str,
) -> Value {
    let mut command = tokio::process::Command::new(python);
    command
        .arg(script)
        .env("PLUGBOARD_BASE", &app.base)
        .env("PLUGBOARD_KEY", &app.key)
        .env("PLUGBOARD_SEED", seed.to_string())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .kill_on_drop(true);
    // The SDK would fall back to these, and httpx honours proxies: the servers are local.
    for var in [
        "ZERNIO_API_KEY",
        "LATE_API_KEY",
        "PYTHONOPTIMIZE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(var);
    }
    let output = tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .expect("the SDK script finished within 5 minutes")
        .expect("the SDK script starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the Python SDK {scenario} scenario failed: {}",
        describe(&output)
    );
    stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("SDK_SUMMARY "))
        .map(|j| serde_json::from_str(j).unwrap())
        .unwrap_or_else(|| panic!("no SDK_SUMMARY line: {}", describe(&output)))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn python_sdk_drives_profiles_accounts_and_api_keys_unchanged() {
    let python = tokio::task::spawn_blocking(ensure_sdk)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));

    let app = spawn_app().await;
    let owner = app.owner().await;
    let default = app.default_profile().await;
    let second = app.create_profile("Second brand").await;
    let mut seeded = Vec::new();
    for (profile, platform, uid) in [
        (&default, Platform::Twitter, "tw-1001"),
        (&default, Platform::Instagram, "ig-2002"),
        (&second, Platform::Linkedin, "li-3003"),
        (&second, Platform::Youtube, "yt-4004"),
    ] {
        let a = app
            .seed_account(profile, platform, uid, &format!("token-{uid}"))
            .await;
        seeded.push(json!({
            "id": a.id.to_string(),
            "platform": a.platform.to_string(),
            "profileId": a.profile_id.to_string(),
            "platformUserId": a.platform_user_id,
            "username": a.username,
            "displayName": a.display_name,
            "profilePicture": a.profile_picture,
        }));
    }
    let seed = json!({
        "owner": owner.to_string(),
        "defaultProfile": default.to_string(),
        "secondProfile": second.to_string(),
        "accounts": seeded,
    });

    let summary = run_sdk_script(&app, &python, &script(), &seed, "accounts and profiles").await;
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["sdkVersion"], SDK_VERSION, "{summary}");
    assert_eq!(summary["owner"], owner.to_string(), "{summary}");
    assert!(
        summary["checks"].as_u64().is_some_and(|n| n > 200),
        "{summary}"
    );

    // What the SDK reported is what the store holds.
    let store = &app.services.store;
    let accounts = store
        .list_accounts(&owner, &AccountQuery::default())
        .await
        .unwrap()
        .accounts;
    let mut live: Vec<String> = accounts.iter().map(|a| a.id.to_string()).collect();
    live.sort();
    assert_eq!(live, strings(&summary["accountsRemaining"]));
    let find = |id: &Value| {
        accounts
            .iter()
            .find(|a| a.id.to_string() == id.as_str().unwrap())
            .unwrap_or_else(|| panic!("account {id} is in the store"))
    };
    assert_eq!(
        find(&summary["renamedAccount"]).display_name.as_deref(),
        Some("Renamed via SDK")
    );
    assert_eq!(find(&summary["movedAccount"]).profile_id, second);
    let deleted: AccountId = summary["deletedAccount"].as_str().unwrap().parse().unwrap();
    assert!(store.get_account(&owner, &deleted).await.unwrap().is_none());

    let (profiles, total) = store
        .list_profiles(&owner, &ProfileFilter::default(), 0, None)
        .await
        .unwrap();
    assert_eq!(total, 3);
    let ids: Vec<String> = profiles.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, strings(&summary["profilesRemaining"]));
    assert!(profiles[0].is_default && profiles[0].id == default);
    assert_eq!(profiles.iter().filter(|p| p.is_default).count(), 1);
    let raw: ProfileId = summary["rawProfile"].as_str().unwrap().parse().unwrap();
    let raw = store.get_profile(&owner, &raw).await.unwrap().unwrap();
    assert_eq!(
        (
            raw.name.as_str(),
            raw.external_id.as_deref(),
            raw.timezone.as_deref(),
            raw.color.as_deref()
        ),
        (
            "SDK Raw Brand",
            Some("crm-43"),
            Some("America/New_York"),
            Some("#2196F3")
        )
    );
    let gone: ProfileId = summary["deletedProfile"].as_str().unwrap().parse().unwrap();
    assert!(store.get_profile(&owner, &gone).await.unwrap().is_none());

    let keys = store.list_api_keys(&owner).await.unwrap();
    let mut key_ids: Vec<String> = keys.iter().map(|k| k.id.to_string()).collect();
    key_ids.sort();
    assert_eq!(key_ids, strings(&summary["apiKeysRemaining"]));
    let read = keys
        .iter()
        .find(|k| k.id.to_string() == summary["readKey"].as_str().unwrap())
        .unwrap();
    assert_eq!(read.permission, Permission::Read);
    assert!(
        !key_ids.contains(&summary["revokedKey"].as_str().unwrap().to_owned()),
        "the revoked key is gone from the store"
    );
}

/// The official MCP Python SDK, pinned: a real MCP client for `/_mcp`.
const MCP_REQUIREMENT: &str = "mcp==2.3.0";

fn mcp_importable(python: &Path) -> Result<(), String> {
    let probe = "import importlib.metadata as m, mcp\n\
                 assert m.version('mcp') == '2.3.0', m.version('mcp')";
    match Command::new(python).args(["-c", probe]).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(describe(&o)),
        Err(e) => Err(format!("cannot run {}: {e}", python.display())),
    }
}

/// The virtualenv's interpreter with the pinned MCP SDK importable (installed when needed,
/// into the same virtualenv as the Zernio SDK).
pub(crate) fn ensure_mcp_sdk() -> PathBuf {
    let python = ensure_sdk();
    if mcp_importable(&python).is_ok() {
        return python;
    }
    let _lock = DirLock::acquire(venv_dir().with_extension("lock"));
    if mcp_importable(&python).is_ok() {
        return python;
    }
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--disable-pip-version-check"])
            .arg(MCP_REQUIREMENT),
        &format!("pip install {MCP_REQUIREMENT}"),
    );
    if let Err(e) = mcp_importable(&python) {
        panic!("{MCP_REQUIREMENT} is installed but cannot be imported: {e}");
    }
    python
}
