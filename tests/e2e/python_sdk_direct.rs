//! The official Zernio Python SDK (`zernio-sdk`), unchanged, through the connects without an
//! OAuth redirect: Bluesky app passwords, Telegram bot codes and direct links, WhatsApp Cloud
//! API credentials. This test makes the fake world through the sandbox admin endpoints (a
//! Bluesky account and app password, Telegram channels with the server's bot as
//! administrator on a separate sandbox, a WhatsApp Business Account and a revoked token),
//! runs `tests/python/sdk_direct.py` against the server and checks every account it reports
//! against the store and `GET /v1/accounts`.

use crate::helpers::*;
use crate::python_sdk::{SDK_VERSION, ensure_sdk};
use plugboard::config::{PlatformSettings, TelegramUpdates};
use plugboard_core::{AccountId, Platform, ProfileId, Secret};
use plugboard_store::AccountQuery;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use url::Url;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/sdk_direct.py")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 4]>()))
}

/// What the script must have connected, as `(platform, how)`.
const EXPECTED: &[(&str, &str)] = &[
    ("bluesky", "credentials"),
    ("telegram", "code"),
    ("telegram", "direct"),
    ("whatsapp", "credentials"),
];

const ACCOUNT_PASSWORD: &str = "main-password-sdk-123";

/// A Bluesky account on the server's own fake PDS, with one app password.
async fn bluesky(app: &TestApp) -> Value {
    let handle = format!("{}.test", unique("sdk"));
    let r = app
        .post(
            "/sandbox/bluesky/_accounts",
            json!({"handle": handle, "password": ACCOUNT_PASSWORD, "email": format!("{handle}@mail.test"), "displayName": "SDK Sky"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let did = r.body["did"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/sandbox/bluesky/_accounts/{handle}/app-passwords"),
            json!({"name": "plugboard-sdk"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    json!({
        "handle": handle,
        "did": did,
        "appPassword": r.body["password"],
        "accountPassword": ACCOUNT_PASSWORD,
    })
}

/// A WABA with two numbers on the server's own fake Graph API, plus a second token for it
/// that the business has revoked.
async fn whatsapp(app: &TestApp) -> Value {
    let r = app
        .post(
            "/sandbox/whatsapp/_wabas",
            json!({"name": "SDK Direct", "phoneNumbers": 2}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let waba = r.body;
    let id = waba["wabaId"].as_str().unwrap();
    let r = app
        .post(&format!("/sandbox/whatsapp/_wabas/{id}/tokens"), json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let revoked = r.body["accessToken"].as_str().unwrap().to_owned();
    let r = app
        .post("/sandbox/whatsapp/_revoke", json!({"accessToken": revoked}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["revoked"], 1, "{}", r.text);
    json!({
        "wabaId": id,
        "accessToken": waba["accessToken"],
        "revokedToken": revoked,
        "phoneNumbers": waba["phoneNumbers"],
    })
}

/// A channel on the Telegram sandbox with its creator and, when `bot` is given, that bot as
/// an administrator allowed to post.
async fn channel(sandbox: &TestApp, owner: i64, bot: Option<i64>) -> Value {
    let username = unique("sdkchan");
    let title = format!("SDK channel {username}");
    let r = sandbox
        .post(
            "/sandbox/telegram/_chats",
            json!({"type": "channel", "title": title, "username": username}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    let mut members =
        vec![json!({"userId": owner, "firstName": "Channel Owner", "status": "creator"})];
    if let Some(bot) = bot {
        members.push(json!({"userId": bot, "status": "administrator", "canPostMessages": true, "byUserId": owner}));
    }
    for member in members {
        let r = sandbox
            .post(&format!("/sandbox/telegram/_chats/{id}/members"), member)
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    json!({"id": id, "username": username, "title": title, "adminUserId": owner})
}

async fn run_script(app: &TestApp, python: &Path, seed: &Value) -> Value {
    crate::python_sdk::run_sdk_script(app, python, &script(), seed, "direct-connect").await
}

#[tokio::test]
async fn python_sdk_drives_bluesky_telegram_and_whatsapp_connects_unchanged() {
    let python = tokio::task::spawn_blocking(ensure_sdk)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));

    // Telegram's Bot API is a separate sandbox, so that this server's bot is its own.
    let sandbox = spawn_app().await;
    let bot_username = unique("pb_sdk_") + "_bot";
    let r = sandbox
        .post("/sandbox/telegram/_bots", json!({"username": bot_username}))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let bot_token = r.body["token"].as_str().unwrap().to_owned();
    let bot_id = r.body["id"].as_i64().unwrap();
    let telegram_base = format!("{}/sandbox/telegram", sandbox.base);
    let (t, b) = (bot_token.clone(), Url::parse(&telegram_base).unwrap());
    let app = spawn_app_with(move |c| {
        c.platforms.insert(
            Platform::Telegram,
            PlatformSettings {
                bot_token: Some(Secret::new(t)),
                base_url: Some(b),
                updates: Some(TelegramUpdates::Webhook),
                ..Default::default()
            },
        );
    })
    .await;
    // The server registers its webhook when it starts; the code DM must reach it.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let bot = sandbox
            .get(&format!("/sandbox/telegram/_bots/{bot_token}"))
            .await;
        if bot.body["webhook"]["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/telegram/webhook"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the webhook was registered: {}",
            bot.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let owner = app.owner().await;
    let default = app.default_profile().await;
    let code_chat = channel(&sandbox, 4_200_001, Some(bot_id)).await;
    let direct_chat = channel(&sandbox, 4_200_002, Some(bot_id)).await;
    let no_bot_chat = channel(&sandbox, 4_200_003, None).await;
    let bsky = bluesky(&app).await;
    let wa = whatsapp(&app).await;
    let seed = json!({
        "owner": owner.to_string(),
        "defaultProfile": default.to_string(),
        "bluesky": bsky,
        "telegram": {
            "sandbox": telegram_base,
            "botToken": bot_token,
            "botUsername": bot_username,
            "codeChat": code_chat,
            "directChat": direct_chat,
            "noBotChat": no_bot_chat,
        },
        "whatsapp": wa,
    });
    let summary = run_script(&app, &python, &seed).await;
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["sdkVersion"], SDK_VERSION, "{summary}");
    assert_eq!(summary["owner"], owner.to_string(), "{summary}");
    assert!(
        summary["checks"].as_u64().is_some_and(|n| n > 100),
        "{summary}"
    );
    assert!(
        summary["telegramPolls"].as_u64().is_some_and(|n| n >= 1),
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
    assert_eq!(kinds, expected, "every connect made one account: {summary}");

    let brand: ProfileId = summary["brandProfile"].as_str().unwrap().parse().unwrap();
    let store = &app.services.store;
    let brand_profile = store.get_profile(&owner, &brand).await.unwrap().unwrap();
    assert_eq!(brand_profile.name, "SDK direct brand");

    // The store holds exactly what the SDK reported: no refused call wrote an account.
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
        match platform {
            Platform::Bluesky => {
                assert_eq!(account.platform_user_id, bsky["did"], "{want}");
                assert_eq!(account.profile_id, brand, "the state's profile: {want}");
                assert!(account.tokens.is_some(), "the session is stored: {want}");
            }
            Platform::Whatsapp => {
                let phone = &wa["phoneNumbers"][1];
                assert_eq!(account.platform_user_id, phone["id"], "{want}");
                assert_eq!(account.profile_id, default, "{want}");
                assert!(account.tokens.is_some(), "the Meta token is stored: {want}");
            }
            Platform::Telegram => {
                assert_eq!(account.platform_user_id, want["chatId"], "{want}");
                let profile = if want["via"] == "code" {
                    &brand
                } else {
                    &default
                };
                assert_eq!(&account.profile_id, profile, "{want}");
                assert!(
                    account.tokens.is_none(),
                    "a chat posts through the server's bot, no token of its own: {want}"
                );
            }
            other => panic!("{other} was not expected: {want}"),
        }

        let listed = app.account_json(&id.to_string()).await;
        assert_eq!(listed["platform"], platform.as_str(), "{listed}");
        assert_eq!(listed["profileId"], want["profileId"], "{listed}");
        assert_eq!(listed["isActive"], true, "{listed}");
        if let Some(username) = want.get("username") {
            assert_eq!(&listed["username"], username, "{listed}");
        }
        if platform == Platform::Telegram {
            assert_eq!(listed["metadata"]["chatType"], "channel", "{listed}");
        }
        if platform == Platform::Whatsapp {
            assert_eq!(listed["metadata"]["wabaId"], wa["wabaId"], "{listed}");
        }
    }

    // No credential, session or token in the listing.
    let listing = app.get("/v1/accounts").await;
    assert_eq!(listing.status, 200, "{}", listing.text);
    let secrets = [
        bsky["appPassword"].as_str().unwrap(),
        ACCOUNT_PASSWORD,
        wa["accessToken"].as_str().unwrap(),
        wa["revokedToken"].as_str().unwrap(),
        bot_token.as_str(),
    ];
    for secret in secrets {
        assert!(
            !listing.text.contains(secret),
            "a credential leaked into the listing: {}",
            listing.text
        );
    }
    for leak in [
        "eyJ",
        "accessToken",
        "refreshToken",
        "accessJwt",
        "refreshJwt",
    ] {
        assert!(
            !listing.text.contains(leak),
            "{leak} in the listing: {}",
            listing.text
        );
    }
}
