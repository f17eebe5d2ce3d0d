//! The scripted world: JSON endpoints that play what users do in the Telegram apps
//! (create a channel, add the bot as administrator, post a code, write to the bot) and
//! the fault knob. Documented in docs/sandbox/telegram.md.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::render;
use super::webhook;
use super::world::{
    BotFaults, ChatRec, ChatType, DEFAULT_BOT_TOKEN, Handle, MemberRec, MessageRec,
    SANDBOX_ADMIN_ID, Status, World, valid_username, with_world,
};
use crate::errors::json_response;
use crate::state::now;

/// An admin request refused: HTTP status and a sentence for the test author.
struct Refusal(StatusCode, String);

fn bad(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, message.into())
}

fn missing(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::NOT_FOUND, message.into())
}

fn respond(result: Result<Value, Refusal>) -> HttpResponse {
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(Refusal(status, message)) => json_response(status, &json!({"error": message})),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Refusal> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

/// Starts webhook delivery for the bots that got updates.
fn kick_all(tokens: Vec<String>) {
    for t in tokens {
        webhook::kick(&t);
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateBot {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    /// Privacy mode off.
    #[serde(default)]
    can_read_all_group_messages: bool,
}

fn bot_json(w: &World, token: &str) -> Value {
    let Some(bot) = w.bot(token) else {
        return Value::Null;
    };
    let user = w.users.get(&bot.id);
    json!({
        "id": bot.id,
        "token": bot.token,
        "username": user.and_then(|u| u.username.clone()),
        "firstName": user.map(|u| u.first_name.clone()),
        "canReadAllGroupMessages": bot.can_read_all_group_messages,
    })
}

/// `POST /_bots`: a new bot of its own, so a test sees only its own updates.
pub(crate) async fn create_bot(body: web::Bytes) -> HttpResponse {
    respond((|| {
        let req: CreateBot = parse(&body)?;
        with_world(|w| {
            let id = w
                .create_bot(
                    req.username,
                    req.first_name,
                    req.can_read_all_group_messages,
                )
                .map_err(bad)?;
            let token = w.bot_tokens.get(&id).cloned().unwrap_or_default();
            Ok(bot_json(w, &token))
        })
    })())
}

/// `GET /_bots/{token}`: the bot, its webhook and its pending updates (not consumed).
pub(crate) async fn show_bot(path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    respond(with_world(|w| {
        let mut v = bot_json(w, &token);
        let bot = w.bot(&token).ok_or_else(|| missing("no such bot token"))?;
        let webhook = bot.webhook.as_ref().map(|h| {
            json!({
                "url": h.url.as_str(),
                "secretToken": h.secret_token,
                "lastErrorMessage": h.last_error.as_ref().map(|(_, m)| m.clone()),
            })
        });
        if let Some(obj) = v.as_object_mut() {
            obj.insert("webhook".into(), webhook.unwrap_or(Value::Null));
            obj.insert("allowedUpdates".into(), json!(bot.allowed_updates));
            obj.insert(
                "pendingUpdates".into(),
                bot.queue.iter().map(|q| q.body.clone()).collect(),
            );
            // Private chats, as the users see them: what they wrote and what the bot
            // answered, in order.
            let mut dms: Vec<(i64, &MessageRec)> =
                bot.dm_messages.iter().map(|((u, _), m)| (*u, m)).collect();
            dms.sort_by_key(|(_, m)| (m.date, m.id));
            let dms: Vec<Value> = dms
                .iter()
                .map(|(user, m)| {
                    json!({
                        "userId": user,
                        "messageId": m.id,
                        "text": m.text,
                        "sentByBot": m.sent_by_bot.is_some(),
                    })
                })
                .collect();
            obj.insert("directMessages".into(), Value::Array(dms));
        }
        Ok(v)
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Dm {
    from_user_id: i64,
    text: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

/// `POST /_bots/{token}/dm`: a user writes to the bot in its private chat.
pub(crate) async fn dm(path: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let token = path.into_inner();
    let result = (|| {
        let req: Dm = parse(&body)?;
        if req.text.trim().is_empty() {
            return Err(bad("text must not be empty"));
        }
        with_world(|w| {
            let bot_id = w
                .bot(&token)
                .ok_or_else(|| missing("no such bot token"))?
                .id;
            if w.is_bot(req.from_user_id) {
                return Err(bad("bots cannot write to bots"));
            }
            w.upsert_user(
                req.from_user_id,
                req.first_name,
                req.last_name,
                req.username,
            )
            .map_err(bad)?;
            let bot = w
                .bot_mut(&token)
                .ok_or_else(|| missing("no such bot token"))?;
            bot.dm_users.insert(req.from_user_id);
            let msg = MessageRec {
                id: bot.take_dm_message_id(req.from_user_id),
                from_user_id: Some(req.from_user_id),
                sent_by_bot: None,
                text: req.text,
                date: now().timestamp(),
                reply_to: None,
            };
            bot.dm_messages
                .insert((req.from_user_id, msg.id), msg.clone());
            let user = w
                .users
                .get(&req.from_user_id)
                .ok_or_else(|| bad("unknown user"))?;
            let message = render::message(
                w,
                &render::private_chat(user),
                ChatType::Private,
                &msg,
                None,
            );
            let mut kick = Vec::new();
            let mut delivered = Vec::new();
            let bot = w
                .bot_mut(&token)
                .ok_or_else(|| missing("no such bot token"))?;
            if bot.wants("message") {
                delivered.push(bot_id);
                if bot.push("message", message.clone()) {
                    kick.push(token.clone());
                }
            }
            Ok((json!({"message": message, "deliveredTo": delivered}), kick))
        })
    })();
    respond(result.map(|(v, kick)| {
        kick_all(kick);
        v
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateChat {
    #[serde(rename = "type")]
    kind: ChatType,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Whether the chat has a photo (default true): `getChat.photo` and `getFile`.
    #[serde(default)]
    photo: Option<bool>,
    /// Private chats only: the user the chat is with.
    #[serde(default)]
    user_id: Option<i64>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
}

/// `POST /_chats`: a channel, group or supergroup (or a user, seen as a private chat).
pub(crate) async fn create_chat(body: web::Bytes) -> HttpResponse {
    respond((|| {
        let req: CreateChat = parse(&body)?;
        with_world(|w| create_chat_in(w, req))
    })())
}

fn create_chat_in(w: &mut World, req: CreateChat) -> Result<Value, Refusal> {
    if req.kind == ChatType::Private {
        let id = req
            .user_id
            .ok_or_else(|| bad("a private chat is a user: give userId"))?;
        if w.is_bot(id) {
            return Err(bad("a private chat is with a human user, not a bot"));
        }
        w.upsert_user(id, req.first_name, req.last_name, req.username)
            .map_err(bad)?;
        let user = w.users.get(&id).ok_or_else(|| bad("unknown user"))?;
        return Ok(render::private_chat_full(user));
    }
    if req.user_id.is_some() || req.first_name.is_some() || req.last_name.is_some() {
        return Err(bad("userId, firstName and lastName are for private chats"));
    }
    if let Some(name) = &req.username {
        if req.kind == ChatType::Group {
            return Err(bad(
                "basic groups have no username; create a supergroup for a public group",
            ));
        }
        if !valid_username(name) {
            return Err(bad(format!("username {name:?} is not a Telegram username")));
        }
        if w.usernames.contains_key(&name.to_ascii_lowercase()) {
            return Err(bad(format!("username {name:?} is taken")));
        }
    }
    let id = w.new_chat_id(req.kind);
    let title = req.title.unwrap_or_else(|| {
        let kind = req.kind.as_str();
        format!("Sandbox {kind} {}", id.unsigned_abs() % 1_000_000)
    });
    if let Some(name) = &req.username {
        w.usernames
            .insert(name.to_ascii_lowercase(), Handle::Chat(id));
    }
    let chat = ChatRec {
        id,
        kind: req.kind,
        title,
        username: req.username,
        description: req.description,
        has_photo: req.photo.unwrap_or(true),
        members: Default::default(),
        messages: Default::default(),
        next_message_id: 1,
        migrated_to: None,
    };
    let v = render::chat_full(&chat);
    w.chats.insert(id, chat);
    Ok(v)
}

fn chat_id(raw: &str) -> Result<i64, Refusal> {
    raw.parse()
        .map_err(|_| bad(format!("{raw:?} is not a chat id")))
}

/// A chat that takes members and messages: known, not upgraded, not private.
fn live_chat(w: &World, id: i64) -> Result<&ChatRec, Refusal> {
    let chat = w
        .chats
        .get(&id)
        .ok_or_else(|| missing(format!("no chat {id} (create it with POST _chats)")))?;
    if let Some(to) = chat.migrated_to {
        return Err(bad(format!("chat {id} was upgraded to supergroup {to}")));
    }
    Ok(chat)
}

/// `GET /_chats/{id}`: the chat with its members and its messages (deleted ones gone).
pub(crate) async fn show_chat(path: web::Path<String>) -> HttpResponse {
    respond((|| {
        let id = chat_id(&path)?;
        with_world(|w| {
            let chat = w
                .chats
                .get(&id)
                .ok_or_else(|| missing(format!("no chat {id}")))?;
            let members: Vec<Value> = chat
                .members
                .iter()
                .filter_map(|(uid, m)| Some(render::member(w.users.get(uid)?, m, chat.kind)))
                .collect();
            let messages: Vec<Value> = chat
                .messages
                .values()
                .map(|m| {
                    json!({
                        "messageId": m.id,
                        "text": m.text,
                        "fromUserId": m.from_user_id,
                        "sentByBot": m.sent_by_bot,
                        "replyToMessageId": m.reply_to,
                    })
                })
                .collect();
            Ok(json!({
                "chat": render::chat_full(chat),
                "members": members,
                "messages": messages,
                "migratedTo": chat.migrated_to,
            }))
        })
    })())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetMember {
    user_id: i64,
    status: Status,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    username: Option<String>,
    /// Administrators only (default true); channels report it, groups do not.
    #[serde(default)]
    can_post_messages: Option<bool>,
    #[serde(default)]
    can_delete_messages: Option<bool>,
    /// Who made the change (`from` of the update); default the creator.
    #[serde(default)]
    by_user_id: Option<i64>,
}

/// `POST /_chats/{id}/members`: adds, promotes, restricts or removes someone. A bot whose
/// membership changes gets `my_chat_member`; administrator bots that asked for
/// `chat_member` hear about other members.
pub(crate) async fn set_member(path: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let result = (|| {
        let id = chat_id(&path)?;
        let req: SetMember = parse(&body)?;
        with_world(|w| set_member_in(w, id, req))
    })();
    respond(result.map(|(v, kick)| {
        kick_all(kick);
        v
    }))
}

fn set_member_in(
    w: &mut World,
    chat_id: i64,
    req: SetMember,
) -> Result<(Value, Vec<String>), Refusal> {
    let chat = live_chat(w, chat_id)?;
    if chat.kind == ChatType::Private {
        return Err(bad("private chats have no members to change"));
    }
    let kind = chat.kind;
    let is_bot = w.is_bot(req.user_id);
    if is_bot {
        if req.status == Status::Creator {
            return Err(bad("a bot cannot own a chat"));
        }
        if kind == ChatType::Channel && matches!(req.status, Status::Member | Status::Restricted) {
            return Err(bad(
                "a bot joins a channel only as an administrator (status administrator)",
            ));
        }
    }
    if req.status == Status::Creator
        && let Some(owner) = chat.creator().filter(|o| *o != req.user_id)
    {
        return Err(bad(format!("chat {chat_id} already has creator {owner}")));
    }
    let by = match req.by_user_id {
        Some(by) if w.users.contains_key(&by) => by,
        Some(by) => return Err(bad(format!("byUserId {by} is not a known user"))),
        None => chat
            .creator()
            .filter(|c| *c != req.user_id)
            .unwrap_or(SANDBOX_ADMIN_ID),
    };
    let old = chat.member(req.user_id);
    w.upsert_user(req.user_id, req.first_name, req.last_name, req.username)
        .map_err(bad)?;
    let admin = req.status == Status::Administrator;
    let new = MemberRec {
        status: req.status,
        can_post_messages: admin && req.can_post_messages.unwrap_or(true),
        can_delete_messages: admin && req.can_delete_messages.unwrap_or(true),
    };
    let chat = w
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| missing("chat vanished"))?;
    chat.members.insert(req.user_id, new);
    let chat = w
        .chats
        .get(&chat_id)
        .ok_or_else(|| missing("chat vanished"))?;
    let user = w
        .users
        .get(&req.user_id)
        .ok_or_else(|| bad("unknown user"))?;
    let member = render::member(user, &new, kind);
    let from = w.users.get(&by).map(render::user).unwrap_or(Value::Null);
    let update = json!({
        "chat": render::chat(chat),
        "from": from,
        "date": now().timestamp(),
        "old_chat_member": render::member(user, &old, kind),
        "new_chat_member": member,
    });
    let admin_bots: Vec<i64> = chat
        .members
        .iter()
        .filter(|(uid, m)| m.status == Status::Administrator && w.is_bot(**uid))
        .map(|(uid, _)| *uid)
        .collect();
    let mut notified = Vec::new();
    let mut kick = Vec::new();
    if old != new {
        let targets: Vec<(i64, &'static str)> = if is_bot {
            vec![(req.user_id, "my_chat_member")]
        } else {
            admin_bots.into_iter().map(|b| (b, "chat_member")).collect()
        };
        for (bot_id, update_kind) in targets {
            let wants = w
                .bot_by_id_mut(bot_id)
                .is_some_and(|b| b.wants(update_kind));
            if wants {
                notified.push(bot_id);
                kick.extend(w.push_to(bot_id, update_kind, update.clone()));
            }
        }
    }
    Ok((json!({"member": member, "notified": notified}), kick))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PostMessage {
    #[serde(default)]
    from_user_id: Option<i64>,
    text: String,
    #[serde(default)]
    reply_to_message_id: Option<i64>,
}

/// `POST /_chats/{id}/messages`: a post in a channel (`channel_post`, from the channel) or
/// a user's message in a group (`message`), delivered to the bots that may see it.
pub(crate) async fn post_message(path: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let result = (|| {
        let id = chat_id(&path)?;
        let req: PostMessage = parse(&body)?;
        with_world(|w| post_in(w, id, req))
    })();
    respond(result.map(|(v, kick)| {
        kick_all(kick);
        v
    }))
}

fn post_in(w: &mut World, chat_id: i64, req: PostMessage) -> Result<(Value, Vec<String>), Refusal> {
    let chat = live_chat(w, chat_id)?;
    if req.text.trim().is_empty() {
        return Err(bad("text must not be empty"));
    }
    let kind = chat.kind;
    match (kind, req.from_user_id) {
        (ChatType::Private, _) => {
            return Err(bad(
                "a private chat message goes to one bot: POST _bots/{token}/dm",
            ));
        }
        (_, Some(uid)) if w.is_bot(uid) => {
            return Err(bad("bots post through the Bot API (sendMessage)"));
        }
        (ChatType::Channel, Some(uid)) if !chat.member(uid).status.is_admin() => {
            return Err(bad(format!(
                "user {uid} is not an administrator of channel {chat_id} and cannot post"
            )));
        }
        (ChatType::Channel, _) => {}
        (_, None) => return Err(bad("fromUserId is required in groups")),
        (_, Some(uid)) => match chat.member(uid).status {
            Status::Restricted => {
                return Err(bad(format!("user {uid} is restricted in chat {chat_id}")));
            }
            s if !s.is_present() => {
                return Err(bad(format!(
                    "user {uid} is not a member of chat {chat_id}; add them with POST _chats/{chat_id}/members"
                )));
            }
            _ => {}
        },
    }
    let reply = match req.reply_to_message_id {
        Some(r) => Some(
            chat.messages
                .get(&r)
                .cloned()
                .ok_or_else(|| bad(format!("no message {r} in chat {chat_id}")))?,
        ),
        None => None,
    };
    let chat = w
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| missing("chat vanished"))?;
    let msg = MessageRec {
        id: chat.take_message_id(),
        // Channel posts are the channel's, not their author's.
        from_user_id: if kind == ChatType::Channel {
            None
        } else {
            req.from_user_id
        },
        sent_by_bot: None,
        text: req.text,
        date: now().timestamp(),
        reply_to: reply.as_ref().map(|r| r.id),
    };
    chat.messages.insert(msg.id, msg.clone());
    let chat = w
        .chats
        .get(&chat_id)
        .ok_or_else(|| missing("chat vanished"))?;
    let message = render::message(w, &render::chat(chat), kind, &msg, reply.as_ref());
    let addressing = render::addressing(&msg.text);
    let update_kind = if kind == ChatType::Channel {
        "channel_post"
    } else {
        "message"
    };
    let recipients: Vec<i64> = chat
        .members
        .iter()
        .filter(|(uid, m)| m.status.is_present() && w.is_bot(**uid))
        .filter(|(uid, m)| {
            if kind == ChatType::Channel {
                return m.status == Status::Administrator;
            }
            sees_group_message(w, **uid, m, &addressing, reply.as_ref())
        })
        .map(|(uid, _)| *uid)
        .collect();
    let mut delivered = Vec::new();
    let mut kick = Vec::new();
    for bot_id in recipients {
        if w.bot_by_id_mut(bot_id)
            .is_some_and(|b| b.wants(update_kind))
        {
            delivered.push(bot_id);
            kick.extend(w.push_to(bot_id, update_kind, message.clone()));
        }
    }
    Ok((json!({"message": message, "deliveredTo": delivered}), kick))
}

/// Privacy mode (<https://core.telegram.org/bots/features#privacy-mode>): a bot that is
/// not an administrator and has not turned privacy off sees commands (not those naming
/// another bot), mentions of itself and replies to its own messages.
fn sees_group_message(
    w: &World,
    bot_id: i64,
    m: &MemberRec,
    addressing: &render::Addressing,
    reply: Option<&MessageRec>,
) -> bool {
    let Some(token) = w.bot_tokens.get(&bot_id) else {
        return false;
    };
    let Some(bot) = w.bot(token) else {
        return false;
    };
    if m.status.is_admin() || bot.can_read_all_group_messages {
        return true;
    }
    let name = w
        .users
        .get(&bot_id)
        .and_then(|u| u.username.as_deref())
        .unwrap_or("")
        .to_ascii_lowercase();
    let command = match &addressing.command {
        Some(None) => true,
        Some(Some(target)) => *target == name,
        None => false,
    };
    command
        || addressing.mentions.contains(&name)
        || reply.is_some_and(|r| r.sent_by_bot == Some(bot_id))
}

/// `POST /_chats/{id}/migrate`: a basic group becomes a supergroup with a new id; the
/// old id then answers 400 with `migrate_to_chat_id`.
pub(crate) async fn migrate(path: web::Path<String>) -> HttpResponse {
    let result = (|| {
        let id = chat_id(&path)?;
        with_world(|w| migrate_in(w, id))
    })();
    respond(result.map(|(v, kick)| {
        kick_all(kick);
        v
    }))
}

fn migrate_in(w: &mut World, old_id: i64) -> Result<(Value, Vec<String>), Refusal> {
    let chat = live_chat(w, old_id)?;
    if chat.kind != ChatType::Group {
        return Err(bad("only a basic group (type group) can be upgraded"));
    }
    let actor = chat.creator().unwrap_or(SANDBOX_ADMIN_ID);
    let mut upgraded = chat.clone();
    let new_id = w.new_chat_id(ChatType::Supergroup);
    upgraded.id = new_id;
    upgraded.kind = ChatType::Supergroup;
    upgraded.messages.clear();
    upgraded.next_message_id = 1;
    let bots: Vec<i64> = upgraded
        .members
        .iter()
        .filter(|(uid, m)| m.status.is_present() && w.is_bot(**uid))
        .map(|(uid, _)| *uid)
        .collect();
    let old = w
        .chats
        .get_mut(&old_id)
        .ok_or_else(|| missing("chat vanished"))?;
    old.migrated_to = Some(new_id);
    let old_msg_id = old.take_message_id();
    let from = w.users.get(&actor).map(render::user).unwrap_or(Value::Null);
    let date = now().timestamp();
    // Service messages reach every bot in the group, privacy mode or not.
    let old_json = w.chats.get(&old_id).map(render::chat).unwrap_or_default();
    let new_json = render::chat(&upgraded);
    let to_msg = json!({"message_id": old_msg_id, "from": from, "chat": old_json, "date": date, "migrate_to_chat_id": new_id});
    let from_msg = json!({"message_id": 1, "from": from, "chat": new_json, "date": date, "migrate_from_chat_id": old_id});
    upgraded.next_message_id = 2;
    let full = render::chat_full(&upgraded);
    w.chats.insert(new_id, upgraded);
    let mut kick = Vec::new();
    for bot in bots {
        kick.extend(w.push_to(bot, "message", to_msg.clone()));
        kick.extend(w.push_to(bot, "message", from_msg.clone()));
    }
    kick.dedup();
    Ok((full, kick))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultsRequest {
    /// The bot whose calls fail; default the sandbox's default bot.
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    retry_after: Option<u32>,
    #[serde(default)]
    server_error: bool,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    times: Option<u32>,
}

/// `POST /_faults`: replaces one bot's knob; a body with only `token` clears it.
pub(crate) async fn set_faults(body: web::Bytes) -> HttpResponse {
    respond((|| {
        let req: FaultsRequest = parse(&body)?;
        if req.times == Some(0) {
            return Err(bad("times must be at least 1 (leave it out for no limit)"));
        }
        if req.retry_after.is_some() && req.server_error {
            return Err(bad("choose retryAfter or serverError, not both"));
        }
        let token = req.token.unwrap_or_else(|| DEFAULT_BOT_TOKEN.to_owned());
        let faults = BotFaults {
            retry_after: req.retry_after,
            server_error: req.server_error,
            methods: req.methods.iter().map(|m| m.to_ascii_lowercase()).collect(),
            times: req.times,
        };
        with_world(|w| {
            let bot = w
                .bot_mut(&token)
                .ok_or_else(|| missing("no such bot token"))?;
            let armed = faults.retry_after.is_some() || faults.server_error;
            bot.faults = if armed { faults } else { BotFaults::default() };
            Ok(json!({"faults": bot.faults}))
        })
    })())
}
