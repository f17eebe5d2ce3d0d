//! The official Zernio Python SDK (`zernio-sdk`), unchanged, through the connect flows and
//! the headless selection endpoints. The scenario lives in `tests/python/sdk_connect.py`:
//! it calls the SDK's own connect methods and, between them, plays the user's browser on
//! the built-in sandbox. This test prepares the SDK's virtualenv (shared with
//! `python_sdk.rs`), starts the server, runs the script and checks every account it
//! reports against the store and `GET /v1/accounts`.

use crate::helpers::*;
use crate::python_sdk::{SDK_VERSION, ensure_sdk};
use plugboard_core::{AccountId, Platform, ProfileId};
use plugboard_store::AccountQuery;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/sdk_connect.py")
}

/// What the script must have connected, as `(platform, how)`: standard mode, headless
/// without a selection, `handle_o_auth_callback`, and headless finished by the SDK's
/// selection methods.
const EXPECTED: &[(&str, &str)] = &[
    ("tiktok", "standard"),
    ("youtube", "standard"),
    ("reddit", "standard"),
    ("threads", "standard"),
    ("instagram", "headless"),
    ("twitter", "callback"),
    ("facebook", "selection"),
    ("instagram", "selection"),
    ("linkedin", "selection"),
    ("pinterest", "selection"),
    ("snapchat", "selection"),
    ("googlebusiness", "selection"),
];

async fn run_script(app: &TestApp, python: &Path, seed: &Value) -> Value {
    crate::python_sdk::run_sdk_script(app, python, &script(), seed, "connect").await
}

#[tokio::test]
async fn python_sdk_drives_connect_and_selection_unchanged() {
    let python = tokio::task::spawn_blocking(ensure_sdk)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));

    let app = spawn_app().await;
    let owner = app.owner().await;
    let default = app.default_profile().await;
    let seed = json!({ "owner": owner.to_string(), "defaultProfile": default.to_string() });
    let summary = run_script(&app, &python, &seed).await;
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["sdkVersion"], SDK_VERSION, "{summary}");
    assert_eq!(summary["owner"], owner.to_string(), "{summary}");
    assert!(
        summary["checks"].as_u64().is_some_and(|n| n > 300),
        "{summary}"
    );

    let reported = summary["accounts"].as_array().expect("accounts array");
    let mut kinds: Vec<(&str, &str)> = reported
        .iter()
        .map(|a| (a["platform"].as_str().unwrap(), a["via"].as_str().unwrap()))
        .collect();
    kinds.sort_unstable();
    let mut expected = EXPECTED.to_vec();
    expected.sort_unstable();
    assert_eq!(kinds, expected, "every flow connected once: {summary}");

    let brand: ProfileId = summary["brandProfile"].as_str().unwrap().parse().unwrap();
    let store = &app.services.store;
    let brand_profile = store.get_profile(&owner, &brand).await.unwrap().unwrap();
    assert_eq!(brand_profile.name, "SDK connect brand");

    // The store holds exactly what the SDK reported: no failed call wrote an account.
    let accounts = store
        .list_accounts(&owner, &AccountQuery::default())
        .await
        .unwrap()
        .accounts;
    let mut stored: Vec<String> = accounts.iter().map(|a| a.id.to_string()).collect();
    stored.sort();
    let mut ids: Vec<String> = reported
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(stored, ids, "{summary}");

    for want in reported {
        let id: AccountId = want["id"].as_str().unwrap().parse().unwrap();
        let account = store
            .get_account(&owner, &id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{want} is in the store"));
        let platform: Platform = want["platform"].as_str().unwrap().parse().unwrap();
        assert_eq!(account.platform, platform, "{want}");
        assert_eq!(
            account.profile_id.to_string(),
            want["profileId"].as_str().unwrap(),
            "{want}"
        );
        assert!(account.is_active && account.enabled, "{want}");
        assert!(account.tokens.is_some(), "tokens are stored: {want}");
        if let Some(destination) = want.get("destination") {
            let key = match platform {
                Platform::Facebook => "selectedPageId",
                Platform::Instagram => "pageId",
                Platform::Linkedin => "organizationId",
                Platform::Pinterest => "defaultBoardId",
                Platform::Snapchat => "publicProfileId",
                Platform::Googlebusiness => "selectedLocationId",
                other => panic!("{other} has no destination: {want}"),
            };
            assert_eq!(
                account.metadata.get(key),
                Some(destination),
                "the chosen destination is stored: {want} {:?}",
                account.metadata
            );
        }

        let listed = app.account_json(&id.to_string()).await;
        assert_eq!(listed["platform"], platform.as_str(), "{listed}");
        assert_eq!(listed["profileId"], want["profileId"], "{listed}");
        assert_eq!(listed["isActive"], true, "{listed}");
        if let Some(username) = want.get("username").filter(|u| !u.is_null()) {
            assert_eq!(&listed["username"], username, "{listed}");
        }
        if let Some(login) = want.get("loginMethod") {
            assert_eq!(&listed["metadata"]["loginMethod"], login, "{listed}");
        }
        if platform == Platform::Linkedin {
            assert_eq!(
                listed["metadata"]["accountType"], "organization",
                "{listed}"
            );
        }
    }
    let profiles: Vec<&str> = reported
        .iter()
        .filter(|a| a["via"] == "selection")
        .map(|a| a["profileId"].as_str().unwrap())
        .collect();
    assert!(
        profiles.iter().all(|p| *p == brand.to_string()),
        "the selections landed on the profile they were started for: {summary}"
    );
}
