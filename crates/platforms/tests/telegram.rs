//! The teloxide-based [`TelegramBot`] against the sandbox's fake Bot API over loopback
//! (STYLE §5): the production client with only its API URL moved. Each test makes its own
//! bot and chats, so they run in parallel against the one sandbox.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::sandbox;
use plugboard_core::Secret;
use plugboard_platforms::ConnectorError;
use plugboard_platforms::telegram::{
    BotIdentity, BotUpdate, ChatInfo, ChatKind, ChatRef, MemberStatus, TelegramBot, UpdateKind,
};
use serde_json::{Value, json};
use url::Url;

/// The sandbox's Telegram, as a service would configure it (with the trailing slash).
fn api_url() -> Url {
    Url::parse(&format!("http://{}/sandbox/telegram/", sandbox())).unwrap()
}

async fn admin(path: &str, body: Value) -> Value {
    let url = format!("http://{}/sandbox/telegram/{path}", sandbox());
    let resp = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{path}: {v}");
    v
}

struct Fixture {
    bot: TelegramBot,
    token: String,
    id: i64,
    username: String,
}

async fn new_bot() -> Fixture {
    let v = admin("_bots", json!({})).await;
    let token = v["token"].as_str().unwrap().to_owned();
    Fixture {
        bot: TelegramBot::new(Secret::new(token.clone()), Some(api_url())).unwrap(),
        token,
        id: v["id"].as_i64().unwrap(),
        username: v["username"].as_str().unwrap().to_owned(),
    }
}

fn user_id() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NEXT: AtomicI64 = AtomicI64::new(900_000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

async fn chat(body: Value) -> i64 {
    admin("_chats", body).await["id"].as_i64().unwrap()
}

async fn member(chat: i64, body: Value) {
    admin(&format!("_chats/{chat}/members"), body).await;
}

/// A channel whose creator is a fresh user and where `bot` is an administrator.
async fn channel(bot: &Fixture, username: Option<&str>) -> (i64, i64) {
    let mut body = json!({"type": "channel", "title": "Test Channel"});
    if let Some(u) = username {
        body["username"] = json!(u);
    }
    let id = chat(body).await;
    let owner = user_id();
    member(
        id,
        json!({"userId": owner, "firstName": "Alice", "status": "creator"}),
    )
    .await;
    member(id, json!({"userId": bot.id, "status": "administrator"})).await;
    (id, owner)
}

/// Every update so far, confirmed.
async fn drain(bot: &TelegramBot) -> Vec<BotUpdate> {
    let updates = bot.updates(None, 0).await.unwrap();
    if let Some(last) = updates.last() {
        bot.updates(Some(last.update_id + 1), 0).await.unwrap();
    }
    updates
}

#[tokio::test]
async fn me_reads_the_bot_identity_with_or_without_a_trailing_slash() {
    let f = new_bot().await;
    let expected = BotIdentity {
        id: f.id,
        username: f.username.clone(),
        first_name: format!("Sandbox Bot {}", f.id),
    };
    assert_eq!(f.bot.me().await.unwrap(), expected);
    let bare = Url::parse(&format!("http://{}/sandbox/telegram", sandbox())).unwrap();
    let again = TelegramBot::new(Secret::new(f.token.clone()), Some(bare)).unwrap();
    assert_eq!(again.me().await.unwrap(), expected);

    let default = TelegramBot::new(
        Secret::new(plugboard_sandbox::DEFAULT_BOT_TOKEN.into()),
        Some(api_url()),
    )
    .unwrap();
    let me = default.me().await.unwrap();
    assert_eq!(me.username, plugboard_sandbox::DEFAULT_BOT_USERNAME);
    assert_eq!(me.id, plugboard_sandbox::DEFAULT_BOT_ID);
}

#[tokio::test]
async fn chat_resolves_by_id_and_by_username_with_kind_title_and_photo() {
    let f = new_bot().await;
    let name = format!("tgc_{}", f.id);
    let (id, _) = channel(&f, Some(&name)).await;
    let by_id = f.bot.chat(&ChatRef::Id(id)).await.unwrap();
    assert_eq!(
        by_id,
        ChatInfo {
            id,
            kind: ChatKind::Channel,
            title: Some("Test Channel".into()),
            username: Some(name.clone()),
            photo_file_id: Some(format!("sbx-chatphoto-big-{id}")),
        }
    );
    let by_name = f
        .bot
        .chat(&ChatRef::parse(&format!("@{name}")).unwrap())
        .await
        .unwrap();
    assert_eq!(by_name, by_id);

    for (kind, expected) in [
        ("supergroup", ChatKind::Supergroup),
        ("group", ChatKind::Group),
    ] {
        let g = chat(json!({"type": kind, "title": "G", "photo": false})).await;
        member(g, json!({"userId": f.id, "status": "member"})).await;
        let info = f.bot.chat(&ChatRef::Id(g)).await.unwrap();
        assert_eq!(
            (info.kind, info.title.as_deref(), info.photo_file_id),
            (expected, Some("G"), None)
        );
    }

    let alice = user_id();
    admin(
        &format!("_bots/{}/dm", f.token),
        json!({"fromUserId": alice, "firstName": "Alice", "lastName": "Liddell", "text": "hi"}),
    )
    .await;
    let private = f.bot.chat(&ChatRef::Id(alice)).await.unwrap();
    assert_eq!(
        (private.kind, private.title.as_deref()),
        (ChatKind::Private, Some("Alice Liddell"))
    );
}

#[tokio::test]
async fn member_maps_every_status_and_group_admins_may_always_post() {
    let f = new_bot().await;
    let (id, owner) = channel(&f, None).await;
    let group = chat(json!({"type": "supergroup", "title": "G"})).await;
    member(group, json!({"userId": f.id, "status": "administrator"})).await;
    let muted = chat(json!({"type": "channel"})).await;
    member(
        muted,
        json!({"userId": f.id, "status": "administrator", "canPostMessages": false}),
    )
    .await;

    assert_eq!(
        f.bot.member(id, owner).await.unwrap(),
        MemberStatus::Creator
    );
    assert_eq!(
        f.bot.member(id, f.id).await.unwrap(),
        MemberStatus::Administrator {
            can_post_messages: true
        }
    );
    assert_eq!(
        f.bot.member(muted, f.id).await.unwrap(),
        MemberStatus::Administrator {
            can_post_messages: false
        }
    );
    assert_eq!(
        f.bot.member(group, f.id).await.unwrap(),
        MemberStatus::Administrator {
            can_post_messages: true
        },
        "Telegram does not report the right in groups"
    );
    for (status, expected) in [
        ("member", MemberStatus::Member),
        ("restricted", MemberStatus::Restricted),
        ("left", MemberStatus::Left),
        ("kicked", MemberStatus::Kicked),
    ] {
        let uid = user_id();
        member(group, json!({"userId": uid, "status": status})).await;
        assert_eq!(
            f.bot.member(group, uid).await.unwrap(),
            expected,
            "{status}"
        );
    }
}

#[tokio::test]
async fn updates_carry_bot_membership_channel_posts_group_messages_and_private_messages() {
    let f = new_bot().await;
    let (id, owner) = channel(&f, None).await;
    let group = chat(json!({"type": "supergroup", "title": "Test Group"})).await;
    let alice = user_id();
    member(
        group,
        json!({"userId": alice, "firstName": "Alice", "status": "creator"}),
    )
    .await;
    member(group, json!({"userId": f.id, "status": "member"})).await;
    let post = admin(
        &format!("_chats/{id}/messages"),
        json!({"fromUserId": owner, "text": "PB-7K3Q9X"}),
    )
    .await;
    let post_id = post["message"]["message_id"].as_i64().unwrap();
    // Privacy mode: the plain code is invisible to a non-admin bot, the command is not.
    admin(
        &format!("_chats/{group}/messages"),
        json!({"fromUserId": alice, "text": "PB-HIDDEN"}),
    )
    .await;
    admin(
        &format!("_chats/{group}/messages"),
        json!({"fromUserId": alice, "text": "/connect PB-7K3Q9X"}),
    )
    .await;
    admin(
        &format!("_bots/{}/dm", f.token),
        json!({"fromUserId": alice, "text": "PB-7K3Q9X @testchannel"}),
    )
    .await;

    let updates = drain(&f.bot).await;
    let kinds: Vec<UpdateKind> = updates.iter().map(|u| u.kind.clone()).collect();
    let channel_info = ChatInfo {
        id,
        kind: ChatKind::Channel,
        title: Some("Test Channel".into()),
        username: None,
        photo_file_id: None,
    };
    let group_info = ChatInfo {
        id: group,
        kind: ChatKind::Supergroup,
        title: Some("Test Group".into()),
        username: None,
        photo_file_id: None,
    };
    assert_eq!(
        kinds,
        vec![
            UpdateKind::BotMembership {
                chat: channel_info.clone(),
                status: MemberStatus::Administrator {
                    can_post_messages: true
                },
                by_user_id: Some(owner),
            },
            UpdateKind::BotMembership {
                chat: group_info.clone(),
                status: MemberStatus::Member,
                by_user_id: Some(alice),
            },
            UpdateKind::Message {
                chat: channel_info,
                from_user_id: None,
                sender_chat_id: Some(id),
                message_id: post_id,
                text: "PB-7K3Q9X".into(),
            },
            UpdateKind::Message {
                chat: group_info,
                from_user_id: Some(alice),
                sender_chat_id: None,
                message_id: 2,
                text: "/connect PB-7K3Q9X".into(),
            },
            UpdateKind::Message {
                chat: ChatInfo {
                    id: alice,
                    kind: ChatKind::Private,
                    title: Some("Alice".into()),
                    username: None,
                    photo_file_id: None,
                },
                from_user_id: Some(alice),
                sender_chat_id: None,
                message_id: 1,
                text: "PB-7K3Q9X @testchannel".into(),
            },
        ]
    );
    assert!(
        updates
            .windows(2)
            .all(|w| w[1].update_id == w[0].update_id + 1)
    );
    assert_eq!(
        f.bot.updates(None, 0).await.unwrap(),
        vec![],
        "the offset confirmed them"
    );
}

#[tokio::test]
async fn a_long_poll_waits_for_an_update_or_answers_nothing_at_expiry() {
    let f = new_bot().await;
    let started = Instant::now();
    assert_eq!(f.bot.updates(None, 1).await.unwrap(), vec![]);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(4),
        "{waited:?}"
    );

    let started = Instant::now();
    let writer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        admin(
            &format!("_bots/{}/dm", f.token),
            json!({"fromUserId": user_id(), "text": "PB-1"}),
        )
        .await
    };
    let (updates, _) = tokio::join!(f.bot.updates(None, 10), writer);
    assert_eq!(updates.unwrap().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_second_poller_makes_the_waiting_one_fail_with_a_conflict() {
    let f = new_bot().await;
    let second = TelegramBot::new(Secret::new(f.token.clone()), Some(api_url())).unwrap();
    let later = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        second.updates(None, 1).await
    };
    let (first, second) = tokio::join!(f.bot.updates(None, 10), later);
    match first.unwrap_err() {
        ConnectorError::Platform {
            status: 409,
            code: Some(code),
            message,
        } => {
            assert_eq!(code, "conflict");
            assert!(
                message.contains("terminated by other getUpdates request"),
                "{message}"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(second.unwrap(), vec![]);
}

/// A webhook endpoint on loopback that answers 200 and hands over each request.
fn webhook_receiver() -> (Url, tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Url::parse(&format!(
        "http://{}/hooks/telegram",
        listener.local_addr().unwrap()
    ))
    .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    return;
                }
                raw.extend_from_slice(&buf[..n]);
                let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&raw[..end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if raw.len() >= end + 4 + len {
                    let body = raw[end + 4..end + 4 + len].to_vec();
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = tx.send((head, body));
                    break;
                }
            }
        }
    });
    (url, rx)
}

#[tokio::test]
async fn a_webhook_replaces_polling_until_deleted_and_its_bodies_parse() {
    let f = new_bot().await;
    let (id, owner) = channel(&f, None).await;
    drain(&f.bot).await;
    let (url, mut requests) = webhook_receiver();
    f.bot.set_webhook(&url, "pb-secret_1").await.unwrap();
    let info = f.bot.webhook_info().await.unwrap();
    assert_eq!(info.url.as_ref(), Some(&url));

    match f.bot.updates(None, 0).await.unwrap_err() {
        ConnectorError::Platform {
            status: 409,
            code: Some(code),
            ..
        } => assert_eq!(code, "conflict"),
        other => panic!("expected a conflict, got {other:?}"),
    }

    admin(
        &format!("_chats/{id}/messages"),
        json!({"fromUserId": owner, "text": "PB-HOOK"}),
    )
    .await;
    let (head, body) = tokio::time::timeout(Duration::from_secs(5), requests.recv())
        .await
        .expect("a delivery")
        .unwrap();
    assert!(
        head.contains("\r\nX-Telegram-Bot-Api-Secret-Token: pb-secret_1"),
        "{head}"
    );
    let update = TelegramBot::parse_update(&body).unwrap();
    match update.kind {
        UpdateKind::Message {
            text,
            sender_chat_id,
            from_user_id,
            ..
        } => {
            assert_eq!(
                (text.as_str(), sender_chat_id, from_user_id),
                ("PB-HOOK", Some(id), None)
            );
        }
        other => panic!("expected a channel post, got {other:?}"),
    }

    f.bot.delete_webhook().await.unwrap();
    assert_eq!(f.bot.webhook_info().await.unwrap().url, None);
    assert_eq!(
        f.bot.updates(None, 0).await.unwrap(),
        vec![],
        "delivered updates are gone"
    );
}

#[tokio::test]
async fn send_message_returns_the_id_that_delete_message_takes() {
    let f = new_bot().await;
    let (id, _) = channel(&f, None).await;
    let first = f
        .bot
        .send_message(id, "Connected to Plugboard")
        .await
        .unwrap();
    let second = f.bot.send_message(id, "again").await.unwrap();
    assert_eq!(second, first + 1);
    f.bot.delete_message(id, first).await.unwrap();
    match f.bot.delete_message(id, first).await.unwrap_err() {
        ConnectorError::Platform {
            status: 400,
            code: Some(code),
            ..
        } => assert_eq!(code, "message_not_found"),
        other => panic!("{other:?}"),
    }
}

#[derive(Debug)]
enum Expect {
    Platform(u16, Option<&'static str>),
    InvalidClient,
    PermissionDenied,
    Transport,
}

fn check(err: &ConnectorError, expected: &Expect, why: &str) {
    let ok = match (err, expected) {
        (ConnectorError::Platform { status, code, .. }, Expect::Platform(s, c)) => {
            status == s && code.as_deref() == *c
        }
        (ConnectorError::InvalidClient { .. }, Expect::InvalidClient)
        | (ConnectorError::PermissionDenied { .. }, Expect::PermissionDenied)
        | (ConnectorError::Transport(_), Expect::Transport) => true,
        _ => false,
    };
    assert!(ok, "{why}: expected {expected:?}, got {err:?}");
}

#[tokio::test]
async fn telegram_errors_map_to_connector_errors_without_the_token() {
    let f = new_bot().await;
    let (id, owner) = channel(&f, None).await;
    let hidden = chat(json!({"type": "channel"})).await;
    let kicked = chat(json!({"type": "supergroup"})).await;
    member(kicked, json!({"userId": f.id, "status": "member"})).await;
    member(kicked, json!({"userId": f.id, "status": "kicked"})).await;
    let outside = chat(json!({"type": "supergroup"})).await;
    let old = chat(json!({"type": "group"})).await;
    member(old, json!({"userId": f.id, "status": "member"})).await;
    admin(&format!("_chats/{old}/migrate"), json!({})).await;

    let wrong = TelegramBot::new(
        Secret::new(format!("{}:wrongSecret", f.id)),
        Some(api_url()),
    )
    .unwrap();
    check(
        &wrong.me().await.unwrap_err(),
        &Expect::InvalidClient,
        "a wrong token",
    );
    check(
        &f.bot.chat(&ChatRef::Id(hidden)).await.unwrap_err(),
        &Expect::Platform(400, Some("chat_not_found")),
        "a private chat the bot is not in",
    );
    check(
        &f.bot
            .chat(&ChatRef::Username("tg_nowhere_x".into()))
            .await
            .unwrap_err(),
        &Expect::Platform(400, Some("chat_not_found")),
        "an unknown username",
    );
    check(
        &f.bot.member(id, 424_242).await.unwrap_err(),
        &Expect::Platform(400, Some("user_not_found")),
        "an unknown user",
    );
    check(
        &f.bot.member(id, -1).await.unwrap_err(),
        &Expect::Platform(400, Some("user_not_found")),
        "a negative user id",
    );
    check(
        &f.bot.send_message(kicked, "x").await.unwrap_err(),
        &Expect::PermissionDenied,
        "kicked from a supergroup",
    );
    check(
        &f.bot.send_message(outside, "x").await.unwrap_err(),
        &Expect::PermissionDenied,
        "not a member",
    );
    check(
        &f.bot.send_message(old, "x").await.unwrap_err(),
        &Expect::Platform(400, Some("chat_migrated")),
        "an upgraded group",
    );
    check(
        &f.bot.send_message(owner, "x").await.unwrap_err(),
        &Expect::PermissionDenied,
        "a user who never wrote to the bot",
    );

    admin(
        "_faults",
        json!({"token": f.token, "retryAfter": 3, "methods": ["getChat"], "times": 1}),
    )
    .await;
    let limited = f.bot.chat(&ChatRef::Id(id)).await.unwrap_err();
    check(
        &limited,
        &Expect::Platform(429, Some("retry_after")),
        "flood control",
    );
    assert!(limited.is_transient());
    assert!(limited.to_string().contains("retry after 3"), "{limited}");

    // Nothing listens on a port just freed: a transport error, which names no token.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = Url::parse(&format!("http://127.0.0.1:{port}/sandbox/telegram/")).unwrap();
    let unreachable = TelegramBot::new(Secret::new(f.token.clone()), Some(dead)).unwrap();
    let err = unreachable.me().await.unwrap_err();
    check(&err, &Expect::Transport, "nothing listening");
    assert!(err.is_transient());
    let secret = f.token.split_once(':').unwrap().1;
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[test]
fn parse_update_reads_webhook_bodies_in_telegrams_shapes() {
    let bot_user = json!({"id": 123456789, "is_bot": true, "first_name": "Plugboard Test", "username": "plugboard_test_bot"});
    let channel = json!({"id": -1001234567890_i64, "title": "Test Channel", "username": "testchannel", "type": "channel"});
    let promoted = json!({"update_id": 500, "my_chat_member": {
        "chat": channel,
        "from": {"id": 111111, "is_bot": false, "first_name": "Alice", "username": "alice"},
        "date": 1795354250,
        "old_chat_member": {"user": bot_user, "status": "left"},
        "new_chat_member": {"user": bot_user, "status": "administrator", "can_be_edited": false,
            "is_anonymous": false, "can_manage_chat": true, "can_delete_messages": true,
            "can_manage_video_chats": true, "can_restrict_members": true, "can_promote_members": false,
            "can_change_info": true, "can_invite_users": true, "can_post_stories": true,
            "can_edit_stories": true, "can_delete_stories": true, "can_post_messages": true,
            "can_edit_messages": true}}});
    let channel_info = ChatInfo {
        id: -1_001_234_567_890,
        kind: ChatKind::Channel,
        title: Some("Test Channel".into()),
        username: Some("testchannel".into()),
        photo_file_id: None,
    };
    let cases = [
        (
            promoted,
            UpdateKind::BotMembership {
                chat: channel_info.clone(),
                status: MemberStatus::Administrator {
                    can_post_messages: true,
                },
                by_user_id: Some(111111),
            },
        ),
        (
            json!({"update_id": 501, "channel_post": {"message_id": 17, "sender_chat": channel, "chat": channel, "date": 1795354250, "text": "PB-7K3Q9X"}}),
            UpdateKind::Message {
                chat: channel_info,
                from_user_id: None,
                sender_chat_id: Some(-1_001_234_567_890),
                message_id: 17,
                text: "PB-7K3Q9X".into(),
            },
        ),
        (
            json!({"update_id": 502, "poll": {"id": "x"}}),
            UpdateKind::Other,
        ),
        (
            json!({"update_id": 503, "something_new": {}}),
            UpdateKind::Other,
        ),
        (
            json!({"update_id": 504, "message": {"message_id": 3, "chat": {"id": -5, "title": "G", "type": "group"},
                "from": {"id": 1, "is_bot": false, "first_name": "A"}, "date": 1795354250, "new_chat_title": "G2"}}),
            UpdateKind::Other,
        ),
    ];
    for (body, expected) in cases {
        let id = body["update_id"].as_i64().unwrap();
        let parsed = TelegramBot::parse_update(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            parsed,
            BotUpdate {
                update_id: id,
                kind: expected
            },
            "{body}"
        );
    }
    for junk in [&b"not json"[..], b"{}", b"[]"] {
        let err = TelegramBot::parse_update(junk).unwrap_err();
        assert!(matches!(err, ConnectorError::Malformed(_)), "{err:?}");
    }
}
