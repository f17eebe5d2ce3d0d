//! The fake Bot API driven over HTTP as teloxide and the scripted world drive it. State is
//! process-wide, so every test makes its own bot and chats.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use serde_json::{Value, json};

use super::{DEFAULT_BOT_ID, DEFAULT_BOT_TOKEN, DEFAULT_BOT_USERNAME};
use crate::configure;

trait TestApp:
    Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>
{
}
impl<S> TestApp for S where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>
{
}

async fn app() -> impl TestApp {
    test::init_service(App::new().service(web::scope("/sandbox").configure(configure))).await
}

async fn send(app: &impl TestApp, req: test::TestRequest) -> (StatusCode, Value) {
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status();
    let body = test::read_body(resp).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A Bot API call with a JSON body, as teloxide makes it.
async fn api(app: &impl TestApp, token: &str, method: &str, body: Value) -> (StatusCode, Value) {
    let req = test::TestRequest::post()
        .uri(&format!("/sandbox/telegram/bot{token}/{method}"))
        .set_json(body);
    send(app, req).await
}

async fn ok(app: &impl TestApp, token: &str, method: &str, body: Value) -> Value {
    let (status, v) = api(app, token, method, body).await;
    assert_eq!(status, StatusCode::OK, "{method}: {v}");
    assert_eq!(v["ok"], true, "{method}: {v}");
    v["result"].clone()
}

async fn admin(app: &impl TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    let req = test::TestRequest::post()
        .uri(&format!("/sandbox/telegram/{path}"))
        .set_json(body);
    send(app, req).await
}

async fn admin_ok(app: &impl TestApp, path: &str, body: Value) -> Value {
    let (status, v) = admin(app, path, body).await;
    assert_eq!(status, StatusCode::OK, "{path}: {v}");
    v
}

struct TestBot {
    token: String,
    id: i64,
    username: String,
}

async fn new_bot(app: &impl TestApp, body: Value) -> TestBot {
    let v = admin_ok(app, "_bots", body).await;
    TestBot {
        token: v["token"].as_str().unwrap().to_owned(),
        id: v["id"].as_i64().unwrap(),
        username: v["username"].as_str().unwrap().to_owned(),
    }
}

async fn chat(app: &impl TestApp, body: Value) -> i64 {
    admin_ok(app, "_chats", body).await["id"].as_i64().unwrap()
}

async fn member(app: &impl TestApp, chat: i64, body: Value) -> Value {
    admin_ok(app, &format!("_chats/{chat}/members"), body).await
}

async fn post(app: &impl TestApp, chat: i64, body: Value) -> Value {
    admin_ok(app, &format!("_chats/{chat}/messages"), body).await
}

/// Pending updates without waiting; confirms nothing.
async fn pending(app: &impl TestApp, token: &str) -> Vec<Value> {
    let req = test::TestRequest::get().uri(&format!("/sandbox/telegram/_bots/{token}"));
    let (_, v) = send(app, req).await;
    v["pendingUpdates"].as_array().unwrap().clone()
}

fn err(code: u16, description: &str) -> Value {
    json!({"ok": false, "error_code": code, "description": description})
}

/// Unique user ids for this process, so tests do not share users.
fn user_id() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NEXT: AtomicI64 = AtomicI64::new(500_000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A channel with a creator and the bot as administrator; the `my_chat_member` that
/// adding the bot emitted is acknowledged.
async fn channel_with_bot(app: &impl TestApp, bot: &TestBot, username: Option<&str>) -> (i64, i64) {
    let mut body = json!({"type": "channel", "title": "Test Channel"});
    if let Some(u) = username {
        body["username"] = json!(u);
    }
    let id = chat(app, body).await;
    let owner = user_id();
    member(
        app,
        id,
        json!({"userId": owner, "firstName": "Alice", "status": "creator"}),
    )
    .await;
    member(
        app,
        id,
        json!({"userId": bot.id, "status": "administrator"}),
    )
    .await;
    acknowledge(app, &bot.token).await;
    (id, owner)
}

async fn acknowledge(app: &impl TestApp, token: &str) {
    let last = pending(app, token)
        .await
        .last()
        .and_then(|u| u["update_id"].as_i64());
    if let Some(last) = last {
        ok(app, token, "getUpdates", json!({"offset": last + 1})).await;
    }
}

#[actix_web::test]
async fn the_sandbox_lists_telegram_among_its_fakes() {
    assert!(crate::platforms().any(|p| p == "telegram"));
}

#[actix_web::test]
async fn get_me_answers_every_field_teloxide_requires() {
    let app = app().await;
    let me = ok(&app, DEFAULT_BOT_TOKEN, "GetMe", json!({})).await;
    assert_eq!(
        me,
        json!({
            "id": DEFAULT_BOT_ID, "is_bot": true, "first_name": "Plugboard Sandbox",
            "username": DEFAULT_BOT_USERNAME, "can_join_groups": true,
            "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false,
        })
    );
    assert!(DEFAULT_BOT_TOKEN.starts_with(&format!("{DEFAULT_BOT_ID}:")));
}

#[actix_web::test]
async fn method_names_match_in_any_case_and_unknown_ones_are_not_found() {
    let app = app().await;
    for name in ["getMe", "GetMe", "getme", "GETME"] {
        ok(&app, DEFAULT_BOT_TOKEN, name, json!({})).await;
    }
    let (status, body) = api(&app, DEFAULT_BOT_TOKEN, "getMeNot", json!({})).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, err(404, "Not Found"))
    );
    let req = test::TestRequest::get().uri("/sandbox/telegram/nothing/here/at/all");
    assert_eq!(send(&app, req).await.1, err(404, "Not Found"));
}

#[actix_web::test]
async fn an_unknown_token_is_unauthorized() {
    let app = app().await;
    let (status, body) = api(&app, "123:nope", "getMe", json!({})).await;
    assert_eq!(
        (status, body),
        (StatusCode::UNAUTHORIZED, err(401, "Unauthorized"))
    );
}

#[actix_web::test]
async fn parameters_arrive_by_query_form_json_or_multipart() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let id = chat(&app, json!({"type": "supergroup", "title": "Forms"})).await;
    member(&app, id, json!({"userId": bot.id, "status": "member"})).await;
    let uri = format!("/sandbox/telegram/bot{}/getChat", bot.token);
    let multipart = format!(
        "--b0und\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n{id}\r\n--b0und--\r\n"
    );
    let cases = [
        (
            "query",
            test::TestRequest::get().uri(&format!("{uri}?chat_id={id}")),
        ),
        (
            "form",
            test::TestRequest::post()
                .uri(&uri)
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(format!("chat_id={id}")),
        ),
        (
            "json",
            test::TestRequest::post()
                .uri(&uri)
                .set_json(json!({"chat_id": id})),
        ),
        (
            "json string",
            test::TestRequest::post()
                .uri(&uri)
                .set_json(json!({"chat_id": id.to_string()})),
        ),
        (
            "multipart",
            test::TestRequest::post()
                .uri(&uri)
                .insert_header(("Content-Type", "multipart/form-data; boundary=b0und"))
                .set_payload(multipart),
        ),
    ];
    for (how, req) in cases {
        let (status, v) = send(&app, req).await;
        assert_eq!(status, StatusCode::OK, "{how}: {v}");
        assert_eq!(v["result"]["id"], id, "{how}");
    }
}

#[actix_web::test]
async fn created_bots_have_their_own_identity_and_a_real_token_shape() {
    let app = app().await;
    let bot = new_bot(
        &app,
        json!({"username": "iso_test_bot", "firstName": "Iso", "canReadAllGroupMessages": true}),
    )
    .await;
    let (id, secret) = bot.token.split_once(':').unwrap();
    assert_eq!(id, bot.id.to_string());
    assert_eq!(secret.len(), 35);
    let me = ok(&app, &bot.token, "getMe", json!({})).await;
    assert_eq!(me["username"], "iso_test_bot");
    assert_eq!(me["first_name"], "Iso");
    assert_eq!(me["can_read_all_group_messages"], true);

    for (body, why) in [
        (json!({"username": "iso_test_bot"}), "taken"),
        (json!({"username": "not_a_b0t_name"}), "must end in bot"),
        (json!({"username": "x y bot"}), "bad characters"),
        (json!({"nope": 1}), "unknown field"),
    ] {
        let (status, v) = admin(&app, "_bots", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {v}");
        assert!(v["error"].is_string(), "{why}");
    }
}

#[actix_web::test]
async fn chats_get_telegram_shaped_ids_and_usernames_are_unique() {
    let app = app().await;
    let channel = chat(&app, json!({"type": "channel", "title": "C"})).await;
    let supergroup = chat(&app, json!({"type": "supergroup", "title": "S"})).await;
    let group = chat(&app, json!({"type": "group", "title": "G"})).await;
    for id in [channel, supergroup] {
        assert!(
            id.to_string().starts_with("-100") && id.to_string().len() == 14,
            "{id}"
        );
    }
    assert!(
        group < 0 && !group.to_string().starts_with("-100"),
        "{group}"
    );

    let (status, v) = admin(
        &app,
        "_chats",
        json!({"type": "channel", "username": "uniq_chan_1"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["username"], "uniq_chan_1");
    assert_eq!(v["accepted_gift_types"]["premium_subscription"], false);
    for (body, why) in [
        (
            json!({"type": "supergroup", "username": "UNIQ_chan_1"}),
            "taken, any case",
        ),
        (
            json!({"type": "group", "username": "grp_name"}),
            "basic groups have none",
        ),
        (json!({"type": "forum"}), "unknown type"),
        (json!({"type": "private"}), "private needs userId"),
    ] {
        assert_eq!(
            admin(&app, "_chats", body).await.0,
            StatusCode::BAD_REQUEST,
            "{why}"
        );
    }
}

#[actix_web::test]
async fn get_chat_finds_public_chats_by_username_and_private_ones_only_from_inside() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let (public, _) = channel_with_bot(&app, &bot, Some("gc_public_chan")).await;
    let private = chat(&app, json!({"type": "channel", "title": "Hidden"})).await;
    let inside = chat(
        &app,
        json!({"type": "supergroup", "title": "Inside", "photo": false}),
    )
    .await;
    member(&app, inside, json!({"userId": bot.id, "status": "member"})).await;
    let outsider = new_bot(&app, json!({})).await;

    let by_name = ok(
        &app,
        &bot.token,
        "getChat",
        json!({"chat_id": "@GC_Public_Chan"}),
    )
    .await;
    assert_eq!(
        by_name,
        json!({
            "id": public, "type": "channel", "title": "Test Channel", "username": "gc_public_chan",
            "photo": {
                "small_file_id": format!("sbx-chatphoto-small-{public}"),
                "small_file_unique_id": format!("sbx-u-small-{public}"),
                "big_file_id": format!("sbx-chatphoto-big-{public}"),
                "big_file_unique_id": format!("sbx-u-big-{public}"),
            },
            "accent_color_id": 0, "max_reaction_count": 11,
            "accepted_gift_types": {"unlimited_gifts": false, "limited_gifts": false, "unique_gifts": false, "premium_subscription": false},
        })
    );
    let cases = [
        (&bot.token, json!(public), true, "member, by id"),
        (
            &outsider.token,
            json!("@gc_public_chan"),
            true,
            "public chats are visible to all",
        ),
        (
            &outsider.token,
            json!(private),
            false,
            "a private channel to an outsider",
        ),
        (
            &bot.token,
            json!(private),
            false,
            "a private channel the bot is not in",
        ),
        (
            &bot.token,
            json!(inside),
            true,
            "a private group the bot is in",
        ),
        (
            &bot.token,
            json!("@no_such_chat_anywhere"),
            false,
            "unknown username",
        ),
        (&bot.token, json!(-1009999999999_i64), false, "unknown id"),
        (
            &bot.token,
            json!("not-a-chat"),
            false,
            "neither number nor @username",
        ),
    ];
    for (token, chat_id, found, why) in cases {
        let (status, v) = api(&app, token, "getChat", json!({"chat_id": chat_id})).await;
        if found {
            assert_eq!(status, StatusCode::OK, "{why}: {v}");
        } else {
            assert_eq!(
                (status, v),
                (
                    StatusCode::BAD_REQUEST,
                    err(400, "Bad Request: chat not found")
                ),
                "{why}"
            );
        }
    }
    let no_photo = ok(&app, &bot.token, "getChat", json!({"chat_id": inside})).await;
    assert!(no_photo.get("photo").is_none());
}

#[actix_web::test]
async fn get_file_gives_the_chat_photo_path_and_the_download_serves_it() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let (id, _) = channel_with_bot(&app, &bot, None).await;
    let file_id = format!("sbx-chatphoto-big-{id}");
    let file = ok(&app, &bot.token, "GetFile", json!({"file_id": file_id})).await;
    assert_eq!(file["file_id"], file_id.as_str());
    let path = file["file_path"].as_str().unwrap().to_owned();
    let req =
        test::TestRequest::get().uri(&format!("/sandbox/telegram/file/bot{}/{path}", bot.token));
    let resp = test::call_service(&app, req.to_request()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = test::read_body(resp).await;
    assert!(bytes.starts_with(b"\x89PNG"));
    assert_eq!(file["file_size"], bytes.len());

    let (status, v) = api(&app, &bot.token, "getFile", json!({"file_id": "junk"})).await;
    assert_eq!(
        (status, v),
        (
            StatusCode::BAD_REQUEST,
            err(400, "Bad Request: invalid file_id")
        )
    );
}

#[actix_web::test]
async fn adding_a_bot_as_administrator_emits_my_chat_member_from_the_creator() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let id = chat(
        &app,
        json!({"type": "channel", "title": "Test Channel", "username": "mcm_chan"}),
    )
    .await;
    let owner = user_id();
    member(&app, id, json!({"userId": owner, "firstName": "Alice", "username": format!("alice{owner}"), "status": "creator"})).await;
    let added = member(
        &app,
        id,
        json!({"userId": bot.id, "status": "administrator"}),
    )
    .await;
    assert_eq!(added["notified"], json!([bot.id]));

    let updates = ok(&app, &bot.token, "getUpdates", json!({})).await;
    let updates = updates.as_array().unwrap();
    assert_eq!(updates.len(), 1);
    let u = &updates[0]["my_chat_member"];
    assert_eq!(
        u["chat"],
        json!({"id": id, "title": "Test Channel", "type": "channel", "username": "mcm_chan"})
    );
    assert_eq!(
        u["from"],
        json!({"id": owner, "is_bot": false, "first_name": "Alice", "username": format!("alice{owner}")})
    );
    assert_eq!(u["old_chat_member"]["status"], "left");
    let new = &u["new_chat_member"];
    assert_eq!(new["status"], "administrator");
    assert_eq!(new["user"]["id"], bot.id);
    assert_eq!(new["user"]["is_bot"], true);
    for field in [
        "can_be_edited",
        "is_anonymous",
        "can_manage_chat",
        "can_change_info",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_invite_users",
        "can_restrict_members",
        "can_promote_members",
        "can_post_messages",
    ] {
        assert!(new[field].is_boolean(), "{field} missing");
    }
    assert_eq!(new["can_post_messages"], true);

    // Removing the bot tells it too; the same state again tells nobody.
    let kicked = member(&app, id, json!({"userId": bot.id, "status": "kicked"})).await;
    assert_eq!(kicked["notified"], json!([bot.id]));
    let again = member(&app, id, json!({"userId": bot.id, "status": "kicked"})).await;
    assert_eq!(again["notified"], json!([]));
    let last = pending(&app, &bot.token).await;
    assert_eq!(last.len(), 2, "the first is not acknowledged yet");
    assert_eq!(
        last[1]["my_chat_member"]["new_chat_member"],
        json!({
            "user": {"id": bot.id, "is_bot": true, "first_name": format!("Sandbox Bot {}", bot.id), "username": bot.username},
            "status": "kicked", "until_date": 0,
        })
    );
}

#[actix_web::test]
async fn the_scripted_world_refuses_what_telegram_does_not_allow() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let channel = chat(&app, json!({"type": "channel"})).await;
    let group = chat(&app, json!({"type": "supergroup"})).await;
    let owner = user_id();
    member(&app, channel, json!({"userId": owner, "status": "creator"})).await;
    let stranger = user_id();
    let cases = [
        (
            format!("_chats/{channel}/members"),
            json!({"userId": bot.id, "status": "member"}),
            "bots join channels only as admins",
        ),
        (
            format!("_chats/{channel}/members"),
            json!({"userId": bot.id, "status": "creator"}),
            "bots own nothing",
        ),
        (
            format!("_chats/{channel}/members"),
            json!({"userId": user_id(), "status": "creator"}),
            "one creator",
        ),
        (
            format!("_chats/{channel}/members"),
            json!({"userId": -5, "status": "member"}),
            "user ids are positive",
        ),
        (
            format!("_chats/{channel}/members"),
            json!({"userId": bot.id, "status": "administrator", "firstName": "X"}),
            "a bot's names are its own",
        ),
        (
            format!("_chats/{channel}/messages"),
            json!({"fromUserId": stranger, "text": "hi"}),
            "only admins post in channels",
        ),
        (
            format!("_chats/{group}/messages"),
            json!({"text": "hi"}),
            "groups need a sender",
        ),
        (
            format!("_chats/{group}/messages"),
            json!({"fromUserId": stranger, "text": "hi"}),
            "the sender must be a member",
        ),
        (
            format!("_chats/{group}/messages"),
            json!({"fromUserId": bot.id, "text": "hi"}),
            "bots use sendMessage",
        ),
        (
            format!("_chats/{group}/messages"),
            json!({"fromUserId": owner, "text": " "}),
            "empty text",
        ),
        (
            format!("_chats/{group}/migrate"),
            json!({}),
            "only basic groups migrate",
        ),
    ];
    for (path, body, why) in cases {
        let (status, v) = admin(&app, &path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {v}");
    }
    assert_eq!(
        admin(
            &app,
            "_chats/-1/members",
            json!({"userId": 1, "status": "member"})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn channel_posts_come_from_the_channel_with_sender_chat_and_no_from() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let (id, owner) = channel_with_bot(&app, &bot, Some("cp_chan")).await;
    let posted = post(&app, id, json!({"fromUserId": owner, "text": "PB-7K3Q9X"})).await;
    assert_eq!(posted["deliveredTo"], json!([bot.id]));
    let updates = ok(&app, &bot.token, "getUpdates", json!({})).await;
    let channel =
        json!({"id": id, "title": "Test Channel", "type": "channel", "username": "cp_chan"});
    assert_eq!(
        updates[0]["channel_post"],
        json!({
            "message_id": 1, "sender_chat": channel, "chat": channel,
            "date": updates[0]["channel_post"]["date"], "text": "PB-7K3Q9X",
        })
    );
    assert!(updates[0]["channel_post"]["date"].as_i64().unwrap() > 1_700_000_000);
}

#[actix_web::test]
async fn privacy_mode_shows_a_non_admin_bot_only_commands_mentions_and_replies() {
    let app = app().await;
    let quiet = new_bot(&app, json!({})).await;
    let admin_bot = new_bot(&app, json!({})).await;
    let reader = new_bot(&app, json!({"canReadAllGroupMessages": true})).await;
    let id = chat(&app, json!({"type": "supergroup", "title": "Test Group"})).await;
    let alice = user_id();
    member(
        &app,
        id,
        json!({"userId": alice, "firstName": "Alice", "status": "creator"}),
    )
    .await;
    for (b, status) in [
        (&quiet, "member"),
        (&admin_bot, "administrator"),
        (&reader, "member"),
    ] {
        member(&app, id, json!({"userId": b.id, "status": status})).await;
    }
    let bot_msg = ok(
        &app,
        &quiet.token,
        "sendMessage",
        json!({"chat_id": id, "text": "hello"}),
    )
    .await;
    let bot_msg_id = bot_msg["message_id"].as_i64().unwrap();
    let q = quiet.username.clone();
    let cases = [
        (json!({"text": "PB-7K3Q9X"}), false, "plain text"),
        (
            json!({"text": "/connect PB-7K3Q9X"}),
            true,
            "a command for every bot",
        ),
        (
            json!({"text": format!("/connect@{q} PB-1")}),
            true,
            "a command naming it",
        ),
        (
            json!({"text": "/connect@some_other_bot PB-1"}),
            false,
            "a command naming another bot",
        ),
        (
            json!({"text": format!("PB-1 @{}", q.to_uppercase())}),
            true,
            "a mention, any case",
        ),
        (
            json!({"text": format!("mail{q}@x.org")}),
            false,
            "not a mention",
        ),
        (
            json!({"text": "PB-1", "replyToMessageId": bot_msg_id}),
            true,
            "a reply to its message",
        ),
    ];
    for (mut body, quiet_sees, why) in cases {
        body["fromUserId"] = json!(alice);
        let posted = post(&app, id, body).await;
        let mut expected = vec![admin_bot.id, reader.id];
        if quiet_sees {
            expected.push(quiet.id);
        }
        expected.sort_unstable();
        let mut got: Vec<i64> = posted["deliveredTo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, expected, "{why}");
    }
    let seen = ok(&app, &quiet.token, "getUpdates", json!({"offset": -100})).await;
    let texts: Vec<&str> = seen
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["message"]["text"].as_str())
        .collect();
    assert_eq!(texts.len(), 4);
    let first = &seen
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u.get("message").is_some())
        .unwrap()["message"];
    assert_eq!(first["from"]["id"], alice);
    assert_eq!(
        first["chat"],
        json!({"id": id, "title": "Test Group", "type": "supergroup"})
    );
    assert_eq!(
        first["entities"],
        json!([{"offset": 0, "length": 8, "type": "bot_command"}])
    );
}

#[actix_web::test]
async fn a_private_message_reaches_only_the_bot_it_was_written_to() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let other = new_bot(&app, json!({})).await;
    let alice = user_id();
    let (status, v) = admin(
        &app,
        &format!("_bots/{}/dm", bot.token),
        json!({"fromUserId": alice, "firstName": "Alice", "username": format!("al{alice}"), "text": "PB-7K3Q9X @testchannel"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["deliveredTo"], json!([bot.id]));
    let updates = ok(&app, &bot.token, "getUpdates", json!({})).await;
    let private = json!({"id": alice, "first_name": "Alice", "username": format!("al{alice}"), "type": "private"});
    assert_eq!(updates[0]["message"]["chat"], private);
    assert_eq!(updates[0]["message"]["from"]["id"], alice);
    assert_eq!(
        ok(&app, &other.token, "getUpdates", json!({})).await,
        json!([])
    );

    // Having written, the user can be answered and looked up, by this bot only.
    ok(
        &app,
        &bot.token,
        "sendMessage",
        json!({"chat_id": alice, "text": "linked"}),
    )
    .await;
    let full = ok(&app, &bot.token, "getChat", json!({"chat_id": alice})).await;
    assert_eq!(full["type"], "private");
    let (status, v) = api(
        &app,
        &other.token,
        "sendMessage",
        json!({"chat_id": alice, "text": "hi"}),
    )
    .await;
    assert_eq!(
        (status, v),
        (
            StatusCode::FORBIDDEN,
            err(
                403,
                "Forbidden: bot can't initiate conversation with a user"
            )
        )
    );
}

#[actix_web::test]
async fn get_updates_offset_confirms_earlier_updates_and_a_negative_one_keeps_the_last() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let alice = user_id();
    for n in 0..4 {
        admin_ok(
            &app,
            &format!("_bots/{}/dm", bot.token),
            json!({"fromUserId": alice, "text": format!("m{n}")}),
        )
        .await;
    }
    let all = ok(&app, &bot.token, "GetUpdates", json!({"timeout": 0})).await;
    let ids: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["update_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
    // Unconfirmed updates come back again.
    assert_eq!(ok(&app, &bot.token, "getUpdates", json!({})).await, all);
    let limited = ok(&app, &bot.token, "getUpdates", json!({"limit": 1})).await;
    assert_eq!(limited.as_array().unwrap().len(), 1);
    let rest = ok(
        &app,
        &bot.token,
        "getUpdates",
        json!({"offset": ids[1] + 1}),
    )
    .await;
    assert_eq!(rest.as_array().unwrap().len(), 2);
    let last = ok(&app, &bot.token, "getUpdates", json!({"offset": -1})).await;
    assert_eq!(last[0]["update_id"], ids[3]);
    assert_eq!(
        ok(&app, &bot.token, "getUpdates", json!({})).await,
        last,
        "-1 forgot the rest"
    );
    assert_eq!(
        ok(
            &app,
            &bot.token,
            "getUpdates",
            json!({"offset": ids[3] + 1})
        )
        .await,
        json!([])
    );
}

#[actix_web::test]
async fn get_updates_holds_until_an_update_arrives() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let alice = user_id();
    let started = Instant::now();
    let poll = api(&app, &bot.token, "getUpdates", json!({"timeout": 10}));
    let write = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        admin_ok(
            &app,
            &format!("_bots/{}/dm", bot.token),
            json!({"fromUserId": alice, "text": "PB-1"}),
        )
        .await
    };
    let ((status, v), _) = tokio::join!(poll, write);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["result"][0]["message"]["text"], "PB-1");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[actix_web::test]
async fn get_updates_answers_an_empty_list_when_the_timeout_expires() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let started = Instant::now();
    assert_eq!(
        ok(&app, &bot.token, "getUpdates", json!({"timeout": 1})).await,
        json!([])
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[actix_web::test]
async fn a_newer_get_updates_terminates_the_waiting_one_with_409() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let first = api(&app, &bot.token, "getUpdates", json!({"timeout": 10}));
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        api(&app, &bot.token, "getUpdates", json!({"timeout": 1})).await
    };
    let started = Instant::now();
    let (first, second) = tokio::join!(first, second);
    assert_eq!(
        first,
        (
            StatusCode::CONFLICT,
            err(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
            )
        )
    );
    assert_eq!(second.0, StatusCode::OK);
    assert_eq!(second.1["result"], json!([]));
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[actix_web::test]
async fn get_updates_is_refused_while_a_webhook_is_set() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let none = ok(&app, &bot.token, "getWebhookInfo", json!({})).await;
    assert_eq!(
        none,
        json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0})
    );

    // A poll waiting when the webhook is set is answered with the conflict too.
    let waiting = api(&app, &bot.token, "getUpdates", json!({"timeout": 10}));
    let set = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        api(
            &app,
            &bot.token,
            "setWebhook",
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await
    };
    let (waiting, set) = tokio::join!(waiting, set);
    let conflict = err(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    );
    assert_eq!(waiting, (StatusCode::CONFLICT, conflict.clone()));
    assert_eq!(
        set.1,
        json!({"ok": true, "result": true, "description": "Webhook was set"})
    );
    assert_eq!(
        api(&app, &bot.token, "getUpdates", json!({})).await,
        (StatusCode::CONFLICT, conflict)
    );
    let info = ok(&app, &bot.token, "getWebhookInfo", json!({})).await;
    assert_eq!(info["url"], "http://127.0.0.1:9/hook");

    let (_, deleted) = api(&app, &bot.token, "deleteWebhook", json!({})).await;
    assert_eq!(
        deleted,
        json!({"ok": true, "result": true, "description": "Webhook was deleted"})
    );
    let (_, again) = api(&app, &bot.token, "deleteWebhook", json!({})).await;
    assert_eq!(again["description"], "Webhook is already deleted");
    assert_eq!(
        ok(&app, &bot.token, "getUpdates", json!({})).await,
        json!([])
    );
    assert_eq!(
        ok(&app, &bot.token, "getWebhookInfo", json!({})).await["url"],
        ""
    );
}

#[actix_web::test]
async fn set_webhook_validates_its_parameters_and_reads_multipart() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    for (body, description) in [
        (json!({"url": "not a url"}), "Bad Request: can't parse URL"),
        (
            json!({"url": "ftp://h/x"}),
            "Bad Request: bad webhook: HTTPS url must be provided for webhook",
        ),
        (
            json!({"url": "http://h/x", "secret_token": "bad secret!"}),
            "Bad Request: secret token contains unallowed characters",
        ),
    ] {
        assert_eq!(
            api(&app, &bot.token, "setWebhook", body).await,
            (StatusCode::BAD_REQUEST, err(400, description))
        );
    }
    // teloxide sends setWebhook as multipart, lists as JSON text.
    let multipart = "--B\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nhttp://127.0.0.1:9/tg\r\n\
        --B\r\nContent-Disposition: form-data; name=\"secret_token\"\r\n\r\ns3cr3t\r\n\
        --B\r\nContent-Disposition: form-data; name=\"allowed_updates\"\r\n\r\n[\"message\",\"channel_post\"]\r\n--B--\r\n";
    let req = test::TestRequest::post()
        .uri(&format!("/sandbox/telegram/bot{}/SetWebhook", bot.token))
        .insert_header(("Content-Type", "multipart/form-data; boundary=B"))
        .set_payload(multipart);
    assert_eq!(send(&app, req).await.1["result"], true);
    let info = ok(&app, &bot.token, "getWebhookInfo", json!({})).await;
    assert_eq!(
        info,
        json!({"url": "http://127.0.0.1:9/tg", "has_custom_certificate": false, "pending_update_count": 0,
               "max_connections": 40, "allowed_updates": ["message", "channel_post"]})
    );
    // An empty url removes the webhook, as on Telegram.
    ok(&app, &bot.token, "setWebhook", json!({"url": ""})).await;
    assert_eq!(
        ok(&app, &bot.token, "getWebhookInfo", json!({})).await["url"],
        ""
    );
}

/// A webhook receiver on loopback that reports each request and answers it only when the
/// test says so, so the test can look at the fake while a delivery is in flight.
struct Receiver {
    url: String,
    requests: tokio::sync::mpsc::UnboundedReceiver<(String, Value)>,
    answer: std::sync::mpsc::Sender<u16>,
}

fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (req_tx, requests) = tokio::sync::mpsc::unbounded_channel();
    let (answer, answer_rx) = std::sync::mpsc::channel::<u16>();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            let (head, body) = loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    return;
                }
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if body.len() >= len {
                        break (head.to_owned(), body.to_owned());
                    }
                }
            };
            let _ = req_tx.send((head, serde_json::from_str(&body).unwrap_or(Value::Null)));
            let Ok(status) = answer_rx.recv_timeout(Duration::from_secs(10)) else {
                return;
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    Receiver {
        url: format!("http://{addr}/hook/telegram?x=1"),
        requests,
        answer,
    }
}

impl Receiver {
    async fn next(&mut self) -> (String, Value) {
        tokio::time::timeout(Duration::from_secs(5), self.requests.recv())
            .await
            .expect("a webhook delivery")
            .unwrap()
    }

    fn answer(&self, status: u16) {
        self.answer.send(status).unwrap();
    }
}

#[actix_web::test]
async fn a_set_webhook_receives_updates_with_the_secret_header_in_order() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let (id, owner) = channel_with_bot(&app, &bot, None).await;
    let mut hook = receiver();
    ok(
        &app,
        &bot.token,
        "setWebhook",
        json!({"url": hook.url, "secret_token": "s3cr3t_-X"}),
    )
    .await;
    post(&app, id, json!({"fromUserId": owner, "text": "PB-1"})).await;
    post(&app, id, json!({"text": "PB-2"})).await;

    let (head, first) = hook.next().await;
    assert!(
        head.starts_with("POST /hook/telegram?x=1 HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        head.contains("\r\nX-Telegram-Bot-Api-Secret-Token: s3cr3t_-X"),
        "{head}"
    );
    assert!(
        head.contains("\r\nContent-Type: application/json"),
        "{head}"
    );
    assert_eq!(first["channel_post"]["text"], "PB-1");
    let in_flight = ok(&app, &bot.token, "getWebhookInfo", json!({})).await;
    assert_eq!(in_flight["pending_update_count"], 2);
    hook.answer(200);

    let (_, second) = hook.next().await;
    assert_eq!(second["channel_post"]["text"], "PB-2");
    assert_eq!(
        second["update_id"],
        first["update_id"].as_i64().unwrap() + 1
    );
    // The first was confirmed by its 200.
    assert_eq!(
        ok(&app, &bot.token, "getWebhookInfo", json!({})).await["pending_update_count"],
        1
    );
    hook.answer(204);
}

#[actix_web::test]
async fn webhook_deliveries_are_retried_on_non_2xx_and_given_up_after_four_attempts() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let alice = user_id();
    let mut hook = receiver();
    ok(&app, &bot.token, "setWebhook", json!({"url": hook.url})).await;
    for text in ["retried", "given up", "next"] {
        admin_ok(
            &app,
            &format!("_bots/{}/dm", bot.token),
            json!({"fromUserId": alice, "text": text}),
        )
        .await;
    }
    let (head, v) = hook.next().await;
    assert!(
        !head.contains("X-Telegram-Bot-Api-Secret-Token"),
        "no secret was set"
    );
    assert_eq!(v["message"]["text"], "retried");
    hook.answer(502);
    assert_eq!(hook.next().await.1["message"]["text"], "retried");
    hook.answer(200);
    for _ in 0..4 {
        assert_eq!(hook.next().await.1["message"]["text"], "given up");
        hook.answer(500);
    }
    assert_eq!(hook.next().await.1["message"]["text"], "next");
    let info = ok(&app, &bot.token, "getWebhookInfo", json!({})).await;
    assert_eq!(info["pending_update_count"], 1);
    assert_eq!(
        info["last_error_message"],
        "Wrong response from the webhook: 500"
    );
    assert!(info["last_error_date"].as_i64().is_some());
    hook.answer(200);
}

#[actix_web::test]
async fn get_chat_member_reports_each_status_with_its_mandatory_fields() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let id = chat(&app, json!({"type": "supergroup", "title": "Members"})).await;
    member(
        &app,
        id,
        json!({"userId": bot.id, "status": "administrator", "canDeleteMessages": false}),
    )
    .await;
    let cases = [
        ("creator", vec!["is_anonymous"]),
        (
            "administrator",
            vec![
                "can_be_edited",
                "is_anonymous",
                "can_manage_chat",
                "can_delete_messages",
                "can_promote_members",
                "can_pin_messages",
            ],
        ),
        ("member", vec![]),
        (
            "restricted",
            vec![
                "until_date",
                "is_member",
                "can_send_messages",
                "can_send_polls",
                "can_manage_topics",
            ],
        ),
        ("left", vec![]),
        ("kicked", vec!["until_date"]),
    ];
    for (status, fields) in cases {
        let uid = user_id();
        member(
            &app,
            id,
            json!({"userId": uid, "firstName": "U", "status": status}),
        )
        .await;
        let m = ok(
            &app,
            &bot.token,
            "getChatMember",
            json!({"chat_id": id, "user_id": uid}),
        )
        .await;
        assert_eq!(m["status"], status);
        assert_eq!(
            m["user"],
            json!({"id": uid, "is_bot": false, "first_name": "U"})
        );
        for f in fields {
            assert!(!m[f].is_null(), "{status}: {f} missing in {m}");
        }
    }
    let me = ok(
        &app,
        &bot.token,
        "getChatMember",
        json!({"chat_id": id, "user_id": bot.id}),
    )
    .await;
    assert_eq!(me["can_delete_messages"], false);
    assert!(
        me.get("can_post_messages").is_none(),
        "groups do not report it"
    );
    let stranger = user_id();
    admin_ok(
        &app,
        "_chats",
        json!({"type": "private", "userId": stranger}),
    )
    .await;
    let known = ok(
        &app,
        &bot.token,
        "getChatMember",
        json!({"chat_id": id, "user_id": stranger}),
    )
    .await;
    assert_eq!(known["status"], "left");
    let (status, v) = api(
        &app,
        &bot.token,
        "getChatMember",
        json!({"chat_id": id, "user_id": 42}),
    )
    .await;
    assert_eq!(
        (status, v),
        (
            StatusCode::BAD_REQUEST,
            err(400, "Bad Request: user not found")
        )
    );
}

#[actix_web::test]
async fn member_lists_need_the_bot_inside_and_leave_other_bots_out() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let other = new_bot(&app, json!({})).await;
    let (id, owner) = channel_with_bot(&app, &bot, None).await;
    member(
        &app,
        id,
        json!({"userId": other.id, "status": "administrator"}),
    )
    .await;
    let fan = user_id();
    member(&app, id, json!({"userId": fan, "status": "member"})).await;
    member(&app, id, json!({"userId": user_id(), "status": "kicked"})).await;

    let admins = ok(
        &app,
        &bot.token,
        "getChatAdministrators",
        json!({"chat_id": id}),
    )
    .await;
    let mut ids: Vec<i64> = admins
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![owner, bot.id];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert_eq!(
        ok(
            &app,
            &bot.token,
            "getChatMemberCount",
            json!({"chat_id": id})
        )
        .await,
        4
    );

    let outsider = new_bot(&app, json!({})).await;
    let public = chat(
        &app,
        json!({"type": "channel", "username": "ml_public_chan"}),
    )
    .await;
    let cases = [
        (
            outsider.token.as_str(),
            json!(id),
            err(400, "Bad Request: chat not found"),
        ),
        (
            outsider.token.as_str(),
            json!(public),
            err(400, "Bad Request: member list is inaccessible"),
        ),
    ];
    for (token, chat_id, expected) in cases {
        assert_eq!(
            api(
                &app,
                token,
                "getChatAdministrators",
                json!({"chat_id": chat_id})
            )
            .await
            .1,
            expected
        );
    }
    member(&app, id, json!({"userId": outsider.id, "status": "kicked"})).await;
    assert_eq!(
        api(
            &app,
            &outsider.token,
            "getChatMember",
            json!({"chat_id": id, "user_id": fan})
        )
        .await,
        (
            StatusCode::FORBIDDEN,
            err(403, "Forbidden: bot was kicked from the channel chat")
        )
    );
}

#[actix_web::test]
async fn send_message_posts_into_a_channel_as_the_channel_and_needs_post_rights() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let (id, _) = channel_with_bot(&app, &bot, Some("sm_chan")).await;
    let sent = ok(
        &app,
        &bot.token,
        "SendMessage",
        json!({"chat_id": "@sm_chan", "text": "Connected to Plugboard"}),
    )
    .await;
    let channel =
        json!({"id": id, "title": "Test Channel", "type": "channel", "username": "sm_chan"});
    assert_eq!(
        sent,
        json!({"message_id": 1, "sender_chat": channel, "chat": channel, "date": sent["date"], "text": "Connected to Plugboard"})
    );

    let group = chat(&app, json!({"type": "supergroup", "title": "G"})).await;
    member(&app, group, json!({"userId": bot.id, "status": "member"})).await;
    let in_group = ok(
        &app,
        &bot.token,
        "sendMessage",
        json!({"chat_id": group, "text": "hi"}),
    )
    .await;
    assert_eq!(in_group["from"]["id"], bot.id);
    assert!(in_group.get("sender_chat").is_none());

    let no_post = chat(&app, json!({"type": "channel"})).await;
    member(
        &app,
        no_post,
        json!({"userId": bot.id, "status": "administrator", "canPostMessages": false}),
    )
    .await;
    let left = chat(&app, json!({"type": "supergroup"})).await;
    let kicked = chat(&app, json!({"type": "channel"})).await;
    member(
        &app,
        kicked,
        json!({"userId": bot.id, "status": "administrator"}),
    )
    .await;
    member(&app, kicked, json!({"userId": bot.id, "status": "kicked"})).await;
    let cases = [
        (
            json!({"chat_id": no_post, "text": "x"}),
            StatusCode::BAD_REQUEST,
            "Bad Request: need administrator rights in the channel chat",
        ),
        (
            json!({"chat_id": kicked, "text": "x"}),
            StatusCode::FORBIDDEN,
            "Forbidden: bot was kicked from the channel chat",
        ),
        (
            json!({"chat_id": left, "text": "x"}),
            StatusCode::FORBIDDEN,
            "Forbidden: bot is not a member of the supergroup chat",
        ),
        (
            json!({"chat_id": id, "text": ""}),
            StatusCode::BAD_REQUEST,
            "Bad Request: message text is empty",
        ),
        (
            json!({"chat_id": id, "text": "x".repeat(4097)}),
            StatusCode::BAD_REQUEST,
            "Bad Request: message is too long",
        ),
        (
            json!({"text": "x"}),
            StatusCode::BAD_REQUEST,
            "Bad Request: chat_id is empty",
        ),
    ];
    for (body, status, description) in cases {
        assert_eq!(
            api(&app, &bot.token, "sendMessage", body).await,
            (status, err(status.as_u16(), description)),
            "{description}"
        );
    }
}

#[actix_web::test]
async fn delete_message_removes_own_messages_and_needs_rights_for_others() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let weak = new_bot(&app, json!({})).await;
    let id = chat(&app, json!({"type": "supergroup", "title": "Del"})).await;
    let alice = user_id();
    member(&app, id, json!({"userId": alice, "status": "creator"})).await;
    member(
        &app,
        id,
        json!({"userId": bot.id, "status": "administrator"}),
    )
    .await;
    member(&app, id, json!({"userId": weak.id, "status": "member"})).await;
    let code = post(
        &app,
        id,
        json!({"fromUserId": alice, "text": "/connect PB-1"}),
    )
    .await["message"]["message_id"]
        .as_i64()
        .unwrap();
    let own = ok(
        &app,
        &weak.token,
        "sendMessage",
        json!({"chat_id": id, "text": "mine"}),
    )
    .await["message_id"]
        .as_i64()
        .unwrap();

    assert_eq!(
        api(
            &app,
            &weak.token,
            "deleteMessage",
            json!({"chat_id": id, "message_id": code})
        )
        .await,
        (
            StatusCode::BAD_REQUEST,
            err(400, "Bad Request: message can't be deleted")
        )
    );
    assert_eq!(
        ok(
            &app,
            &weak.token,
            "deleteMessage",
            json!({"chat_id": id, "message_id": own})
        )
        .await,
        true
    );
    assert_eq!(
        ok(
            &app,
            &bot.token,
            "DeleteMessage",
            json!({"chat_id": id, "message_id": code})
        )
        .await,
        true
    );
    assert_eq!(
        api(
            &app,
            &bot.token,
            "deleteMessage",
            json!({"chat_id": id, "message_id": code})
        )
        .await,
        (
            StatusCode::BAD_REQUEST,
            err(400, "Bad Request: message to delete not found")
        )
    );
    let req = test::TestRequest::get().uri(&format!("/sandbox/telegram/_chats/{id}"));
    assert_eq!(send(&app, req).await.1["messages"], json!([]));
}

#[actix_web::test]
async fn the_fault_knob_answers_429_with_retry_after_for_the_chosen_methods() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    admin_ok(
        &app,
        "_faults",
        json!({"token": bot.token, "retryAfter": 7, "methods": ["sendMessage"], "times": 2}),
    )
    .await;
    ok(&app, &bot.token, "getMe", json!({})).await;
    let limited = json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}});
    for _ in 0..2 {
        assert_eq!(
            api(
                &app,
                &bot.token,
                "SendMessage",
                json!({"chat_id": 1, "text": "x"})
            )
            .await,
            (StatusCode::TOO_MANY_REQUESTS, limited.clone())
        );
    }
    // Used up: the call goes through to the method again.
    assert_eq!(
        api(
            &app,
            &bot.token,
            "sendMessage",
            json!({"chat_id": 1, "text": "x"})
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );

    admin_ok(
        &app,
        "_faults",
        json!({"token": bot.token, "serverError": true}),
    )
    .await;
    assert_eq!(
        api(&app, &bot.token, "getMe", json!({})).await,
        (StatusCode::BAD_GATEWAY, err(502, "Bad Gateway"))
    );
    admin_ok(&app, "_faults", json!({"token": bot.token})).await;
    ok(&app, &bot.token, "getMe", json!({})).await;
    assert_eq!(
        admin(&app, "_faults", json!({"token": "nope"})).await.0,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn an_upgraded_group_answers_with_its_new_supergroup_id() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let group = chat(&app, json!({"type": "group", "title": "Old"})).await;
    member(
        &app,
        group,
        json!({"userId": user_id(), "status": "creator"}),
    )
    .await;
    member(&app, group, json!({"userId": bot.id, "status": "member"})).await;
    acknowledge(&app, &bot.token).await;
    let upgraded = admin_ok(&app, &format!("_chats/{group}/migrate"), json!({})).await;
    let new_id = upgraded["id"].as_i64().unwrap();
    assert_eq!(upgraded["type"], "supergroup");
    assert!(new_id.to_string().starts_with("-100"));
    let (status, v) = api(
        &app,
        &bot.token,
        "sendMessage",
        json!({"chat_id": group, "text": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["parameters"], json!({"migrate_to_chat_id": new_id}));
    ok(
        &app,
        &bot.token,
        "sendMessage",
        json!({"chat_id": new_id, "text": "x"}),
    )
    .await;
    let service = ok(&app, &bot.token, "getUpdates", json!({})).await;
    assert_eq!(service[0]["message"]["migrate_to_chat_id"], new_id);
    assert_eq!(service[1]["message"]["migrate_from_chat_id"], group);
}

#[actix_web::test]
async fn allowed_updates_is_remembered_and_chat_member_is_off_by_default() {
    let app = app().await;
    let bot = new_bot(&app, json!({})).await;
    let (id, _) = channel_with_bot(&app, &bot, None).await;
    let fan = user_id();
    member(&app, id, json!({"userId": fan, "status": "member"})).await;
    assert_eq!(
        ok(&app, &bot.token, "getUpdates", json!({})).await,
        json!([]),
        "chat_member is opt-in"
    );

    ok(
        &app,
        &bot.token,
        "getUpdates",
        json!({"allowed_updates": ["chat_member"]}),
    )
    .await;
    member(&app, id, json!({"userId": fan, "status": "left"})).await;
    post(&app, id, json!({"text": "not wanted"})).await;
    let got = ok(&app, &bot.token, "getUpdates", json!({})).await;
    assert_eq!(got.as_array().unwrap().len(), 1, "{got}");
    assert_eq!(got[0]["chat_member"]["new_chat_member"]["status"], "left");

    // An empty list restores the default set.
    let next = got[0]["update_id"].as_i64().unwrap() + 1;
    ok(
        &app,
        &bot.token,
        "getUpdates",
        json!({"offset": next, "allowed_updates": []}),
    )
    .await;
    post(&app, id, json!({"text": "wanted"})).await;
    assert_eq!(
        ok(&app, &bot.token, "getUpdates", json!({})).await[0]["channel_post"]["text"],
        "wanted"
    );
}
