//! Bot API objects in Telegram's JSON shapes, with every field teloxide 0.17 requires
//! (shared/telegram-bot-api.md, "Fields teloxide insists on").

use serde_json::{Map, Value, json};

use super::world::{ChatRec, ChatType, MemberRec, MessageRec, Status, UserRec, World};

pub(crate) fn user(u: &UserRec) -> Value {
    let mut v = json!({"id": u.id, "is_bot": u.is_bot, "first_name": u.first_name});
    put(&mut v, "last_name", u.last_name.as_deref());
    put(&mut v, "username", u.username.as_deref());
    v
}

/// The bot's own `User` with the `getMe` extras.
pub(crate) fn me(u: &UserRec, can_read_all_group_messages: bool) -> Value {
    let mut v = user(u);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("can_join_groups".into(), true.into());
        obj.insert(
            "can_read_all_group_messages".into(),
            can_read_all_group_messages.into(),
        );
        obj.insert("supports_inline_queries".into(), false.into());
        obj.insert("can_connect_to_business".into(), false.into());
        obj.insert("has_main_web_app".into(), false.into());
    }
    v
}

/// The short `Chat` object carried by messages and updates.
pub(crate) fn chat(c: &ChatRec) -> Value {
    let mut v = json!({"id": c.id, "title": c.title, "type": c.kind.as_str()});
    put(&mut v, "username", c.username.as_deref());
    v
}

/// A private chat is the user, seen as a chat (its id is the user's).
pub(crate) fn private_chat(u: &UserRec) -> Value {
    let mut v = json!({"id": u.id, "first_name": u.first_name, "type": "private"});
    put(&mut v, "last_name", u.last_name.as_deref());
    put(&mut v, "username", u.username.as_deref());
    v
}

fn full_extras(v: &mut Value) {
    if let Some(obj) = v.as_object_mut() {
        obj.insert("accent_color_id".into(), 0.into());
        obj.insert("max_reaction_count".into(), 11.into());
        obj.insert(
            "accepted_gift_types".into(),
            json!({"unlimited_gifts": false, "limited_gifts": false, "unique_gifts": false, "premium_subscription": false}),
        );
    }
}

/// `getChat`'s `ChatFullInfo`.
pub(crate) fn chat_full(c: &ChatRec) -> Value {
    let mut v = chat(c);
    put(&mut v, "description", c.description.as_deref());
    if c.has_photo
        && let Some(obj) = v.as_object_mut()
    {
        obj.insert("photo".into(), photo(c.id));
    }
    full_extras(&mut v);
    v
}

pub(crate) fn private_chat_full(u: &UserRec) -> Value {
    let mut v = private_chat(u);
    full_extras(&mut v);
    v
}

/// File ids of a chat's photo encode the chat, so `getFile` needs no table of files.
pub(crate) fn photo_file_id(chat_id: i64, size: &str) -> String {
    format!("sbx-chatphoto-{size}-{chat_id}")
}

fn photo(chat_id: i64) -> Value {
    json!({
        "small_file_id": photo_file_id(chat_id, "small"),
        "small_file_unique_id": format!("sbx-u-small-{chat_id}"),
        "big_file_id": photo_file_id(chat_id, "big"),
        "big_file_unique_id": format!("sbx-u-big-{chat_id}"),
    })
}

/// A `ChatMember`; which rights appear depends on the chat, as on Telegram.
pub(crate) fn member(u: &UserRec, m: &MemberRec, kind: ChatType) -> Value {
    let mut v = json!({"user": user(u), "status": status_str(m.status)});
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    let mut set = |k: &str, val: Value| {
        obj.insert(k.to_owned(), val);
    };
    match m.status {
        Status::Creator => set("is_anonymous", false.into()),
        Status::Administrator => {
            for (k, val) in [
                ("can_be_edited", false),
                ("is_anonymous", false),
                ("can_manage_chat", true),
                ("can_change_info", true),
                ("can_delete_messages", m.can_delete_messages),
                ("can_manage_video_chats", true),
                ("can_invite_users", true),
                ("can_restrict_members", true),
                ("can_promote_members", false),
                ("can_post_stories", true),
                ("can_edit_stories", true),
                ("can_delete_stories", true),
            ] {
                set(k, val.into());
            }
            match kind {
                ChatType::Channel => {
                    set("can_post_messages", m.can_post_messages.into());
                    set("can_edit_messages", m.can_post_messages.into());
                }
                _ => {
                    set("can_pin_messages", true.into());
                    if kind == ChatType::Supergroup {
                        set("can_manage_topics", false.into());
                    }
                }
            }
        }
        Status::Member | Status::Left => {}
        Status::Restricted => {
            set("until_date", 0.into());
            set("is_member", true.into());
            for k in [
                "can_send_messages",
                "can_send_audios",
                "can_send_documents",
                "can_send_photos",
                "can_send_videos",
                "can_send_video_notes",
                "can_send_voice_notes",
                "can_send_other_messages",
                "can_add_web_page_previews",
                "can_change_info",
                "can_invite_users",
                "can_pin_messages",
                "can_manage_topics",
                "can_send_polls",
            ] {
                set(k, false.into());
            }
        }
        // 0: banned for ever.
        Status::Kicked => set("until_date", 0.into()),
    }
    v
}

pub(crate) fn status_str(s: Status) -> &'static str {
    match s {
        Status::Creator => "creator",
        Status::Administrator => "administrator",
        Status::Member => "member",
        Status::Restricted => "restricted",
        Status::Left => "left",
        Status::Kicked => "kicked",
    }
}

/// A text `Message`. In a channel it comes from the channel itself (`sender_chat`, no
/// `from`); elsewhere from its user or bot.
pub(crate) fn message(
    w: &World,
    chat_json: &Value,
    kind: ChatType,
    m: &MessageRec,
    reply: Option<&MessageRec>,
) -> Value {
    let mut obj = Map::new();
    obj.insert("message_id".into(), m.id.into());
    if kind == ChatType::Channel {
        obj.insert("sender_chat".into(), chat_json.clone());
    } else if let Some(u) = m.from_user_id.and_then(|id| w.users.get(&id)) {
        obj.insert("from".into(), user(u));
    }
    obj.insert("chat".into(), chat_json.clone());
    obj.insert("date".into(), m.date.into());
    if let Some(r) = reply {
        obj.insert(
            "reply_to_message".into(),
            message(w, chat_json, kind, r, None),
        );
    }
    obj.insert("text".into(), m.text.clone().into());
    let entities = entities(&m.text);
    if !entities.is_empty() {
        obj.insert("entities".into(), entities.into());
    }
    Value::Object(obj)
}

/// What a command or a mention in a text addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Addressing {
    /// A leading `/command`, with the bot it names after `@` if any (lower-cased).
    pub command: Option<Option<String>>,
    /// `@username` mentions, lower-cased, without the `@`.
    pub mentions: Vec<String>,
}

pub(crate) fn addressing(text: &str) -> Addressing {
    let mut command = None;
    if let Some(rest) = text.strip_prefix('/') {
        let word: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
        let target = word
            .split_once('@')
            .map(|(_, bot)| bot.to_ascii_lowercase());
        command = Some(target);
    }
    let mentions = scan(text)
        .into_iter()
        .filter(|t| t.kind == "mention")
        .map(|t| t.text[1..].to_ascii_lowercase())
        .collect();
    Addressing { command, mentions }
}

struct Token<'a> {
    kind: &'static str,
    text: &'a str,
    /// In UTF-16 code units, as Telegram counts entity offsets.
    offset: usize,
    length: usize,
}

fn scan(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut utf16 = 0;
    let mut prev: Option<char> = None;
    let mut iter = text.char_indices().peekable();
    while let Some((at, c)) = iter.next() {
        let starts_word = prev.is_none_or(|p| !(p.is_alphanumeric() || p == '_'));
        let is_command = c == '/' && at == 0;
        if (c == '@' || is_command) && starts_word {
            let body_start = at + c.len_utf8();
            let body_len: usize = text[body_start..]
                .chars()
                .take_while(|ch| {
                    ch.is_ascii_alphanumeric() || *ch == '_' || (is_command && *ch == '@')
                })
                .map(char::len_utf8)
                .sum();
            if body_len > 0 {
                let token = &text[at..body_start + body_len];
                out.push(Token {
                    kind: if is_command { "bot_command" } else { "mention" },
                    text: token,
                    offset: utf16,
                    length: token.encode_utf16().count(),
                });
                // The token is ASCII after its first character: skip it whole.
                utf16 += token.encode_utf16().count();
                prev = token.chars().last();
                while iter.peek().is_some_and(|(i, _)| *i < body_start + body_len) {
                    iter.next();
                }
                continue;
            }
        }
        utf16 += c.len_utf16();
        prev = Some(c);
    }
    out
}

fn entities(text: &str) -> Vec<Value> {
    scan(text)
        .into_iter()
        .map(|t| json!({"offset": t.offset, "length": t.length, "type": t.kind}))
        .collect()
}

fn put(v: &mut Value, key: &str, val: Option<&str>) {
    if let (Some(obj), Some(val)) = (v.as_object_mut(), val) {
        obj.insert(key.to_owned(), val.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_count_utf16_and_find_commands_and_mentions() {
        assert_eq!(
            entities("/connect@plug_bot PB-1 é😀 @chan, mail@x"),
            vec![
                json!({"offset": 0, "length": 17, "type": "bot_command"}),
                json!({"offset": 27, "length": 5, "type": "mention"}),
            ]
        );
        let a = addressing("/start hi @Some_Bot");
        assert_eq!(a.command, Some(None));
        assert_eq!(a.mentions, vec!["some_bot".to_owned()]);
        assert_eq!(
            addressing("/go@Other_bot").command,
            Some(Some("other_bot".into()))
        );
        assert_eq!(addressing("PB-1").command, None);
    }
}
