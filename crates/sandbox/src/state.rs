//! The fakes' memory: registered clients, codes, tokens and fault knobs.
//!
//! Kept in a process-wide `static` rather than `web::Data` because the server mounts the
//! sandbox through a plain `fn(&mut web::ServiceConfig)`, which cannot carry state, and
//! because a real provider's memory is likewise shared by every caller. Tests isolate
//! themselves with their own client ids and usernames. The lock is never held across an
//! `.await`, and a poisoned lock is recovered: every update leaves the maps consistent.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Duration, Utc};
use plugboard_core::{Clock, SystemClock};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};

/// Accepted on every fake platform with any absolute http(s) redirect URI, so a server
/// configured with no credentials can run the whole flow against the sandbox.
pub const DEFAULT_CLIENT_ID: &str = "plugboard-sandbox";
pub const DEFAULT_CLIENT_SECRET: &str = "plugboard-sandbox-secret";

/// RFC 6749 §4.1.2 recommends a code lifetime of at most ten minutes.
pub(crate) const CODE_LIFETIME_SECONDS: i64 = 600;

#[derive(Clone)]
pub(crate) struct Client {
    pub secret: String,
    /// Empty: any absolute http(s) URI is accepted (the default client).
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    S256(String),
    Plain(String),
}

#[derive(Clone)]
pub(crate) struct CodeGrant {
    pub platform: &'static str,
    pub client_id: String,
    pub redirect_uri: String,
    pub username: String,
    pub scopes: Vec<String>,
    pub challenge: Option<Challenge>,
    pub issue_refresh: bool,
    /// How many Pages, organizations, boards… the fake user has (the consent form's
    /// `destinations` field); carried into every token the grant leads to.
    pub destinations: u8,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub(crate) struct AccessGrant {
    pub platform: &'static str,
    pub client_id: String,
    pub username: String,
    pub scopes: Vec<String>,
    pub destinations: u8,
    pub expires_at: DateTime<Utc>,
    pub long_lived: bool,
    /// The code it came from, so a replayed code can revoke it (RFC 6749 §4.1.2).
    pub from_code: Option<String>,
    /// A Facebook Page token: the index of the user's Page it acts as.
    pub page: Option<usize>,
}

#[derive(Clone)]
pub(crate) struct RefreshGrant {
    pub platform: &'static str,
    pub client_id: String,
    pub username: String,
    pub scopes: Vec<String>,
    pub destinations: u8,
    pub expires_at: Option<DateTime<Utc>>,
    pub from_code: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFault {
    /// 503 with the platform's error shape.
    Fail,
    /// Answers normally after a bounded delay.
    Slow,
    /// 200 with a truncated JSON body.
    Malformed,
    /// Every code and refresh token is refused as the platform refuses a dead grant.
    InvalidGrant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityFault {
    /// 500 from the identity endpoint.
    Fail,
    /// Every token is refused as unauthorized.
    Unauthorized,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationsFault {
    /// The listing endpoints answer 500 in the platform's error shape.
    Fail,
    /// Every listing is empty, whatever the consent form said.
    Empty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaFault {
    /// The platform's real quota error on its token and API endpoints (only the API for
    /// YouTube, whose quota is the Data API's), with its usage headers at the limit.
    Exceeded,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Faults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenFault>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityFault>,
    /// Knob of the listing endpoints (Pages, organizations, boards, locations…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<DestinationsFault>,
    /// Lifetime of access tokens issued from now on (and their `expires_in`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_seconds: Option<i64>,
    /// Delay of the `slow` fault, capped at [`MAX_SLOW_MILLIS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_millis: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaFault>,
    /// The usage the rate-limit headers of normal answers report, in percent (Meta's
    /// `X-App-Usage`; the share of X's and Reddit's windows used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_percent: Option<u32>,
}

pub(crate) const DEFAULT_SLOW_MILLIS: u64 = 3000;
pub(crate) const MAX_SLOW_MILLIS: u64 = 5000;

#[derive(Default)]
pub(crate) struct State {
    clients: HashMap<(&'static str, String), Client>,
    codes: HashMap<String, CodeGrant>,
    /// Codes already exchanged, kept until they would have expired.
    used_codes: HashMap<String, DateTime<Utc>>,
    pub access: HashMap<String, AccessGrant>,
    pub refresh: HashMap<String, RefreshGrant>,
    /// Keyed by platform and, when the knob was set for one app only, its client id.
    faults: HashMap<(&'static str, Option<String>), Faults>,
    /// Per platform: the start of the current rate-limit window and the calls in it.
    windows: HashMap<&'static str, (DateTime<Utc>, u64)>,
    /// What tests and benchmarks read back (`GET /sandbox/_stats`).
    pub stats: Stats,
    /// When expired access and refresh tokens are next dropped (see [`PURGE_EVERY`]).
    next_purge_access: DateTime<Utc>,
    next_purge_refresh: DateTime<Utc>,
}

/// Expired tokens are dropped at most this often. Every lookup checks the expiry itself, so
/// this only bounds memory; dropping them on every insert scanned the whole map each time,
/// which made a benchmark's sweep of 100,000 refreshes quadratic in the fake.
const PURGE_EVERY: Duration = Duration::seconds(10);

/// Counts of refresh grants, so a test can tell a token was refreshed exactly once.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Successful refreshes per `platform/username`.
    pub refreshes: std::collections::BTreeMap<String, u64>,
    /// Refresh tokens that were rotated away and presented again (two refreshers racing
    /// on one account would do this).
    pub rotated_reused: u64,
    pub rotated_away: std::collections::HashSet<String>,
}

static STATE: OnceLock<Mutex<State>> = OnceLock::new();

pub(crate) fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    let mutex = STATE.get_or_init(|| Mutex::new(State::default()));
    let mut guard = mutex.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard)
}

pub(crate) fn now() -> DateTime<Utc> {
    SystemClock.now()
}

/// An opaque random token, prefixed so a reader of logs can tell which fake issued it.
pub(crate) fn random_token(platform: &str, kind: &str) -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("sbx-{platform}-{kind}-{tail}")
}

impl State {
    pub fn register_client(&mut self, platform: &'static str, id: String, client: Client) {
        self.clients.insert((platform, id), client);
    }

    pub fn client(&self, platform: &'static str, id: &str) -> Option<Client> {
        if let Some(c) = self.clients.get(&(platform, id.to_owned())) {
            return Some(c.clone());
        }
        (id == DEFAULT_CLIENT_ID).then(|| Client {
            secret: DEFAULT_CLIENT_SECRET.to_owned(),
            redirect_uris: Vec::new(),
        })
    }

    pub fn insert_code(&mut self, grant: CodeGrant) -> String {
        let now = now();
        self.codes.retain(|_, c| c.expires_at > now);
        self.used_codes.retain(|_, exp| *exp > now);
        let code = random_token(grant.platform, "code");
        self.codes.insert(code.clone(), grant);
        code
    }

    /// Takes a code out for good. A code presented a second time revokes what the first
    /// exchange issued (RFC 6749 §4.1.2) and is reported as unknown.
    pub fn take_code(&mut self, code: &str) -> Option<CodeGrant> {
        if let Some(grant) = self.codes.remove(code) {
            self.used_codes.insert(
                code.to_owned(),
                grant.expires_at + Duration::seconds(CODE_LIFETIME_SECONDS),
            );
            return Some(grant);
        }
        if self.used_codes.contains_key(code) {
            self.access
                .retain(|_, a| a.from_code.as_deref() != Some(code));
            self.refresh
                .retain(|_, r| r.from_code.as_deref() != Some(code));
        }
        None
    }

    pub fn insert_access(&mut self, grant: AccessGrant) -> String {
        let now = now();
        if now >= self.next_purge_access {
            self.access.retain(|_, a| a.expires_at > now);
            self.next_purge_access = now + PURGE_EVERY;
        }
        let token = random_token(grant.platform, "at");
        self.access.insert(token.clone(), grant);
        token
    }

    /// The Page token of one of the user's Pages: the live one issued before to this app
    /// for this user and Page, else a new one. Reusing it keeps repeated listings from
    /// filling the map, and matches Graph, which hands out the same kind of token each time.
    /// Page tokens obtained from a user token do not expire (platforms.md §3); they die with
    /// the user's revocation like every other token of theirs.
    pub fn page_token(&mut self, user: &AccessGrant, page: usize) -> String {
        let existing = self.access.iter().find(|(_, a)| {
            a.page == Some(page)
                && a.platform == user.platform
                && a.client_id == user.client_id
                && a.username == user.username
        });
        if let Some((token, _)) = existing {
            return token.clone();
        }
        let token = random_token(user.platform, "page");
        self.access.insert(
            token.clone(),
            AccessGrant {
                expires_at: DateTime::<Utc>::MAX_UTC,
                long_lived: true,
                page: Some(page),
                ..user.clone()
            },
        );
        token
    }

    pub fn insert_refresh(&mut self, grant: RefreshGrant) -> String {
        let token = random_token(grant.platform, "rt");
        self.register_refresh(token.clone(), grant);
        token
    }

    /// Stores a refresh token chosen by the caller (`POST /sandbox/_grants`) or issued here.
    pub fn register_refresh(&mut self, token: String, grant: RefreshGrant) {
        let now = now();
        if now >= self.next_purge_refresh {
            self.refresh
                .retain(|_, r| r.expires_at.is_none_or(|exp| exp > now));
            self.next_purge_refresh = now + PURGE_EVERY;
        }
        self.refresh.insert(token, grant);
    }

    /// Forgets every token of one user on one platform (optionally of one app only).
    pub fn revoke_user(
        &mut self,
        platform: &str,
        username: &str,
        client_id: Option<&str>,
    ) -> usize {
        let matches = |p: &str, u: &str, c: &str| {
            p == platform && u == username && client_id.is_none_or(|id| id == c)
        };
        let before = self.access.len() + self.refresh.len();
        self.access
            .retain(|_, a| !matches(a.platform, &a.username, &a.client_id));
        self.refresh
            .retain(|_, r| !matches(r.platform, &r.username, &r.client_id));
        before - self.access.len() - self.refresh.len()
    }

    /// Forgets one token, access or refresh (RFC 7009 revocation endpoints).
    pub fn revoke_token(&mut self, platform: &str, token: &str) {
        if self
            .access
            .get(token)
            .is_some_and(|a| a.platform == platform)
        {
            self.access.remove(token);
        }
        if self
            .refresh
            .get(token)
            .is_some_and(|r| r.platform == platform)
        {
            self.refresh.remove(token);
        }
    }

    pub fn set_faults(
        &mut self,
        platform: &'static str,
        client_id: Option<String>,
        faults: Faults,
    ) {
        if faults == Faults::default() {
            self.faults.remove(&(platform, client_id));
        } else {
            self.faults.insert((platform, client_id), faults);
        }
    }

    /// The knobs for this app on this platform: its own if set, else the platform's.
    pub fn faults(&self, platform: &'static str, client_id: Option<&str>) -> Faults {
        client_id
            .and_then(|id| self.faults.get(&(platform, Some(id.to_owned()))))
            .or_else(|| self.faults.get(&(platform, None)))
            .cloned()
            .unwrap_or_default()
    }

    /// Counts one call in the platform's rate-limit window of `length` (a new window
    /// starts when the last one is over); returns the calls so far and the window's end.
    pub fn count_call(
        &mut self,
        platform: &'static str,
        length: Duration,
        now: DateTime<Utc>,
    ) -> (u64, DateTime<Utc>) {
        let w = self.windows.entry(platform).or_insert((now, 0));
        if now >= w.0 + length {
            *w = (now, 0);
        }
        w.1 += 1;
        (w.1, w.0 + length)
    }

    pub fn all_faults(&self) -> Vec<(&'static str, Option<String>, Faults)> {
        let mut all: Vec<_> = self
            .faults
            .iter()
            .map(|((p, c), f)| (*p, c.clone(), f.clone()))
            .collect();
        all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        all
    }
}
