//! Telegram chats linked by a one-time code sent to the bot, against the sandbox's fake Bot
//! API; by webhook and by long polling under the store lease.

use crate::helpers::*;
use chrono::Duration;
use plugboard::config::{PlatformSettings, TelegramUpdates};
use plugboard_core::{ManualClock, Platform, Secret};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use url::Url;

struct Tg {
    sandbox: TestApp,
    app: TestApp,
    token: String,
    bot_id: i64,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 4]>()))
}

/// A server with its own bot on a separate sandbox (parallel tests never share a bot).
async fn spawn_telegram(updates: TelegramUpdates, clock: Option<Arc<ManualClock>>) -> Tg {
    let sandbox = spawn_app().await;
    let r = sandbox
        .post(
            "/sandbox/telegram/_bots",
            json!({"username": unique("pb_") + "_bot"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let token = r.body["token"].as_str().unwrap().to_owned();
    let bot_id = r.body["id"].as_i64().unwrap();
    let base = Url::parse(&format!("{}/sandbox/telegram", sandbox.base)).unwrap();
    let t = token.clone();
    let tweak = move |c: &mut plugboard::Config| {
        c.platforms.insert(
            Platform::Telegram,
            PlatformSettings {
                bot_token: Some(Secret::new(t)),
                base_url: Some(base),
                updates: Some(updates),
                ..Default::default()
            },
        );
    };
    let app = match clock {
        Some(c) => spawn_app_full_with(tweak, c).await,
        None => spawn_app_with(tweak).await,
    };
    if updates == TelegramUpdates::Webhook {
        // The server registers its webhook when it starts.
        wait_until(|| async {
            let bot = sandbox
                .get(&format!("/sandbox/telegram/_bots/{token}"))
                .await;
            bot.body["webhook"]["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/telegram/webhook"))
        })
        .await;
    }
    Tg {
        sandbox,
        app,
        token,
        bot_id,
    }
}

/// Polls as a client of `PATCH /v1/connect/telegram` does (bounded).
async fn wait_until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

impl Tg {
    async fn code(&self) -> String {
        let p = self.app.default_profile().await;
        let r = self
            .app
            .get(&format!("/v1/connect/telegram?profileId={p}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.body["botUsername"]
                .as_str()
                .is_some_and(|u| u.ends_with("_bot")),
            "{}",
            r.text
        );
        assert!(r.body["expiresIn"].as_i64().unwrap() > 800);
        assert!(r.body["instructions"].as_array().unwrap().len() >= 2);
        r.body["code"].as_str().unwrap().to_owned()
    }

    /// A chat with a creator (`owner`) and, optionally, the bot as administrator.
    async fn chat(&self, kind: &str, owner: i64, bot_admin: Option<bool>) -> (i64, String) {
        let username = unique("chan");
        let r = self
            .sandbox
            .post(
                "/sandbox/telegram/_chats",
                json!({"type": kind, "title": format!("Chat {username}"), "username": username}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
        let id = r.body["id"].as_i64().unwrap();
        self.member(
            id,
            json!({"userId": owner, "firstName": "Owner", "status": "creator"}),
        )
        .await;
        if let Some(can_post) = bot_admin {
            self.member(id, json!({"userId": self.bot_id, "status": "administrator", "canPostMessages": can_post, "byUserId": owner}))
                .await;
        }
        (id, username)
    }

    async fn member(&self, chat: i64, body: Value) {
        let r = self
            .sandbox
            .post(&format!("/sandbox/telegram/_chats/{chat}/members"), body)
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }

    async fn dm(&self, from: i64, text: &str) {
        let r = self
            .sandbox
            .post(
                &format!("/sandbox/telegram/_bots/{}/dm", self.token),
                json!({"fromUserId": from, "firstName": "Person", "text": text}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }

    async fn status(&self, code: &str) -> Value {
        let r = self
            .app
            .call(
                Method::PATCH,
                &format!("/v1/connect/telegram?code={code}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    /// What the bot said to a user in their private chat.
    async fn replies_to(&self, user: i64) -> Vec<String> {
        let r = self
            .sandbox
            .get(&format!("/sandbox/telegram/_bots/{}", self.token))
            .await;
        r.body["directMessages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter(|m| m["userId"] == user && m["sentByBot"] == true)
                    .filter_map(|m| m["text"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn wait_for_reply(&self, user: i64) -> String {
        wait_until(|| async { !self.replies_to(user).await.is_empty() }).await;
        self.replies_to(user).await.remove(0)
    }
}

#[tokio::test]
async fn a_channel_is_linked_by_a_code_its_administrator_sends_the_bot() {
    let tg = spawn_telegram(TelegramUpdates::Webhook, None).await;
    let code = tg.code().await;
    assert_eq!(tg.status(&code).await["status"], "pending");
    let alice = 4_100_001;
    let (chat, username) = tg.chat("channel", alice, Some(true)).await;
    tg.dm(alice, &format!("{code} @{username}")).await;
    wait_until(|| async { tg.status(&code).await["status"] == "connected" }).await;
    let s = tg.status(&code).await;
    assert_eq!(s["chatId"], chat.to_string());
    assert_eq!(s["chatType"], "channel");
    assert_eq!(s["chatTitle"], format!("Chat {username}"));
    assert_eq!(s["account"]["platform"], "telegram");
    let accounts = tg.app.get("/v1/accounts?platform=telegram").await;
    let a = &accounts.body["accounts"][0];
    assert_eq!(a["platformUserId"], chat.to_string());
    assert_eq!(a["username"], username);
    assert_eq!(a["metadata"]["chatType"], "channel");
    assert!(tg.wait_for_reply(alice).await.starts_with("Connected"));
    // The code worked once.
    tg.dm(alice, &format!("{code} @{username}")).await;
    wait_until(|| async { tg.replies_to(alice).await.len() >= 2 }).await;
    assert!(tg.replies_to(alice).await[1].contains("unknown or was already used"));
    assert_eq!(
        tg.app.get("/v1/accounts").await.body["accounts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_code_posted_in_a_group_links_the_group_over_long_polling_and_is_deleted() {
    let tg = spawn_telegram(TelegramUpdates::Polling, None).await;
    let code = tg.code().await;
    let bob = 4_100_002;
    let (chat, _) = tg.chat("supergroup", bob, Some(true)).await;
    let r = tg
        .sandbox
        .post(
            &format!("/sandbox/telegram/_chats/{chat}/messages"),
            json!({"fromUserId": bob, "text": format!("/connect {code}")}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let posted = r.body["message"]["message_id"].as_i64().unwrap();
    wait_until(|| async { tg.status(&code).await["status"] == "connected" }).await;
    assert_eq!(tg.status(&code).await["chatType"], "supergroup");
    wait_until(|| async {
        let c = tg
            .sandbox
            .get(&format!("/sandbox/telegram/_chats/{chat}"))
            .await;
        !c.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["messageId"] == posted)
    })
    .await;
}

#[tokio::test]
async fn a_code_from_someone_who_does_not_administer_the_chat_links_nothing() {
    let tg = spawn_telegram(TelegramUpdates::Webhook, None).await;
    let code = tg.code().await;
    let (owner, mallory) = (4_100_003, 4_100_004);
    let (chat, username) = tg.chat("channel", owner, Some(true)).await;
    tg.member(
        chat,
        json!({"userId": mallory, "firstName": "Mallory", "status": "left"}),
    )
    .await;
    tg.dm(mallory, &format!("{code} @{username}")).await;
    assert!(
        tg.wait_for_reply(mallory)
            .await
            .contains("Only an administrator")
    );
    assert_eq!(
        tg.status(&code).await["status"],
        "pending",
        "the code is still usable by an admin"
    );
    tg.dm(owner, &format!("{code} {chat}")).await;
    wait_until(|| async { tg.status(&code).await["status"] == "connected" }).await;
}

#[tokio::test]
async fn a_chat_where_the_bot_is_not_an_admin_or_may_not_post_is_refused() {
    let tg = spawn_telegram(TelegramUpdates::Webhook, None).await;
    let code = tg.code().await;
    let carol = 4_100_005;
    let (_, no_bot) = tg.chat("channel", carol, None).await;
    tg.dm(carol, &format!("{code} @{no_bot}")).await;
    assert!(
        tg.wait_for_reply(carol)
            .await
            .contains("not an administrator")
    );
    let (_, mute) = tg.chat("channel", carol, Some(false)).await;
    tg.dm(carol, &format!("{code} @{mute}")).await;
    wait_until(|| async { tg.replies_to(carol).await.len() >= 2 }).await;
    assert!(tg.replies_to(carol).await[1].contains("Post messages"));
    tg.dm(carol, &code).await;
    wait_until(|| async { tg.replies_to(carol).await.len() >= 3 }).await;
    assert!(tg.replies_to(carol).await[2].contains("followed by your channel"));
    assert_eq!(tg.status(&code).await["status"], "pending");
    let p = tg.app.default_profile().await.to_string();
    let r = tg
        .app
        .post(
            "/v1/connect/telegram",
            json!({"chatId": format!("@{no_bot}"), "profileId": p}),
        )
        .await;
    assert_error(&r, 400, "bot_not_admin");
    let r = tg
        .app
        .post(
            "/v1/connect/telegram",
            json!({"chatId": "@nobody_has_this_name", "profileId": p}),
        )
        .await;
    assert_error(&r, 400, "chat_not_found");
    let r = tg
        .app
        .post(
            "/v1/connect/telegram",
            json!({"chatId": format!("@{mute}"), "profileId": p}),
        )
        .await;
    assert_error(&r, 400, "bot_cannot_post");
    let r = tg
        .app
        .post("/v1/connect/telegram", json!({"profileId": p}))
        .await;
    assert_error(&r, 400, "validation_error");
}

#[tokio::test]
async fn post_connect_links_a_chat_where_the_bot_already_is_an_admin() {
    let tg = spawn_telegram(TelegramUpdates::Webhook, None).await;
    let (chat, _) = tg.chat("channel", 4_100_006, Some(true)).await;
    let p = tg.app.default_profile().await.to_string();
    let r = tg
        .app
        .post(
            "/v1/connect/telegram",
            json!({"chatId": chat.to_string(), "profileId": p}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["account"]["chatType"], "channel");
    let again = tg
        .app
        .post(
            "/v1/connect/telegram",
            json!({"chatId": chat, "profileId": p}),
        )
        .await;
    assert_eq!(
        again.body["account"]["_id"], r.body["account"]["_id"],
        "a number chatId works and updates in place"
    );
}

#[tokio::test]
async fn an_expired_code_reports_expired_and_links_nothing() {
    let clock = Arc::new(ManualClock::new(
        chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
    ));
    let tg = spawn_telegram(TelegramUpdates::Webhook, Some(clock.clone())).await;
    let code = tg.code().await;
    clock.advance(Duration::minutes(16));
    assert_eq!(tg.status(&code).await["status"], "expired");
    let dave = 4_100_007;
    let (_, username) = tg.chat("channel", dave, Some(true)).await;
    tg.dm(dave, &format!("{code} @{username}")).await;
    assert!(tg.wait_for_reply(dave).await.contains("expired"));
    assert_eq!(tg.status(&code).await["status"], "expired");
    let r = tg
        .app
        .call(Method::PATCH, "/v1/connect/telegram?code=PB-00000000", None)
        .await;
    assert_error(&r, 404, "code_not_found");
}

#[tokio::test]
async fn webhook_deliveries_without_the_secret_token_are_refused() {
    let tg = spawn_telegram(TelegramUpdates::Webhook, None).await;
    let update = json!({"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private", "first_name": "X"}, "from": {"id": 5, "is_bot": false, "first_name": "X"}, "text": "hi"}});
    for secret in [None, Some("wrong")] {
        let mut req = tg
            .app
            .client
            .post(tg.app.url("/telegram/webhook"))
            .json(&update);
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        assert_eq!(req.send().await.unwrap().status(), 401, "{secret:?}");
    }
}

#[tokio::test]
async fn two_replicas_on_one_store_share_one_telegram_poller() {
    let sandbox = spawn_app().await;
    let r = sandbox
        .post(
            "/sandbox/telegram/_bots",
            json!({"username": unique("pb_") + "_bot"}),
        )
        .await;
    let token = r.body["token"].as_str().unwrap().to_owned();
    let bot_id = r.body["id"].as_i64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = Url::parse(&format!("{}/sandbox/telegram", sandbox.base)).unwrap();
    let key = random_key();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let (t, b, k, d) = (
            token.clone(),
            base.clone(),
            key.clone(),
            dir.path().to_path_buf(),
        );
        replicas.push(
            spawn_app_with(move |c| {
                c.data_dir = d;
                c.bootstrap_api_key = Some(Secret::new(k));
                c.platforms.insert(
                    Platform::Telegram,
                    PlatformSettings {
                        bot_token: Some(Secret::new(t)),
                        base_url: Some(b),
                        updates: Some(TelegramUpdates::Polling),
                        ..Default::default()
                    },
                );
            })
            .await,
        );
    }
    for r in &mut replicas {
        // Both replicas serve the one key the shared store holds.
        r.key = key.clone();
    }
    let tg = Tg {
        sandbox,
        app: replicas.remove(1),
        token,
        bot_id,
    };
    let code = tg.code().await;
    let erin = 4_100_008;
    let (_, username) = tg.chat("channel", erin, Some(true)).await;
    tg.dm(erin, &format!("{code} @{username}")).await;
    wait_until(|| async { tg.status(&code).await["status"] == "connected" }).await;
    assert_eq!(
        tg.replies_to(erin).await.len(),
        1,
        "the update was handled once"
    );
    // One of the two holds the poller lease: a third claimant is refused. (A lifetime of
    // zero, so the probe cannot keep the lease from them even when it gets it.)
    let store = replicas[0].services.store.clone();
    let now = replicas[0].services.clock.now();
    let taken = store
        .acquire_lease(
            plugboard_service::connect::POLLER_LEASE,
            "probe",
            now,
            Duration::zero(),
        )
        .await
        .unwrap();
    assert!(!taken, "a replica holds the poller lease");
    assert_eq!(
        replicas[0].get("/v1/accounts").await.body["accounts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
