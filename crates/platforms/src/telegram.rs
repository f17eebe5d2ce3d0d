//! Telegram: a bot linked to a channel or group, not an OAuth login (platforms.md §14).
//!
//! [`TelegramBot`] is the Bot API client the linking flow needs — identity, chat lookup,
//! membership checks, posting, and receiving updates by long polling or webhook — on
//! teloxide 0.17's client (`teloxide-core`), behind Plugboard's own types so teloxide
//! never reaches the service. Requests go to `{api_url}/bot<token>/<Method>`; the sandbox
//! serves the same paths under `<server>/sandbox/telegram`.
//!
//! The token is the bot's whole credential: it is kept in a [`Secret`], never shown by
//! `Debug`, and scrubbed from every error text, because teloxide's transport errors carry
//! the request URL and its own redaction only recognises `api.telegram.org`-shaped paths.

use std::fmt;

use chrono::{DateTime, Utc};
use plugboard_core::Secret;
use serde::{Deserialize, Serialize};
use teloxide_core::ApiError;
use teloxide_core::RequestError;
use teloxide_core::prelude::*;
use teloxide_core::types::{
    AllowedUpdate, Chat, ChatFullInfo, ChatMemberKind, MessageId, Recipient, Update,
    UpdateKind as TgUpdateKind,
};
use url::Url;

use crate::connector::ConnectorError;
use crate::spec::SpecError;

/// The real Bot API.
pub const TELEGRAM_API_URL: &str = "https://api.telegram.org";

/// The longest long poll [`TelegramBot::updates`] asks for: teloxide's HTTP client gives
/// up after 17 s, so a longer hold would always end as a timeout.
pub const MAX_POLL_SECONDS: u32 = 15;

/// The updates the linking flow reads. Named on every `getUpdates` and `setWebhook` call
/// because Telegram remembers the last list given, whoever gave it.
const WANTED_UPDATES: [AllowedUpdate; 3] = [
    AllowedUpdate::Message,
    AllowedUpdate::ChannelPost,
    AllowedUpdate::MyChatMember,
];

/// Who the bot is (`getMe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotIdentity {
    pub id: i64,
    pub username: String,
    pub first_name: String,
}

/// How a user names a chat: its numeric id (`-100…` for channels and supergroups) or the
/// `@username` of a public one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChatRef {
    Id(i64),
    /// Without the `@`.
    Username(String),
}

impl ChatRef {
    /// `"@name"` → `Username("name")`; `"-1001234567890"` or `"123"` → `Id`. Surrounding
    /// spaces are ignored; anything else (a bare name, a link) is `None`.
    pub fn parse(raw: &str) -> Option<ChatRef> {
        let raw = raw.trim();
        if let Some(name) = raw.strip_prefix('@') {
            // Telegram usernames: letters, digits and underscores, at most 32.
            let valid = (1..=32).contains(&name.len())
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return valid.then(|| ChatRef::Username(name.to_owned()));
        }
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        raw.parse().ok().filter(|id| *id != 0).map(ChatRef::Id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    Channel,
    Group,
    Supergroup,
    Private,
}

/// A chat as the flow shows and stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatInfo {
    pub id: i64,
    pub kind: ChatKind,
    /// The title; for a private chat, the user's name.
    pub title: Option<String>,
    /// Without the `@`; private channels and basic groups have none.
    pub username: Option<String>,
    /// The big chat photo, for `getFile` (only `getChat` reports it).
    pub photo_file_id: Option<String>,
}

/// A user's or the bot's standing in a chat (`getChatMember`, `my_chat_member`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    tag = "status",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum MemberStatus {
    Creator,
    /// `can_post_messages`: whether it may post there. Telegram reports the right for
    /// channels only; a group administrator can always post, so it is `true` in groups.
    Administrator {
        can_post_messages: bool,
    },
    Member,
    /// In the chat with restrictions.
    Restricted,
    /// Not in the chat (never joined, left, or restricted after leaving).
    Left,
    /// Banned.
    Kicked,
}

impl MemberStatus {
    fn from_kind(kind: &ChatMemberKind, chat: Option<ChatKind>) -> Self {
        match kind {
            ChatMemberKind::Owner(_) => MemberStatus::Creator,
            ChatMemberKind::Administrator(a) => MemberStatus::Administrator {
                can_post_messages: a.can_post_messages
                    || chat.is_some_and(|k| k != ChatKind::Channel),
            },
            ChatMemberKind::Member(_) => MemberStatus::Member,
            ChatMemberKind::Restricted(r) if r.is_member => MemberStatus::Restricted,
            ChatMemberKind::Restricted(_) | ChatMemberKind::Left => MemberStatus::Left,
            ChatMemberKind::Banned(_) => MemberStatus::Kicked,
        }
    }
}

/// One update, from `getUpdates` or a webhook POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotUpdate {
    /// Confirm it (and all before it) with `offset = update_id + 1`.
    pub update_id: i64,
    pub kind: UpdateKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateKind {
    /// A message in any chat, or a channel post (`from_user_id` None, `sender_chat_id` =
    /// the channel). `text` is the text or, for media, the caption.
    Message {
        chat: ChatInfo,
        from_user_id: Option<i64>,
        sender_chat_id: Option<i64>,
        message_id: i64,
        text: String,
    },
    /// The bot's own membership changed in a chat (added, promoted, removed).
    BotMembership {
        chat: ChatInfo,
        status: MemberStatus,
        by_user_id: Option<i64>,
    },
    /// Anything else: edits, service messages, messages without text, kinds teloxide does
    /// not know.
    Other,
}

/// `getWebhookInfo`, reduced to what a service checks at start and in health probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookStatus {
    /// `None`: no webhook, updates are read with [`TelegramBot::updates`].
    pub url: Option<Url>,
    pub pending_update_count: u32,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error_message: Option<String>,
}

/// A Bot API client for one bot.
#[derive(Clone)]
pub struct TelegramBot {
    bot: Bot,
    token: Secret<String>,
}

impl fmt::Debug for TelegramBot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramBot")
            .field("api_url", &self.bot.api_url().as_str())
            .field("token", &self.token)
            .finish()
    }
}

impl TelegramBot {
    /// `api_url`: where the Bot API is served (`None` = Telegram), e.g. the sandbox's
    /// `http://127.0.0.1:8080/sandbox/telegram/`; a trailing `/` is optional.
    pub fn new(token: Secret<String>, api_url: Option<Url>) -> Result<Self, ConnectorError> {
        if !well_formed_token(token.expose()) {
            return Err(ConnectorError::InvalidClient {
                description: "the Telegram bot token is malformed (expected <bot id>:<secret>)"
                    .to_owned(),
            });
        }
        let api_url = match api_url {
            Some(url) => base_url(url)?,
            None => Url::parse(TELEGRAM_API_URL).map_err(|e| SpecError::InvalidUrl {
                url: TELEGRAM_API_URL.to_owned(),
                reason: e.to_string(),
            })?,
        };
        // teloxide's own constructor panics when the client cannot be built and reads a
        // proxy from TELOXIDE_PROXY; its settings (5 s connect, 17 s total) are kept.
        let client = teloxide_core::net::default_reqwest_settings()
            .build()
            .map_err(|e| ConnectorError::Transport(format!("cannot build an HTTP client: {e}")))?;
        let bot = Bot::with_client(token.expose().clone(), client).set_api_url(api_url);
        Ok(Self { bot, token })
    }

    /// `getMe`.
    pub async fn me(&self) -> Result<BotIdentity, ConnectorError> {
        let me = self.bot.get_me().await.map_err(|e| self.error(e))?;
        let username = me.user.username.clone().ok_or_else(|| {
            ConnectorError::Malformed("getMe answered a bot without a username".to_owned())
        })?;
        Ok(BotIdentity {
            id: user_id(&me.user).ok_or_else(|| {
                ConnectorError::Malformed("getMe answered an id out of range".to_owned())
            })?,
            username,
            first_name: me.user.first_name.clone(),
        })
    }

    /// `getChat`: a chat by id, or a public one by username.
    pub async fn chat(&self, chat: &ChatRef) -> Result<ChatInfo, ConnectorError> {
        let full = self
            .bot
            .get_chat(recipient(chat))
            .await
            .map_err(|e| self.error(e))?;
        Ok(ChatInfo::from_full(&full))
    }

    /// `getChatMember`. For an administrator without a reported posting right this also
    /// asks `getChat`, to tell a channel (where the right means something) from a group.
    pub async fn member(&self, chat_id: i64, user_id: i64) -> Result<MemberStatus, ConnectorError> {
        let user = u64::try_from(user_id).map_err(|_| user_not_found())?;
        let member = self
            .bot
            .get_chat_member(ChatId(chat_id), UserId(user))
            .await
            .map_err(|e| self.error(e))?;
        let status = MemberStatus::from_kind(&member.kind, None);
        if status
            == (MemberStatus::Administrator {
                can_post_messages: false,
            })
        {
            let chat = self.chat(&ChatRef::Id(chat_id)).await?;
            return Ok(MemberStatus::from_kind(&member.kind, Some(chat.kind)));
        }
        Ok(status)
    }

    /// `sendMessage` (plain text); the new message's id.
    pub async fn send_message(&self, chat_id: i64, text: &str) -> Result<i64, ConnectorError> {
        let msg = self
            .bot
            .send_message(ChatId(chat_id), text)
            .await
            .map_err(|e| self.error(e))?;
        Ok(i64::from(msg.id.0))
    }

    /// `deleteMessage`.
    pub async fn delete_message(
        &self,
        chat_id: i64,
        message_id: i64,
    ) -> Result<(), ConnectorError> {
        let id = i32::try_from(message_id).map_err(|_| ConnectorError::Platform {
            status: 400,
            code: Some("message_not_found".to_owned()),
            message: "Bad Request: message to delete not found".to_owned(),
        })?;
        self.bot
            .delete_message(ChatId(chat_id), MessageId(id))
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// `getUpdates`: confirms every update below `offset`, then answers what is pending
    /// or waits up to `timeout_secs` (at most [`MAX_POLL_SECONDS`]) for one. Only one
    /// caller per bot may poll: a second one makes the first fail with a 409 `conflict`,
    /// and so does a set webhook.
    pub async fn updates(
        &self,
        offset: Option<i64>,
        timeout_secs: u32,
    ) -> Result<Vec<BotUpdate>, ConnectorError> {
        let mut req = self
            .bot
            .get_updates()
            .timeout(timeout_secs.min(MAX_POLL_SECONDS))
            .allowed_updates(WANTED_UPDATES);
        if let Some(offset) = offset {
            let offset = i32::try_from(offset).map_err(|_| ConnectorError::Platform {
                status: 400,
                code: None,
                message: format!("update offset {offset} is out of Telegram's range"),
            })?;
            req = req.offset(offset);
        }
        let updates = req.await.map_err(|e| self.error(e))?;
        Ok(updates.into_iter().map(BotUpdate::from_teloxide).collect())
    }

    /// `setWebhook`: Telegram then POSTs each update to `url` with the header
    /// `X-Telegram-Bot-Api-Secret-Token: <secret>` (1–256 of `A-Z a-z 0-9 _ -`), and
    /// [`TelegramBot::updates`] answers 409 until [`TelegramBot::delete_webhook`].
    pub async fn set_webhook(&self, url: &Url, secret: &str) -> Result<(), ConnectorError> {
        self.bot
            .set_webhook(url.clone())
            .secret_token(secret)
            .allowed_updates(WANTED_UPDATES)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// `deleteWebhook`, keeping pending updates for polling.
    pub async fn delete_webhook(&self) -> Result<(), ConnectorError> {
        self.bot.delete_webhook().await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// `getWebhookInfo`.
    pub async fn webhook_info(&self) -> Result<WebhookStatus, ConnectorError> {
        let info = self
            .bot
            .get_webhook_info()
            .await
            .map_err(|e| self.error(e))?;
        Ok(WebhookStatus {
            url: info.url,
            pending_update_count: info.pending_update_count,
            last_error_at: info.last_error_date,
            last_error_message: info.last_error_message.map(|m| self.scrub(m)),
        })
    }

    /// A webhook POST body (check its secret header before calling this).
    pub fn parse_update(body: &[u8]) -> Result<BotUpdate, ConnectorError> {
        let update: Update = serde_json::from_slice(body)
            .map_err(|e| ConnectorError::Malformed(format!("not a Telegram update: {e}")))?;
        Ok(BotUpdate::from_teloxide(update))
    }

    /// The token, raw and percent-encoded, out of a text that may quote a request URL.
    fn scrub(&self, text: String) -> String {
        let token = self.token.expose();
        let encoded = token.replace(':', "%3A");
        text.replace(token.as_str(), "[redacted]")
            .replace(&encoded, "[redacted]")
    }

    fn error(&self, e: RequestError) -> ConnectorError {
        match e {
            RequestError::Api(api) => self.api_error(api),
            RequestError::RetryAfter(wait) => ConnectorError::Platform {
                status: 429,
                code: Some("retry_after".to_owned()),
                message: format!("Too Many Requests: retry after {}", wait.seconds()),
            },
            RequestError::MigrateToChatId(to) => ConnectorError::Platform {
                status: 400,
                code: Some("chat_migrated".to_owned()),
                message: format!(
                    "the group was upgraded to a supergroup; its new chat id is {}",
                    to.0
                ),
            },
            RequestError::Network(e) => ConnectorError::Transport(self.scrub(chain(&*e))),
            RequestError::InvalidJson { source, .. } => ConnectorError::Malformed(self.scrub(
                format!("Telegram's answer is not the expected JSON: {source}"),
            )),
            RequestError::Io(e) => ConnectorError::Transport(self.scrub(e.to_string())),
        }
    }

    /// teloxide maps Telegram's errors by their exact description; those the flow acts
    /// on get a meaning here, the rest keep Telegram's words and the status their prefix
    /// stands for.
    fn api_error(&self, api: ApiError) -> ConnectorError {
        // `Unknown`'s Display wraps Telegram's words; the flow wants them bare.
        let text = self.scrub(match &api {
            ApiError::Unknown(words) => words.clone(),
            known => known.to_string(),
        });
        let platform =
            |status: u16, code: Option<&str>, message: String| ConnectorError::Platform {
                status,
                code: code.map(str::to_owned),
                message,
            };
        match api {
            ApiError::ChatNotFound => platform(400, Some("chat_not_found"), text),
            ApiError::UserNotFound => platform(400, Some("user_not_found"), text),
            // "Unauthorized" and "Not Found" (a malformed token's path) alike.
            ApiError::InvalidToken => ConnectorError::InvalidClient {
                description: "Telegram refused the bot token (Unauthorized)".to_owned(),
            },
            ApiError::TerminatedByOtherGetUpdates | ApiError::CantGetUpdates => {
                platform(409, Some("conflict"), text)
            }
            ApiError::MessageToDeleteNotFound => platform(400, Some("message_not_found"), text),
            ApiError::BotBlocked
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots
            | ApiError::UserDeactivated
            | ApiError::NotEnoughRightsToPostMessages
            | ApiError::MessageCantBeDeleted => {
                ConnectorError::PermissionDenied { description: text }
            }
            _ => {
                let denied = text.starts_with("Forbidden")
                    || text.contains("not a member")
                    || text.contains("not enough rights")
                    || text.contains("need administrator rights")
                    || text.contains("member list is inaccessible");
                if denied {
                    return ConnectorError::PermissionDenied { description: text };
                }
                let (status, code) = match () {
                    _ if text.starts_with("Conflict") => (409, Some("conflict")),
                    _ if text.starts_with("Too Many Requests") => (429, Some("retry_after")),
                    _ if text.starts_with("Unauthorized") => (401, None),
                    _ if text.starts_with("Bad Gateway") => (502, None),
                    _ if text.starts_with("Internal Server Error") => (500, None),
                    _ => (400, None),
                };
                platform(status, code, text)
            }
        }
    }
}

impl ChatInfo {
    fn from_full(c: &ChatFullInfo) -> Self {
        let kind = match () {
            _ if c.is_channel() => ChatKind::Channel,
            _ if c.is_supergroup() => ChatKind::Supergroup,
            _ if c.is_group() => ChatKind::Group,
            _ => ChatKind::Private,
        };
        let title = match kind {
            ChatKind::Private => person(c.first_name(), c.last_name()),
            _ => c.title().map(str::to_owned),
        };
        Self {
            id: c.id.0,
            kind,
            title,
            username: c.username().map(str::to_owned),
            photo_file_id: c.photo.as_ref().map(|p| p.big_file_id.0.clone()),
        }
    }

    fn from_chat(c: &Chat) -> Self {
        let kind = match () {
            _ if c.is_channel() => ChatKind::Channel,
            _ if c.is_supergroup() => ChatKind::Supergroup,
            _ if c.is_group() => ChatKind::Group,
            _ => ChatKind::Private,
        };
        let title = match kind {
            ChatKind::Private => person(c.first_name(), c.last_name()),
            _ => c.title().map(str::to_owned),
        };
        Self {
            id: c.id.0,
            kind,
            title,
            username: c.username().map(str::to_owned),
            photo_file_id: None,
        }
    }
}

impl BotUpdate {
    fn from_teloxide(u: Update) -> Self {
        let kind = match &u.kind {
            TgUpdateKind::Message(m) | TgUpdateKind::ChannelPost(m) => {
                match m.text().or_else(|| m.caption()) {
                    Some(text) => UpdateKind::Message {
                        chat: ChatInfo::from_chat(&m.chat),
                        from_user_id: m.from.as_ref().and_then(user_id),
                        sender_chat_id: m.sender_chat.as_ref().map(|c| c.id.0),
                        message_id: i64::from(m.id.0),
                        text: text.to_owned(),
                    },
                    None => UpdateKind::Other,
                }
            }
            TgUpdateKind::MyChatMember(change) => {
                let chat = ChatInfo::from_chat(&change.chat);
                UpdateKind::BotMembership {
                    status: MemberStatus::from_kind(&change.new_chat_member.kind, Some(chat.kind)),
                    chat,
                    by_user_id: user_id(&change.from),
                }
            }
            _ => UpdateKind::Other,
        };
        Self {
            update_id: i64::from(u.id.0),
            kind,
        }
    }
}

fn person(first: Option<&str>, last: Option<&str>) -> Option<String> {
    match (first, last) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(f), None) => Some(f.to_owned()),
        (None, l) => l.map(str::to_owned),
    }
}

fn user_id(u: &teloxide_core::types::User) -> Option<i64> {
    i64::try_from(u.id.0).ok()
}

fn user_not_found() -> ConnectorError {
    ConnectorError::Platform {
        status: 400,
        code: Some("user_not_found".to_owned()),
        message: "Bad Request: user not found".to_owned(),
    }
}

fn recipient(chat: &ChatRef) -> Recipient {
    match chat {
        ChatRef::Id(id) => Recipient::Id(ChatId(*id)),
        ChatRef::Username(name) => Recipient::ChannelUsername(format!("@{name}")),
    }
}

/// `<digits>:<letters, digits, _ or ->` (the format BotFather issues).
fn well_formed_token(token: &str) -> bool {
    token.split_once(':').is_some_and(|(id, secret)| {
        !id.is_empty()
            && id.chars().all(|c| c.is_ascii_digit())
            && !secret.is_empty()
            && secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

/// teloxide appends `/bot<token>/<Method>` as path segments, so a base ending in `/`
/// would give `//bot…`: the trailing slash is dropped.
fn base_url(mut url: Url) -> Result<Url, ConnectorError> {
    let invalid = |url: &Url| {
        ConnectorError::Spec(SpecError::InvalidBase {
            url: url.to_string(),
        })
    };
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.cannot_be_a_base()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(invalid(&url));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// An error and its causes on one line ("error sending request …: connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_refs_parse_ids_and_usernames_only() {
        let cases = [
            (
                "@testchannel",
                Some(ChatRef::Username("testchannel".into())),
                "a username",
            ),
            (
                "  @Test_Chan ",
                Some(ChatRef::Username("Test_Chan".into())),
                "spaces and case kept",
            ),
            (
                "-1001234567890",
                Some(ChatRef::Id(-1_001_234_567_890)),
                "a channel id",
            ),
            ("123", Some(ChatRef::Id(123)), "a private chat id"),
            ("@", None, "an empty username"),
            ("@1abc", None, "a username starting with a digit"),
            ("@a-b", None, "a dash"),
            ("testchannel", None, "no @"),
            ("https://t.me/testchannel", None, "a link"),
            ("+123", None, "a plus sign"),
            ("0", None, "zero"),
            ("-", None, "a lone minus"),
            ("99999999999999999999", None, "out of range"),
        ];
        for (raw, expected, why) in cases {
            assert_eq!(ChatRef::parse(raw), expected, "{why}");
        }
    }

    #[test]
    fn the_token_is_checked_and_never_shown() {
        let token = "123456:AAbb_cc-DD";
        let bot = TelegramBot::new(Secret::new(token.into()), None).unwrap();
        let debug = format!("{bot:?}");
        assert!(!debug.contains("AAbb"), "{debug}");
        assert!(debug.contains("https://api.telegram.org"), "{debug}");
        assert_eq!(
            bot.scrub(format!("GET /x/bot{token}/GetMe and 123456%3AAAbb_cc-DD")),
            "GET /x/bot[redacted]/GetMe and [redacted]"
        );
        for bad in ["", "abc", "123:", ":abc", "12a:abc", "123:ab/c", "123:a b"] {
            let err = TelegramBot::new(Secret::new(bad.into()), None).unwrap_err();
            assert!(
                matches!(err, ConnectorError::InvalidClient { .. }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn api_urls_lose_their_trailing_slash_and_must_be_http_bases() {
        let token = || Secret::new("1:a".to_owned());
        for (raw, expected) in [
            (
                "http://127.0.0.1:9/sandbox/telegram/",
                "http://127.0.0.1:9/sandbox/telegram",
            ),
            (
                "http://127.0.0.1:9/sandbox/telegram",
                "http://127.0.0.1:9/sandbox/telegram",
            ),
            ("https://api.telegram.org/", "https://api.telegram.org/"),
        ] {
            let bot = TelegramBot::new(token(), Some(Url::parse(raw).unwrap())).unwrap();
            assert_eq!(bot.bot.api_url().as_str(), expected);
        }
        for raw in ["ftp://h/x", "mailto:a@b", "http://h/x?q=1", "http://h/x#f"] {
            let err = TelegramBot::new(token(), Some(Url::parse(raw).unwrap())).unwrap_err();
            assert!(matches!(err, ConnectorError::Spec(_)), "{raw}");
        }
    }

    #[test]
    fn member_statuses_serialize_with_their_status_tag() {
        assert_eq!(
            serde_json::to_value(MemberStatus::Administrator {
                can_post_messages: true
            })
            .unwrap(),
            serde_json::json!({"status": "administrator", "canPostMessages": true})
        );
        assert_eq!(
            serde_json::to_value(MemberStatus::Kicked).unwrap(),
            serde_json::json!({"status": "kicked"})
        );
    }
}
