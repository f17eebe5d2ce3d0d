//! The Bot API methods: `/bot<token>/<method>`, method names matched case-insensitively
//! (teloxide sends `GetMe`, curl users `getMe`). Errors carry Telegram's exact
//! descriptions, which is what clients match on; HTTP statuses follow Telegram's, and a
//! 5xx is only ever the `serverError` knob (teloxide sleeps 10 s on any 5xx).

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::params::{ChatKey, Params};
use super::poll;
use super::render;
use super::webhook;
use super::world::{BotRec, ChatRec, ChatType, MessageRec, Status, World, with_world};
use crate::state::now;

/// Telegram's limit on a text message, in characters.
const MAX_TEXT_CHARS: usize = 4096;

/// A refusal as Telegram words it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub description: String,
    pub parameters: Option<Value>,
}

impl ApiError {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
            parameters: None,
        }
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    pub fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, description)
    }

    pub fn conflict(description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, description)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    pub fn chat_not_found() -> Self {
        Self::bad_request("Bad Request: chat not found")
    }

    fn migrated(to: i64) -> Self {
        Self {
            parameters: Some(json!({"migrate_to_chat_id": to})),
            ..Self::bad_request("Bad Request: group chat was upgraded to a supergroup chat")
        }
    }

    fn retry_after(seconds: u32) -> Self {
        Self {
            parameters: Some(json!({"retry_after": seconds})),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too Many Requests: retry after {seconds}"),
            )
        }
    }

    pub fn render(&self) -> HttpResponse {
        let mut body = json!({
            "ok": false,
            "error_code": self.status.as_u16(),
            "description": self.description,
        });
        if let (Some(obj), Some(p)) = (body.as_object_mut(), &self.parameters) {
            obj.insert("parameters".into(), p.clone());
        }
        HttpResponse::build(self.status).json(body)
    }
}

/// A successful answer; a few methods add a human `description` beside the result.
pub(crate) struct Reply {
    pub result: Value,
    pub description: Option<&'static str>,
}

impl From<Value> for Reply {
    fn from(result: Value) -> Self {
        Self {
            result,
            description: None,
        }
    }
}

pub(crate) type ApiResult = Result<Reply, ApiError>;

/// `GET|POST /bot{token}/{method}`.
pub(crate) async fn call(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (token, method) = path.into_inner();
    match dispatch(&req, &token, &method.to_ascii_lowercase(), &body).await {
        Ok(reply) => {
            let mut out = json!({"ok": true, "result": reply.result});
            if let (Some(obj), Some(d)) = (out.as_object_mut(), reply.description) {
                obj.insert("description".into(), d.into());
            }
            HttpResponse::Ok().json(out)
        }
        Err(e) => e.render(),
    }
}

const METHODS: [&str; 14] = [
    "getme",
    "getupdates",
    "setwebhook",
    "deletewebhook",
    "getwebhookinfo",
    "getchat",
    "getchatmember",
    "getchatadministrators",
    "getchatmembercount",
    "getchatmemberscount",
    "sendmessage",
    "deletemessage",
    "getfile",
    "logout",
];

async fn dispatch(req: &HttpRequest, token: &str, method: &str, body: &[u8]) -> ApiResult {
    if !with_world(|w| w.bot(token).is_some()) {
        return Err(ApiError::unauthorized());
    }
    if !METHODS.contains(&method) {
        return Err(ApiError::not_found());
    }
    apply_faults(token, method)?;
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let p = Params::parse(req.query_string(), content_type, body)?;
    match method {
        "getupdates" => poll::get_updates(token, &p).await.map(Reply::from),
        "setwebhook" => {
            let reply = with_world(|w| webhook::set(w, token, &p))?;
            webhook::kick(token);
            Ok(reply)
        }
        "deletewebhook" => with_world(|w| webhook::delete(w, token, &p)),
        "getwebhookinfo" => with_world(|w| webhook::info(w, token)).map(Reply::from),
        _ => with_world(|w| sync_method(w, token, method, &p)).map(Reply::from),
    }
}

fn apply_faults(token: &str, method: &str) -> Result<(), ApiError> {
    with_world(|w| {
        let Some(bot) = w.bot_mut(token) else {
            return Err(ApiError::unauthorized());
        };
        let f = &mut bot.faults;
        let armed = f.retry_after.is_some() || f.server_error;
        if !armed || !(f.methods.is_empty() || f.methods.iter().any(|m| m == method)) {
            return Ok(());
        }
        let err = match f.retry_after {
            Some(seconds) => ApiError::retry_after(seconds),
            None => ApiError::new(StatusCode::BAD_GATEWAY, "Bad Gateway"),
        };
        if let Some(left) = f.times.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                *f = Default::default();
            }
        }
        Err(err)
    })
}

fn sync_method(w: &mut World, token: &str, method: &str, p: &Params) -> Result<Value, ApiError> {
    let Some(bot) = w.bot(token) else {
        return Err(ApiError::unauthorized());
    };
    let bot_id = bot.id;
    match method {
        "getme" => {
            let can_read_all = bot.can_read_all_group_messages;
            let me = w.users.get(&bot_id).ok_or_else(ApiError::unauthorized)?;
            Ok(render::me(me, can_read_all))
        }
        "getchat" => get_chat(w, bot, p),
        "getchatmember" => get_chat_member(w, bot, p),
        "getchatadministrators" => get_chat_administrators(w, bot, p),
        "getchatmembercount" | "getchatmemberscount" => get_chat_member_count(w, bot, p),
        "sendmessage" => send_message(w, token, p),
        "deletemessage" => delete_message(w, token, p),
        "getfile" => get_file(w, bot, p),
        // Moving the bot off the cloud server has no meaning here; Telegram answers true.
        "logout" => Ok(Value::Bool(true)),
        _ => Err(ApiError::not_found()),
    }
}

/// What a `chat_id` names for this bot.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Chat(i64),
    /// The private chat with this user (its id is the user's).
    Private(i64),
}

pub(crate) fn resolve(w: &World, bot: &BotRec, key: &ChatKey) -> Result<Target, ApiError> {
    let known_chat = |id: i64| -> Option<Result<Target, ApiError>> {
        let chat = w.chats.get(&id)?;
        Some(match chat.migrated_to {
            Some(to) => Err(ApiError::migrated(to)),
            None => Ok(Target::Chat(id)),
        })
    };
    let private = |id: i64| {
        (bot.dm_users.contains(&id) && w.users.contains_key(&id)).then_some(Target::Private(id))
    };
    match key {
        ChatKey::Id(id) => known_chat(*id)
            .or_else(|| private(*id).map(Ok))
            .unwrap_or_else(|| Err(ApiError::chat_not_found())),
        ChatKey::Username(name) => match w.usernames.get(name) {
            Some(super::world::Handle::Chat(id)) => {
                known_chat(*id).unwrap_or_else(|| Err(ApiError::chat_not_found()))
            }
            Some(super::world::Handle::User(id)) => {
                private(*id).ok_or_else(ApiError::chat_not_found)
            }
            None => Err(ApiError::chat_not_found()),
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// `getChat`: public chats are visible to every bot.
    See,
    /// Member lists and message management: the bot must be in the chat.
    Members,
    Post,
}

fn kind_word(kind: ChatType) -> &'static str {
    match kind {
        ChatType::Channel => "channel",
        ChatType::Supergroup => "supergroup",
        _ => "group",
    }
}

fn check(chat: &ChatRec, bot_id: i64, need: Need) -> Result<(), ApiError> {
    let me = chat.member(bot_id);
    let word = kind_word(chat.kind);
    let public = chat.username.is_some();
    match me.status {
        Status::Kicked if need == Need::See && public => Ok(()),
        Status::Kicked => Err(ApiError::forbidden(format!(
            "Forbidden: bot was kicked from the {word} chat"
        ))),
        s if s.is_present() => match need {
            Need::Post if chat.kind == ChatType::Channel && !me.can_post_messages => Err(
                ApiError::bad_request("Bad Request: need administrator rights in the channel chat"),
            ),
            Need::Post if s == Status::Restricted => Err(ApiError::bad_request(
                "Bad Request: not enough rights to send text messages to the chat",
            )),
            _ => Ok(()),
        },
        _ => match need {
            Need::See if public => Ok(()),
            Need::Members if public && chat.kind == ChatType::Channel => Err(
                ApiError::bad_request("Bad Request: member list is inaccessible"),
            ),
            Need::Members if public => Ok(()),
            Need::Post => Err(ApiError::forbidden(format!(
                "Forbidden: bot is not a member of the {word} chat"
            ))),
            _ => Err(ApiError::chat_not_found()),
        },
    }
}

fn chat_for<'w>(
    w: &'w World,
    bot: &BotRec,
    p: &Params,
    need: Need,
) -> Result<Result<&'w ChatRec, i64>, ApiError> {
    match resolve(w, bot, &p.chat("chat_id")?)? {
        Target::Chat(id) => {
            let chat = w.chats.get(&id).ok_or_else(ApiError::chat_not_found)?;
            check(chat, bot.id, need)?;
            Ok(Ok(chat))
        }
        Target::Private(user_id) => Ok(Err(user_id)),
    }
}

fn get_chat(w: &World, bot: &BotRec, p: &Params) -> Result<Value, ApiError> {
    match chat_for(w, bot, p, Need::See)? {
        Ok(chat) => Ok(render::chat_full(chat)),
        Err(user_id) => w
            .users
            .get(&user_id)
            .map(render::private_chat_full)
            .ok_or_else(ApiError::chat_not_found),
    }
}

fn user_param(w: &World, p: &Params) -> Result<i64, ApiError> {
    let id = p.required_int("user_id")?;
    if w.users.contains_key(&id) {
        Ok(id)
    } else {
        Err(ApiError::bad_request("Bad Request: user not found"))
    }
}

fn get_chat_member(w: &World, bot: &BotRec, p: &Params) -> Result<Value, ApiError> {
    let target = chat_for(w, bot, p, Need::Members)?;
    let user_id = user_param(w, p)?;
    let user = w
        .users
        .get(&user_id)
        .ok_or_else(|| ApiError::bad_request("Bad Request: user not found"))?;
    match target {
        Ok(chat) => Ok(render::member(user, &chat.member(user_id), chat.kind)),
        Err(other) => {
            let m = if user_id == other || user_id == bot.id {
                Status::Member
            } else {
                Status::Left
            };
            let rec = super::world::MemberRec {
                status: m,
                ..super::world::MemberRec::LEFT
            };
            Ok(render::member(user, &rec, ChatType::Private))
        }
    }
}

fn get_chat_administrators(w: &World, bot: &BotRec, p: &Params) -> Result<Value, ApiError> {
    let Ok(chat) = chat_for(w, bot, p, Need::Members)? else {
        return Err(ApiError::bad_request(
            "Bad Request: there are no administrators in the private chat",
        ));
    };
    // Telegram leaves other bots out of this list.
    let admins: Vec<Value> = chat
        .members
        .iter()
        .filter(|(id, m)| m.status.is_admin() && (**id == bot.id || !w.is_bot(**id)))
        .filter_map(|(id, m)| Some(render::member(w.users.get(id)?, m, chat.kind)))
        .collect();
    Ok(admins.into())
}

fn get_chat_member_count(w: &World, bot: &BotRec, p: &Params) -> Result<Value, ApiError> {
    match chat_for(w, bot, p, Need::Members)? {
        Ok(chat) => Ok(chat
            .members
            .values()
            .filter(|m| m.status.is_present())
            .count()
            .into()),
        Err(_) => Ok(2.into()),
    }
}

fn send_message(w: &mut World, token: &str, p: &Params) -> Result<Value, ApiError> {
    let bot = w.bot(token).ok_or_else(ApiError::unauthorized)?;
    let bot_id = bot.id;
    let key = p.chat("chat_id")?;
    let text = p.string("text").unwrap_or_default();
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("Bad Request: message text is empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::bad_request("Bad Request: message is too long"));
    }
    let target = match resolve(w, bot, &key) {
        Ok(t) => t,
        // A user who never wrote to the bot: Telegram's answer is a refusal, not 400.
        Err(_) if matches!(key, ChatKey::Id(id) if id > 0 && w.users.contains_key(&id)) => {
            return Err(ApiError::forbidden(
                "Forbidden: bot can't initiate conversation with a user",
            ));
        }
        Err(e) => return Err(e),
    };
    let date = now().timestamp();
    match target {
        Target::Chat(id) => {
            let chat = w.chats.get(&id).ok_or_else(ApiError::chat_not_found)?;
            check(chat, bot_id, Need::Post)?;
            let channel = chat.kind == ChatType::Channel;
            let chat = w.chats.get_mut(&id).ok_or_else(ApiError::chat_not_found)?;
            let msg = MessageRec {
                id: chat.take_message_id(),
                from_user_id: (!channel).then_some(bot_id),
                sent_by_bot: Some(bot_id),
                text,
                date,
                reply_to: None,
            };
            chat.messages.insert(msg.id, msg.clone());
            let chat = w.chats.get(&id).ok_or_else(ApiError::chat_not_found)?;
            Ok(render::message(
                w,
                &render::chat(chat),
                chat.kind,
                &msg,
                None,
            ))
        }
        Target::Private(user_id) => {
            let bot = w.bot_mut(token).ok_or_else(ApiError::unauthorized)?;
            let msg = MessageRec {
                id: bot.take_dm_message_id(user_id),
                from_user_id: Some(bot_id),
                sent_by_bot: Some(bot_id),
                text,
                date,
                reply_to: None,
            };
            bot.dm_messages.insert((user_id, msg.id), msg.clone());
            let user = w.users.get(&user_id).ok_or_else(ApiError::chat_not_found)?;
            Ok(render::message(
                w,
                &render::private_chat(user),
                ChatType::Private,
                &msg,
                None,
            ))
        }
    }
}

fn delete_message(w: &mut World, token: &str, p: &Params) -> Result<Value, ApiError> {
    let bot = w.bot(token).ok_or_else(ApiError::unauthorized)?;
    let bot_id = bot.id;
    let message_id = p.required_int("message_id")?;
    let not_found = || ApiError::bad_request("Bad Request: message to delete not found");
    match chat_for(w, bot, p, Need::Members)? {
        Ok(chat) => {
            let id = chat.id;
            if !chat.member(bot_id).status.is_present() {
                return Err(ApiError::bad_request(
                    "Bad Request: message can't be deleted",
                ));
            }
            let msg = chat.messages.get(&message_id).ok_or_else(not_found)?;
            let me = chat.member(bot_id);
            let own = msg.sent_by_bot == Some(bot_id);
            if !(own || me.status.is_admin() && me.can_delete_messages) {
                return Err(ApiError::bad_request(
                    "Bad Request: message can't be deleted",
                ));
            }
            if let Some(chat) = w.chats.get_mut(&id) {
                chat.messages.remove(&message_id);
            }
            Ok(Value::Bool(true))
        }
        Err(user_id) => {
            let bot = w.bot_mut(token).ok_or_else(ApiError::unauthorized)?;
            bot.dm_messages
                .remove(&(user_id, message_id))
                .map(|_| Value::Bool(true))
                .ok_or_else(not_found)
        }
    }
}

/// A chat photo, the only kind of file the sandbox holds.
pub(crate) const PHOTO_PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn get_file(w: &World, bot: &BotRec, p: &Params) -> Result<Value, ApiError> {
    let invalid = || ApiError::bad_request("Bad Request: invalid file_id");
    let file_id = p.string("file_id").ok_or_else(invalid)?;
    let (size, chat_id) = file_id
        .strip_prefix("sbx-chatphoto-")
        .and_then(|rest| rest.split_once('-'))
        .and_then(|(size, id)| Some((size, id.parse::<i64>().ok()?)))
        .filter(|(size, _)| matches!(*size, "small" | "big"))
        .ok_or_else(invalid)?;
    let chat = w
        .chats
        .get(&chat_id)
        .filter(|c| c.has_photo)
        .ok_or_else(invalid)?;
    check(chat, bot.id, Need::See).map_err(|_| invalid())?;
    Ok(json!({
        "file_id": file_id,
        "file_unique_id": format!("sbx-u-{size}-{chat_id}"),
        "file_size": photo_len(),
        "file_path": format!("profile_photos/{size}{chat_id}.png"),
    }))
}

fn photo_len() -> usize {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(PHOTO_PNG_BASE64)
        .map(|b| b.len())
        .unwrap_or(0)
}

/// `GET /file/bot{token}/{path}`: the bytes behind a `getFile` path.
pub(crate) async fn download(path: web::Path<(String, String)>) -> HttpResponse {
    use base64::Engine as _;
    let (token, file_path) = path.into_inner();
    let known = with_world(|w| w.bot(&token).is_some());
    let photo = file_path
        .strip_prefix("profile_photos/")
        .and_then(|f| f.strip_suffix(".png"))
        .is_some();
    match base64::engine::general_purpose::STANDARD.decode(PHOTO_PNG_BASE64) {
        Ok(bytes) if known && photo => HttpResponse::Ok().content_type("image/png").body(bytes),
        _ => ApiError::not_found().render(),
    }
}

/// Unknown paths under the fake answer as Telegram does.
pub(crate) async fn not_found() -> HttpResponse {
    ApiError::not_found().render()
}
