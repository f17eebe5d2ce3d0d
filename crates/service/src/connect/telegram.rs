//! Telegram (platforms.md §14, shared/api-scope.md §5.2): the user adds the service's bot to
//! a channel or group as an administrator and sends it a one-time code; the bot checks the
//! code, its own rights and the sender's, and links the chat. Updates come by webhook (any
//! replica) or by long polling under a store lease (exactly one poller).

use super::session::FlowRecord;
use crate::auth::ResourceGroup;
use crate::{Caller, ServiceError, ServiceResult, Services};
use chrono::{DateTime, Duration, Utc};
use plugboard_core::{AccountId, OwnerId, Platform, ProfileId};
use plugboard_platforms::telegram::{
    BotUpdate, ChatInfo, ChatKind, ChatRef, MemberStatus, TelegramBot, UpdateKind,
};
use plugboard_platforms::{ConnectorError, Identity};
use plugboard_store::{Account, OneTimeRecord};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Mutex;
use subtle::ConstantTimeEq;

const CODE_KIND: &str = "telegram_code";
const LINKED_KIND: &str = "telegram_linked";
/// Written just before a code is taken and the chat linked, so a status poll in between
/// reads "pending" rather than "unknown", and two linkers of one code cannot both go on.
const LINKING_KIND: &str = "telegram_linking";
/// Zernio's window for a code.
const CODE_MINUTES: i64 = 15;
/// How long a code's outcome stays readable (so late polls see `expired` or `connected`).
const KEEP_HOURS: i64 = 24;
/// Crockford base32 without I, L, O, U: unambiguous when read off a screen and typed.
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_PREFIX: &str = "PB-";
const CODE_LEN: usize = 8;
pub const POLLER_LEASE: &str = "telegram-poller";

/// The bot as the connect flow uses it.
pub struct TelegramContext {
    pub bot: TelegramBot,
    /// `X-Telegram-Bot-Api-Secret-Token` expected on webhook deliveries.
    pub webhook_secret: String,
    /// Updates arrive by webhook (a public URL is configured) rather than by polling.
    pub webhook: bool,
    username: Mutex<Option<String>>,
}

impl TelegramContext {
    pub fn new(bot: TelegramBot, webhook_secret: String, webhook: bool) -> Self {
        Self {
            bot,
            webhook_secret,
            webhook,
            username: Mutex::new(None),
        }
    }

    /// The bot's @username, asked once.
    pub async fn username(&self) -> Result<String, ConnectorError> {
        if let Some(u) = self
            .username
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(u);
        }
        let me = self.bot.me().await?;
        *self.username.lock().unwrap_or_else(|e| e.into_inner()) = Some(me.username.clone());
        Ok(me.username)
    }

    pub fn secret_matches(&self, presented: &str) -> bool {
        !presented.is_empty()
            && bool::from(self.webhook_secret.as_bytes().ct_eq(presented.as_bytes()))
    }
}

/// The secret Telegram echoes on webhook deliveries, derived from the bot token so every
/// replica agrees without more configuration (1–256 of `A-Za-z0-9_-`, Bot API setWebhook).
pub fn webhook_secret_for(bot_token: &str) -> String {
    hex::encode(Sha256::digest(
        format!("plugboard-telegram-webhook:{bot_token}").as_bytes(),
    ))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodeRecord {
    profile_id: String,
    key_id: String,
    /// The code's own expiry; the record lives longer so polls can say `expired`.
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinkedRecord {
    chat_id: i64,
    chat_title: Option<String>,
    chat_type: String,
    account_id: String,
}

/// `GET /v1/connect/telegram`'s answer.
#[derive(Debug, Clone)]
pub struct TelegramCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
    pub bot_username: String,
    pub instructions: Vec<String>,
}

/// `PATCH /v1/connect/telegram`'s answer.
#[derive(Debug)]
pub enum TelegramStatus {
    Pending {
        expires_at: DateTime<Utc>,
    },
    Connected {
        chat_id: i64,
        chat_title: Option<String>,
        chat_type: String,
        account: Box<Account>,
    },
    Expired,
}

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(format!("telegram-code:{code}").as_bytes()))
}

fn new_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let body: String = (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())]))
        .collect();
    format!("{CODE_PREFIX}{body}")
}

/// The code in a message, normalised (`pb-7k3q…` typed by hand counts).
pub fn find_code(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| {
            w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .to_ascii_uppercase()
        })
        .find(|w| {
            w.strip_prefix(CODE_PREFIX).is_some_and(|b| {
                b.len() == CODE_LEN && b.bytes().all(|c| CODE_ALPHABET.contains(&c))
            })
        })
}

/// The chat a direct message names beside the code (`@channel`, `-100…` or a numeric id).
fn named_chat(text: &str) -> Option<ChatRef> {
    text.split_whitespace()
        .filter(|w| find_code(w).is_none() && !w.starts_with('/'))
        .find_map(ChatRef::parse)
}

fn chat_type(kind: ChatKind) -> &'static str {
    match kind {
        ChatKind::Channel => "channel",
        ChatKind::Group => "group",
        ChatKind::Supergroup => "supergroup",
        ChatKind::Private => "private",
    }
}

fn not_configured() -> ServiceError {
    ServiceError::NotConfigured {
        message: "Telegram is not configured on this server: set PLUGBOARD_TELEGRAM_BOT_TOKEN, or enable the sandbox".into(),
    }
}

fn bot_error(e: ConnectorError) -> ServiceError {
    match e {
        ConnectorError::Platform { code: Some(c), .. } if c == "chat_not_found" => ServiceError::BadRequest {
            code: "chat_not_found",
            message: "The bot cannot see that chat: add it to the channel or group as an administrator first".into(),
            param: Some("chatId"),
        },
        ConnectorError::PermissionDenied { .. } => ServiceError::BadRequest {
            code: "bot_not_admin",
            message: "The bot is not a member of that chat: add it as an administrator first".into(),
            param: Some("chatId"),
        },
        other => ServiceError::Upstream {
            code: "telegram_error",
            message: "The Telegram Bot API could not be reached; try again".into(),
            details: Some(other.to_string()),
        },
    }
}

/// Why a linking attempt was refused, in words for the person who sent the code.
enum Refusal {
    UnknownCode,
    ExpiredCode,
    NoChat,
    BotNotAdmin,
    BotCannotPost,
    SenderNotAdmin,
    Failed,
}

impl Refusal {
    fn text(&self) -> &'static str {
        match self {
            Refusal::UnknownCode => {
                "This code is unknown or was already used. Ask the app for a new one."
            }
            Refusal::ExpiredCode => {
                "This code has expired (codes live 15 minutes). Ask the app for a new one."
            }
            Refusal::NoChat => {
                "Send the code followed by your channel or group, e.g. PB-XXXXXXXX @yourchannel — or post the code in the group itself."
            }
            Refusal::BotNotAdmin => {
                "I am not an administrator of that chat. Add me as an administrator, then send the code again."
            }
            Refusal::BotCannotPost => {
                "I am an administrator of that channel but may not post messages. Give me the 'Post messages' right, then send the code again."
            }
            Refusal::SenderNotAdmin => {
                "Only an administrator of that chat can link it. Ask one of its administrators to send the code."
            }
            Refusal::Failed => "Something went wrong on the server. Try again in a moment.",
        }
    }
}

impl Services {
    fn telegram(&self) -> ServiceResult<&TelegramContext> {
        self.connect_context()?
            .telegram
            .as_deref()
            .ok_or_else(not_configured)
    }

    /// `GET /v1/connect/telegram?profileId=`: a one-time code for this profile.
    pub async fn telegram_code(
        &self,
        caller: &Caller,
        profile_id: &ProfileId,
    ) -> ServiceResult<TelegramCode> {
        caller.require(ResourceGroup::Accounts, true)?;
        self.visible_profile(caller, profile_id).await?;
        let tg = self.telegram()?;
        let bot_username = tg.username().await.map_err(bot_error)?;
        let now = self.clock.now();
        let code = new_code();
        let expires_at = now + Duration::minutes(CODE_MINUTES);
        let record = CodeRecord {
            profile_id: profile_id.to_string(),
            key_id: caller.key_id.to_string(),
            expires_at,
        };
        self.store
            .put_one_time(&OneTimeRecord {
                kind: CODE_KIND.into(),
                key: code_hash(&code),
                owner_id: Some(caller.owner.clone()),
                payload: serde_json::to_value(&record)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
                expires_at: now + Duration::hours(KEEP_HOURS),
                created_at: now,
            })
            .await?;
        let instructions = vec![
            format!(
                "Add @{bot_username} to your channel or group as an administrator (for a channel, with the right to post messages)."
            ),
            format!(
                "Send @{bot_username} a direct message with the code and your channel: {code} @yourchannel (or the chat id, e.g. -1001234567890)."
            ),
            "Or, in a group, post the code itself as a message; in a channel, post it as a post."
                .into(),
            format!("The code is valid for {CODE_MINUTES} minutes and works once."),
        ];
        Ok(TelegramCode {
            code,
            expires_at,
            bot_username,
            instructions,
        })
    }

    /// `PATCH /v1/connect/telegram?code=`: where a code stands.
    pub async fn telegram_status(
        &self,
        caller: &Caller,
        raw_code: &str,
    ) -> ServiceResult<TelegramStatus> {
        caller.require(ResourceGroup::Accounts, false)?;
        let code = find_code(raw_code).ok_or(ServiceError::NotFound {
            what: "Telegram code",
        })?;
        let key = code_hash(&code);
        let now = self.clock.now();
        if let Some(linked) = self.store.get_one_time(LINKED_KIND, &key, now).await?
            && linked.owner_id.as_ref() == Some(&caller.owner)
        {
            let l: LinkedRecord = serde_json::from_value(linked.payload)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            let id = AccountId::parse(&l.account_id)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            let account = self.get_account(caller, &id).await?;
            return Ok(TelegramStatus::Connected {
                chat_id: l.chat_id,
                chat_title: l.chat_title,
                chat_type: l.chat_type,
                account: Box::new(account),
            });
        }
        let Some(rec) = self.store.get_one_time(CODE_KIND, &key, now).await? else {
            if let Some(linking) = self.store.get_one_time(LINKING_KIND, &key, now).await?
                && linking.owner_id.as_ref() == Some(&caller.owner)
                && let Ok(c) = serde_json::from_value::<CodeRecord>(linking.payload)
            {
                return Ok(TelegramStatus::Pending {
                    expires_at: c.expires_at,
                });
            }
            return Err(ServiceError::NotFound {
                what: "Telegram code",
            });
        };
        if rec.owner_id.as_ref() != Some(&caller.owner) {
            return Err(ServiceError::NotFound {
                what: "Telegram code",
            });
        }
        let c: CodeRecord = serde_json::from_value(rec.payload)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        if c.expires_at <= now {
            return Ok(TelegramStatus::Expired);
        }
        Ok(TelegramStatus::Pending {
            expires_at: c.expires_at,
        })
    }

    /// `POST /v1/connect/telegram {chatId, profileId}`: links a chat where the bot already
    /// is an administrator.
    pub async fn telegram_connect_chat(
        &self,
        caller: &Caller,
        chat: &str,
        profile_id: &ProfileId,
    ) -> ServiceResult<(Account, ChatInfo)> {
        caller.require(ResourceGroup::Accounts, true)?;
        self.visible_profile(caller, profile_id).await?;
        let tg = self.telegram()?;
        let chat_ref = ChatRef::parse(chat.trim()).ok_or_else(|| {
            ServiceError::invalid(
                "chatId",
                "chatId is a chat id such as -1001234567890 or a @channel username",
            )
        })?;
        let info = tg.bot.chat(&chat_ref).await.map_err(bot_error)?;
        match self.bot_rights(tg, &info).await {
            Ok(()) => {}
            Err(Refusal::BotCannotPost) => {
                return Err(ServiceError::BadRequest {
                    code: "bot_cannot_post",
                    message: Refusal::BotCannotPost.text().into(),
                    param: Some("chatId"),
                });
            }
            Err(_) => {
                return Err(ServiceError::BadRequest {
                    code: "bot_not_admin",
                    message: Refusal::BotNotAdmin.text().into(),
                    param: Some("chatId"),
                });
            }
        }
        let account = self
            .store_telegram_account(&caller.owner, &caller.key_id.to_string(), profile_id, &info)
            .await?;
        Ok((account, info))
    }

    /// One update from Telegram (webhook or poll). Ignores what is not a code; answers the
    /// sender when a code was refused.
    pub async fn telegram_handle_update(&self, update: &BotUpdate) -> ServiceResult<()> {
        let tg = self.telegram()?;
        let UpdateKind::Message {
            chat,
            from_user_id,
            sender_chat_id,
            message_id,
            text,
        } = &update.kind
        else {
            return Ok(());
        };
        let Some(code) = find_code(text) else {
            return Ok(());
        };
        // Where to answer: the person's private chat when there is one.
        let reply_to = match (chat.kind, from_user_id) {
            (ChatKind::Private, Some(u)) => Some(*u),
            _ => None,
        };
        let outcome = self
            .link_by_code(tg, &code, chat, *from_user_id, *sender_chat_id, text)
            .await;
        let answer = match &outcome {
            Ok(linked) => format!(
                "Connected {} to Plugboard.",
                linked
                    .title
                    .clone()
                    .or_else(|| linked.username.clone().map(|u| format!("@{u}")))
                    .unwrap_or_else(|| linked.id.to_string())
            ),
            Err(r) => r.text().to_owned(),
        };
        if let Some(user) = reply_to {
            if let Err(e) = tg.bot.send_message(user, &answer).await {
                tracing::warn!(error = %e, "cannot answer the Telegram user");
            }
        } else if outcome.is_ok() && chat.kind != ChatKind::Private {
            // The code posted in the chat itself is spent; take it down (best effort).
            if let Err(e) = tg.bot.delete_message(chat.id, *message_id).await {
                tracing::debug!(error = %e, "cannot delete the posted code");
            }
        }
        Ok(())
    }

    async fn link_by_code(
        &self,
        tg: &TelegramContext,
        code: &str,
        chat: &ChatInfo,
        from_user_id: Option<i64>,
        sender_chat_id: Option<i64>,
        text: &str,
    ) -> Result<ChatInfo, Refusal> {
        let now = self.clock.now();
        let key = code_hash(code);
        let rec = match self.store.get_one_time(CODE_KIND, &key, now).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(Refusal::UnknownCode),
            Err(e) => {
                tracing::error!(error = %e, "store failure reading a Telegram code");
                return Err(Refusal::Failed);
            }
        };
        let Ok(c) = serde_json::from_value::<CodeRecord>(rec.payload.clone()) else {
            return Err(Refusal::Failed);
        };
        if c.expires_at <= now {
            return Err(Refusal::ExpiredCode);
        }
        let owner = rec.owner_id.clone().ok_or(Refusal::Failed)?;
        // The chat to link: named in a direct message, or the chat the code was posted in.
        let target = match chat.kind {
            ChatKind::Private => {
                let named = named_chat(text).ok_or(Refusal::NoChat)?;
                tg.bot
                    .chat(&named)
                    .await
                    .map_err(|_| Refusal::BotNotAdmin)?
            }
            _ => tg
                .bot
                .chat(&ChatRef::Id(chat.id))
                .await
                .map_err(|_| Refusal::BotNotAdmin)?,
        };
        if target.kind == ChatKind::Private {
            return Err(Refusal::NoChat);
        }
        self.bot_rights(tg, &target).await?;
        // The sender must administer the chat, or anyone holding a code could link someone
        // else's channel (platforms.md §14). A channel post is made by the channel itself,
        // and only its administrators can post.
        let channel_post = from_user_id.is_none() && sender_chat_id == Some(target.id);
        if !channel_post {
            let user = from_user_id.ok_or(Refusal::SenderNotAdmin)?;
            match tg.bot.member(target.id, user).await {
                Ok(MemberStatus::Creator | MemberStatus::Administrator { .. }) => {}
                Ok(_) | Err(_) => {
                    tracing::info!(target: "security", chat = target.id, "Telegram code sent by a non-administrator of the chat");
                    return Err(Refusal::SenderNotAdmin);
                }
            }
        }
        // Everything checked: mark the link as under way, then take the code, once.
        let linking = self
            .store
            .put_one_time(&OneTimeRecord {
                kind: LINKING_KIND.into(),
                key: key.clone(),
                owner_id: Some(owner.clone()),
                payload: rec.payload.clone(),
                expires_at: now + Duration::minutes(2),
                created_at: now,
            })
            .await;
        match linking {
            Ok(()) => {}
            Err(plugboard_store::StoreError::Conflict { .. }) => return Err(Refusal::UnknownCode),
            Err(e) => {
                tracing::error!(error = %e, "store failure marking a Telegram link");
                return Err(Refusal::Failed);
            }
        }
        match self.store.consume_one_time(CODE_KIND, &key, now).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(Refusal::UnknownCode),
            Err(e) => {
                tracing::error!(error = %e, "store failure taking a Telegram code");
                return Err(Refusal::Failed);
            }
        }
        let Ok(profile) = ProfileId::parse(&c.profile_id) else {
            return Err(Refusal::Failed);
        };
        let account = match self
            .store_telegram_account(&owner, &c.key_id, &profile, &target)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "cannot store the Telegram account");
                return Err(Refusal::Failed);
            }
        };
        let linked = LinkedRecord {
            chat_id: target.id,
            chat_title: target.title.clone(),
            chat_type: chat_type(target.kind).into(),
            account_id: account.id.to_string(),
        };
        let put = self
            .store
            .put_one_time(&OneTimeRecord {
                kind: LINKED_KIND.into(),
                key,
                owner_id: Some(owner),
                payload: serde_json::to_value(&linked).unwrap_or_default(),
                expires_at: now + Duration::hours(KEEP_HOURS),
                created_at: now,
            })
            .await;
        if let Err(e) = put {
            tracing::error!(error = %e, "cannot record the Telegram link outcome");
        }
        Ok(target)
    }

    /// The bot must administer the chat, and post in a channel.
    async fn bot_rights(&self, tg: &TelegramContext, chat: &ChatInfo) -> Result<(), Refusal> {
        let me = tg.bot.me().await.map_err(|_| Refusal::Failed)?;
        match tg.bot.member(chat.id, me.id).await {
            Ok(MemberStatus::Administrator { can_post_messages }) => {
                if chat.kind == ChatKind::Channel && !can_post_messages {
                    Err(Refusal::BotCannotPost)
                } else {
                    Ok(())
                }
            }
            Ok(MemberStatus::Creator) => Ok(()),
            _ => Err(Refusal::BotNotAdmin),
        }
    }

    async fn store_telegram_account(
        &self,
        owner: &OwnerId,
        key_id: &str,
        profile: &ProfileId,
        chat: &ChatInfo,
    ) -> ServiceResult<Account> {
        let mut metadata = serde_json::Map::new();
        metadata.insert("chatId".into(), chat.id.to_string().into());
        metadata.insert("chatType".into(), chat_type(chat.kind).into());
        let identity = Identity {
            platform_user_id: chat.id.to_string(),
            username: chat.username.clone().or_else(|| chat.title.clone()),
            display_name: chat.title.clone().or_else(|| chat.username.clone()),
            profile_picture: None,
            profile_url: chat.username.as_ref().map(|u| format!("https://t.me/{u}")),
            followers_count: None,
            metadata,
        };
        let flow = FlowRecord {
            platform: Platform::Telegram,
            login_method: String::new(),
            profile_id: profile.to_string(),
            key_id: key_id.to_owned(),
            redirect_url: None,
            headless: true,
            reconnect_account_id: None,
            expected_platform_user_id: None,
            expected_username: None,
            ads: None,
            all_destinations: false,
        };
        // The bot's token is the installation's, not the chat's: nothing to seal per account.
        self.store_account_without_tokens(owner, &flow, &identity)
            .await
    }

    /// One long poll, if this holder has (or takes) the poller lease. Returns how many
    /// updates were handled; `None` when another replica is the poller.
    pub async fn telegram_poll_once(
        &self,
        poller: &TelegramPoller,
        timeout_secs: u32,
    ) -> ServiceResult<Option<usize>> {
        let tg = self.telegram()?;
        let now = self.clock.now();
        // The lease outlives one long poll comfortably; a crashed poller's lease runs out
        // and another replica takes over.
        let ttl = Duration::seconds(i64::from(timeout_secs) + 30);
        if !self
            .store
            .acquire_lease(POLLER_LEASE, &poller.holder, now, ttl)
            .await?
        {
            poller.set_holding(false);
            return Ok(None);
        }
        if !poller.holding() {
            // Polling and a webhook exclude each other at Telegram.
            if let Err(e) = tg.bot.delete_webhook().await {
                tracing::warn!(error = %e, "cannot delete the Telegram webhook before polling");
            }
            poller.set_holding(true);
            tracing::info!(holder = %poller.holder, "this replica is the Telegram poller");
        }
        let updates = match tg.bot.updates(poller.offset(), timeout_secs).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "Telegram getUpdates failed");
                return Ok(Some(0));
            }
        };
        let n = updates.len();
        for u in &updates {
            if let Err(e) = self.telegram_handle_update(u).await {
                tracing::error!(error = %e, update = u.update_id, "handling a Telegram update failed");
            }
            poller.acknowledge(u.update_id);
        }
        Ok(Some(n))
    }
}

/// One replica's polling state: who it is and the next offset to ask for.
pub struct TelegramPoller {
    pub holder: String,
    offset: Mutex<Option<i64>>,
    holding: Mutex<bool>,
}

impl TelegramPoller {
    pub fn new(holder: impl Into<String>) -> Self {
        Self {
            holder: holder.into(),
            offset: Mutex::new(None),
            holding: Mutex::new(false),
        }
    }

    fn offset(&self) -> Option<i64> {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn acknowledge(&self, update_id: i64) {
        let mut o = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *o = Some(o.unwrap_or(0).max(update_id + 1));
    }

    fn holding(&self) -> bool {
        *self.holding.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_holding(&self, v: bool) {
        *self.holding.lock().unwrap_or_else(|e| e.into_inner()) = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_in_what_people_send() {
        let code = new_code();
        assert!(code.starts_with("PB-") && code.len() == 11, "{code}");
        assert_eq!(find_code(&code), Some(code.clone()));
        assert_eq!(
            find_code(&format!("/connect {}", code.to_lowercase())),
            Some(code.clone())
        );
        assert_eq!(find_code(&format!("{code} @mychannel")), Some(code.clone()));
        assert_eq!(find_code(&format!("here: {code}.")), Some(code.clone()));
        for none in ["", "hello", "PB-123", "PB-IIIIIIII", "XPB-12345678"] {
            assert_eq!(find_code(none), None, "{none}");
        }
    }

    #[test]
    fn a_direct_message_names_the_chat_beside_the_code() {
        assert_eq!(
            named_chat("PB-12345678 @mychannel"),
            ChatRef::parse("@mychannel")
        );
        assert_eq!(
            named_chat("PB-12345678 -1001234567890"),
            ChatRef::parse("-1001234567890")
        );
        assert_eq!(named_chat("PB-12345678"), None);
    }

    #[test]
    fn the_webhook_secret_is_stable_and_fits_telegrams_alphabet() {
        let a = webhook_secret_for("123:abc");
        assert_eq!(a, webhook_secret_for("123:abc"));
        assert_ne!(a, webhook_secret_for("123:abd"));
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()) && a.len() <= 256);
        assert!(!a.contains("abc"));
    }
}
