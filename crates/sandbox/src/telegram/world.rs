//! The fake Telegram's memory: bots, users, chats with their members and messages, and
//! each bot's queue of pending updates.
//!
//! Process-wide like the OAuth fakes' state (see `crate::state`): the server mounts the
//! sandbox through a plain `fn(&mut ServiceConfig)`, and Telegram's own memory is likewise
//! shared by every caller. Tests isolate themselves with their own bots (`POST _bots`) and
//! chats, whose ids never repeat within a process. The lock is never held across an
//! `.await`; a poisoned lock is recovered because every change leaves the maps consistent.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;
use url::Url;

use crate::state::now;

/// The bot every sandbox knows from the start, so a server with no Telegram settings can
/// run the linking flow. Its token has the real shape, `<bot id>:<35 characters>`.
pub const DEFAULT_BOT_TOKEN: &str = "7000000001:PlugboardSandboxDefaultBotToken0001";
pub const DEFAULT_BOT_USERNAME: &str = "plugboard_sandbox_bot";
pub const DEFAULT_BOT_ID: i64 = 7_000_000_001;
const DEFAULT_BOT_NAME: &str = "Plugboard Sandbox";

/// Acts for membership changes whose caller named nobody and whose chat has no creator:
/// `my_chat_member` must say who made the change (`from` is mandatory).
pub(crate) const SANDBOX_ADMIN_ID: i64 = 100_000;

/// Telegram keeps unconfirmed updates for 24 hours (Bot API, getUpdates).
const UPDATE_LIFETIME_HOURS: i64 = 24;

/// The update kinds delivered when `allowed_updates` was never given or given empty
/// (Bot API, getUpdates: "all update types except chat_member, message_reaction, and
/// message_reaction_count").
const NOT_BY_DEFAULT: [&str; 3] = ["chat_member", "message_reaction", "message_reaction_count"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ChatType {
    Channel,
    Group,
    Supergroup,
    Private,
}

impl ChatType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatType::Channel => "channel",
            ChatType::Group => "group",
            ChatType::Supergroup => "supergroup",
            ChatType::Private => "private",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Creator,
    Administrator,
    Member,
    Restricted,
    Left,
    Kicked,
}

impl Status {
    /// In the chat now (a restricted member here is always still a member).
    pub fn is_present(self) -> bool {
        matches!(
            self,
            Status::Creator | Status::Administrator | Status::Member | Status::Restricted
        )
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Status::Creator | Status::Administrator)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserRec {
    pub id: i64,
    pub is_bot: bool,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemberRec {
    pub status: Status,
    /// Administrator rights the flow looks at; the rest are rendered as granted.
    pub can_post_messages: bool,
    pub can_delete_messages: bool,
}

impl MemberRec {
    pub const LEFT: MemberRec = MemberRec {
        status: Status::Left,
        can_post_messages: false,
        can_delete_messages: false,
    };
}

#[derive(Debug, Clone)]
pub(crate) struct MessageRec {
    pub id: i64,
    pub from_user_id: Option<i64>,
    /// The bot that sent it through the Bot API (may delete it without admin rights).
    pub sent_by_bot: Option<i64>,
    pub text: String,
    pub date: i64,
    pub reply_to: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct ChatRec {
    pub id: i64,
    pub kind: ChatType,
    pub title: String,
    pub username: Option<String>,
    pub description: Option<String>,
    pub has_photo: bool,
    pub members: BTreeMap<i64, MemberRec>,
    pub messages: BTreeMap<i64, MessageRec>,
    pub next_message_id: i64,
    /// A basic group upgraded to this supergroup id (`migrate_to_chat_id`).
    pub migrated_to: Option<i64>,
}

impl ChatRec {
    pub fn member(&self, user_id: i64) -> MemberRec {
        self.members
            .get(&user_id)
            .copied()
            .unwrap_or(MemberRec::LEFT)
    }

    pub fn creator(&self) -> Option<i64> {
        self.members
            .iter()
            .find(|(_, m)| m.status == Status::Creator)
            .map(|(id, _)| *id)
    }

    pub fn take_message_id(&mut self) -> i64 {
        let id = self.next_message_id;
        self.next_message_id += 1;
        id
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub update_id: i64,
    /// The whole update object, `update_id` included.
    pub body: Value,
    pub at: DateTime<Utc>,
    /// Failed webhook deliveries so far.
    pub attempts: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub url: Url,
    pub secret_token: Option<String>,
    pub max_connections: u32,
    pub last_error: Option<(i64, String)>,
}

/// A fault knob: the next matching calls answer 429 (or 502) instead of working.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BotFaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub server_error: bool,
    /// Lower-cased method names; empty means every method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// How many calls fail before the knob clears itself; `None` = until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

#[derive(Debug)]
pub(crate) struct BotRec {
    pub id: i64,
    pub token: String,
    /// Privacy mode off (BotFather's /setprivacy): sees every group message.
    pub can_read_all_group_messages: bool,
    pub queue: VecDeque<Queued>,
    pub next_update_id: i64,
    /// Remembered across getUpdates and setWebhook calls; `None` = the default set.
    pub allowed_updates: Option<Vec<String>>,
    pub webhook: Option<Webhook>,
    /// Bumped by each getUpdates call; a waiting call that sees another number was
    /// superseded and answers 409.
    pub poll_generation: u64,
    /// Wakes long polls when anything they wait on changes.
    pub wake: watch::Sender<u64>,
    /// The webhook worker running for this bot, if any.
    pub delivering: Option<u64>,
    /// Users who opened a private chat with the bot (it may not write first).
    pub dm_users: HashSet<i64>,
    /// Message ids of each private chat (they count per bot and user).
    pub dm_message_ids: HashMap<i64, i64>,
    pub dm_messages: HashMap<(i64, i64), MessageRec>,
    pub faults: BotFaults,
}

impl BotRec {
    fn new(id: i64, token: String, can_read_all_group_messages: bool) -> Self {
        let (wake, _) = watch::channel(0);
        Self {
            id,
            token,
            can_read_all_group_messages,
            queue: VecDeque::new(),
            next_update_id: 100_000,
            allowed_updates: None,
            webhook: None,
            poll_generation: 0,
            wake,
            delivering: None,
            dm_users: HashSet::new(),
            dm_message_ids: HashMap::new(),
            dm_messages: HashMap::new(),
            faults: BotFaults::default(),
        }
    }

    pub fn wants(&self, kind: &str) -> bool {
        match &self.allowed_updates {
            Some(list) if !list.is_empty() => list.iter().any(|k| k == kind),
            _ => !NOT_BY_DEFAULT.contains(&kind),
        }
    }

    /// Queues an update if the bot asked for its kind. Returns whether a webhook worker
    /// should be started for the bot.
    pub fn push(&mut self, kind: &'static str, mut payload: Value) -> bool {
        if !self.wants(kind) {
            return false;
        }
        self.expire();
        let update_id = self.next_update_id;
        self.next_update_id += 1;
        let mut body = serde_json::Map::new();
        body.insert("update_id".into(), update_id.into());
        body.insert(kind.into(), payload.take());
        self.queue.push_back(Queued {
            update_id,
            body: Value::Object(body),
            at: now(),
            attempts: 0,
        });
        self.notify();
        self.webhook.is_some() && self.delivering.is_none()
    }

    pub fn expire(&mut self) {
        let oldest = now() - Duration::hours(UPDATE_LIFETIME_HOURS);
        self.queue.retain(|q| q.at > oldest);
    }

    pub fn notify(&self) {
        self.wake.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub fn take_dm_message_id(&mut self, user_id: i64) -> i64 {
        let next = self.dm_message_ids.entry(user_id).or_insert(1);
        let id = *next;
        *next += 1;
        id
    }
}

/// Where an `@username` points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handle {
    Chat(i64),
    User(i64),
}

#[derive(Debug)]
pub(crate) struct World {
    pub bots: HashMap<String, BotRec>,
    pub bot_tokens: HashMap<i64, String>,
    pub users: HashMap<i64, UserRec>,
    pub chats: HashMap<i64, ChatRec>,
    /// Lower-cased usernames of chats, users and bots: Telegram has one namespace.
    pub usernames: HashMap<String, Handle>,
    next_bot: i64,
    next_channel: i64,
    next_group: i64,
    next_worker: u64,
}

static WORLD: OnceLock<Mutex<World>> = OnceLock::new();

pub(crate) fn with_world<R>(f: impl FnOnce(&mut World) -> R) -> R {
    let mutex = WORLD.get_or_init(|| Mutex::new(World::new()));
    let mut guard = mutex.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard)
}

/// Telegram usernames: 4–32 characters of `a-z`, `0-9` and `_`, starting with a letter
/// (bots' ending in `bot`). The sandbox is laxer about length so tests can be terse.
pub(crate) fn valid_username(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl World {
    fn new() -> Self {
        let mut w = Self {
            bots: HashMap::new(),
            bot_tokens: HashMap::new(),
            users: HashMap::new(),
            chats: HashMap::new(),
            usernames: HashMap::new(),
            next_bot: DEFAULT_BOT_ID + 1,
            next_channel: 1,
            next_group: 1,
            next_worker: 1,
        };
        w.insert_bot(
            DEFAULT_BOT_ID,
            DEFAULT_BOT_TOKEN.to_owned(),
            DEFAULT_BOT_USERNAME.to_owned(),
            DEFAULT_BOT_NAME.to_owned(),
            false,
        );
        w.users.insert(
            SANDBOX_ADMIN_ID,
            UserRec {
                id: SANDBOX_ADMIN_ID,
                is_bot: false,
                first_name: "Sandbox Admin".into(),
                last_name: None,
                username: Some("plugboard_sandbox_admin".into()),
            },
        );
        w.usernames.insert(
            "plugboard_sandbox_admin".into(),
            Handle::User(SANDBOX_ADMIN_ID),
        );
        w
    }

    fn insert_bot(
        &mut self,
        id: i64,
        token: String,
        username: String,
        first_name: String,
        can_read_all: bool,
    ) {
        self.usernames
            .insert(username.to_ascii_lowercase(), Handle::User(id));
        self.users.insert(
            id,
            UserRec {
                id,
                is_bot: true,
                first_name,
                last_name: None,
                username: Some(username),
            },
        );
        self.bot_tokens.insert(id, token.clone());
        self.bots
            .insert(token.clone(), BotRec::new(id, token, can_read_all));
    }

    /// A new bot. `username` must end in `bot`, as BotFather insists.
    pub fn create_bot(
        &mut self,
        username: Option<String>,
        first_name: Option<String>,
        can_read_all: bool,
    ) -> Result<i64, String> {
        let id = self.next_bot;
        let username = username.unwrap_or_else(|| format!("sandbox_{id}_bot"));
        if !valid_username(&username) || !username.to_ascii_lowercase().ends_with("bot") {
            return Err(format!(
                "username {username:?} is not a bot username (letters, digits and _, ending in \"bot\")"
            ));
        }
        if self.usernames.contains_key(&username.to_ascii_lowercase()) {
            return Err(format!("username {username:?} is taken"));
        }
        self.next_bot += 1;
        let secret: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(35)
            .map(char::from)
            .collect();
        let first_name = first_name.unwrap_or_else(|| format!("Sandbox Bot {id}"));
        self.insert_bot(
            id,
            format!("{id}:{secret}"),
            username,
            first_name,
            can_read_all,
        );
        Ok(id)
    }

    /// A chat id in Telegram's ranges: `-100…` for channels and supergroups, a smaller
    /// negative number for basic groups.
    pub fn new_chat_id(&mut self, kind: ChatType) -> i64 {
        match kind {
            ChatType::Channel | ChatType::Supergroup => {
                let seq = self.next_channel;
                self.next_channel += 1;
                -(1_000_000_000_000 + 1_000_000_000 + seq)
            }
            _ => {
                let seq = self.next_group;
                self.next_group += 1;
                -(4_000_000_000 + seq)
            }
        }
    }

    pub fn bot(&self, token: &str) -> Option<&BotRec> {
        self.bots.get(token)
    }

    pub fn bot_mut(&mut self, token: &str) -> Option<&mut BotRec> {
        self.bots.get_mut(token)
    }

    pub fn bot_by_id_mut(&mut self, id: i64) -> Option<&mut BotRec> {
        let token = self.bot_tokens.get(&id)?;
        self.bots.get_mut(token)
    }

    pub fn is_bot(&self, user_id: i64) -> bool {
        self.bot_tokens.contains_key(&user_id)
    }

    pub fn next_worker(&mut self) -> u64 {
        let id = self.next_worker;
        self.next_worker += 1;
        id
    }

    /// Creates or updates a human user; names left out keep their old values.
    pub fn upsert_user(
        &mut self,
        id: i64,
        first_name: Option<String>,
        last_name: Option<String>,
        username: Option<String>,
    ) -> Result<(), String> {
        if id <= 0 {
            return Err(format!("userId must be a positive number, not {id}"));
        }
        if self.is_bot(id) {
            if first_name.is_some() || username.is_some() || last_name.is_some() {
                return Err(format!("user {id} is a bot; its names are its own"));
            }
            return Ok(());
        }
        if let Some(name) = &username {
            if !valid_username(name) {
                return Err(format!("username {name:?} is not a Telegram username"));
            }
            match self.usernames.get(&name.to_ascii_lowercase()) {
                Some(Handle::User(owner)) if *owner == id => {}
                Some(_) => return Err(format!("username {name:?} is taken")),
                None => {}
            }
        }
        let user = self.users.entry(id).or_insert_with(|| UserRec {
            id,
            is_bot: false,
            first_name: format!("User {id}"),
            last_name: None,
            username: None,
        });
        if let Some(f) = first_name {
            user.first_name = f;
        }
        if last_name.is_some() {
            user.last_name = last_name;
        }
        let old = match username {
            Some(name) => user.username.replace(name),
            None => None,
        };
        let new = user.username.clone();
        if let Some(old) = old {
            self.usernames.remove(&old.to_ascii_lowercase());
        }
        if let Some(new) = new {
            self.usernames
                .insert(new.to_ascii_lowercase(), Handle::User(id));
        }
        Ok(())
    }

    /// Updates to start webhook workers for, collected while the lock is held.
    pub fn push_to(&mut self, bot_id: i64, kind: &'static str, payload: Value) -> Option<String> {
        let bot = self.bot_by_id_mut(bot_id)?;
        bot.push(kind, payload).then(|| bot.token.clone())
    }
}
