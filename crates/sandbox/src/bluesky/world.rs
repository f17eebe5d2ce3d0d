//! The fake PDS's memory: accounts, their app passwords and knobs, stored refresh tokens and
//! createSession attempts. Process-wide like the OAuth fakes' state (see `crate::state` for
//! why); tests isolate themselves by using their own handles. The lock is never held across
//! an `.await` and a poisoned lock is recovered: every update leaves the maps consistent.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::jwt::{self, Claims, TYP_ACCESS, TYP_REFRESH};

/// The fake's service DID: the `aud` of every token and `describeServer`'s `did`. Fixed
/// (not derived from the Host header) so a session keeps working whichever loopback name
/// reaches the fake.
pub(crate) const SERVICE_DID: &str = "did:web:bluesky.sandbox.plugboard.test";

/// Reference PDS lifetimes (platforms.md §13): access 120 min, refresh 90 days, and a
/// rotated refresh token stays usable for 2 hours (`REFRESH_GRACE_MS`).
pub(crate) const ACCESS_LIFETIME_SECONDS: i64 = 2 * 60 * 60;
pub(crate) const REFRESH_LIFETIME_SECONDS: i64 = 90 * 24 * 60 * 60;
pub(crate) const REFRESH_GRACE_SECONDS: i64 = 2 * 60 * 60;

/// createSession's limits, per account: 30 per 5 minutes and 300 per day (platforms.md §13;
/// the reference PDS keys them by identifier and client IP).
pub(crate) const SESSION_LIMITS: [(i64, usize); 2] = [(5 * 60, 30), (24 * 60 * 60, 300)];

/// The reference PDS refuses longer passwords before hashing them (`OLD_PASSWORD_MAX_LENGTH`).
pub(crate) const PASSWORD_MAX_LENGTH: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// A session made with the account password.
    Access,
    /// A session made with an app password.
    AppPass,
    /// A session made with an app password allowed to read DMs.
    AppPassPrivileged,
    /// A taken-down account that asked `allowTakendown`.
    Takendown,
    Refresh,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Access => "com.atproto.access",
            Scope::AppPass => "com.atproto.appPass",
            Scope::AppPassPrivileged => "com.atproto.appPassPrivileged",
            Scope::Takendown => "com.atproto.takendown",
            Scope::Refresh => "com.atproto.refresh",
        }
    }

    /// Scopes that may call ordinary authenticated endpoints.
    pub fn is_standard_access(scope: &str) -> bool {
        [Scope::Access, Scope::AppPass, Scope::AppPassPrivileged]
            .iter()
            .any(|s| s.as_str() == scope)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Active,
    /// Taken down by moderation: the account password answers `AccountTakedown`, an app
    /// password is simply wrong, and every refresh token is revoked.
    Takendown,
    /// Deactivated by its owner: logins still work and say `active: false`.
    Deactivated,
}

/// Per-account knobs. A request replaces them as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Knobs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_lifetime_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_lifetime_seconds: Option<i64>,
    /// How long a rotated refresh token still works (reference: 2 hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_grace_seconds: Option<i64>,
    /// Email two-factor on: an account-password login must carry this `authFactorToken`,
    /// else `AuthFactorTokenRequired`. App passwords skip it, as on the real PDS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_factor_token: Option<String>,
    /// Session answers carry no `didDoc`, as from a PDS without
    /// `PDS_ENABLE_DID_DOC_WITH_SESSION` (the reference PDS's default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub omit_did_doc: bool,
    /// The didDoc's `#atproto_pds` endpoint instead of this fake's own URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pds_endpoint: Option<String>,
    /// `app.bsky.actor.getProfile` answers `502 UpstreamFailure`, as a PDS with no AppView
    /// behind it does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub app_view_unreachable: bool,
}

#[derive(Clone)]
pub(crate) struct AppPassword {
    pub name: String,
    pub password: String,
    pub privileged: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Profile {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub followers_count: i64,
    pub follows_count: i64,
    pub posts_count: i64,
}

#[derive(Clone)]
pub(crate) struct Account {
    pub did: String,
    pub handle: String,
    pub email: Option<String>,
    pub password: String,
    pub app_passwords: Vec<AppPassword>,
    pub status: Status,
    pub profile: Profile,
    pub knobs: Knobs,
    pub created_at: i64,
}

impl Account {
    fn access_lifetime(&self) -> i64 {
        self.knobs
            .access_lifetime_seconds
            .unwrap_or(ACCESS_LIFETIME_SECONDS)
    }

    fn refresh_lifetime(&self) -> i64 {
        self.knobs
            .refresh_lifetime_seconds
            .unwrap_or(REFRESH_LIFETIME_SECONDS)
    }

    fn refresh_grace(&self) -> i64 {
        self.knobs
            .refresh_grace_seconds
            .unwrap_or(REFRESH_GRACE_SECONDS)
    }
}

/// A refresh token the fake issued and has not revoked (`refresh_token` table).
#[derive(Clone)]
struct RefreshRecord {
    did: String,
    /// The app password it descends from; revoking that password revokes the token.
    app_password: Option<String>,
    expires_at: i64,
    /// Set once rotated: reusing it within the grace gives a token with this same id.
    next_id: Option<String>,
}

/// A pair of session tokens just issued.
pub(crate) struct Tokens {
    pub access_jwt: String,
    pub refresh_jwt: String,
}

/// What a login attempt came to, before rendering.
pub(crate) enum Login {
    Session {
        did: String,
        tokens: Tokens,
    },
    BadCredentials,
    PasswordTooLong,
    Takendown,
    AuthFactorRequired,
    AuthFactorInvalid,
    RateLimited {
        limit: usize,
        window: i64,
        reset: i64,
    },
}

/// What presenting a refresh token came to.
pub(crate) enum Rotation {
    Rotated {
        did: String,
        tokens: Tokens,
    },
    /// Revoked, rotated and past its grace, or its app password was revoked.
    Revoked,
    UnknownAccount,
    Takendown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AdminError {
    Invalid(String),
    Conflict(String),
    NotFound(String),
}

#[derive(Default)]
pub(crate) struct World {
    accounts: HashMap<String, Account>,
    by_handle: HashMap<String, String>,
    by_email: HashMap<String, String>,
    refresh: HashMap<String, RefreshRecord>,
    attempts: HashMap<String, VecDeque<i64>>,
}

static WORLD: OnceLock<Mutex<World>> = OnceLock::new();

pub(crate) fn with_world<R>(f: impl FnOnce(&mut World) -> R) -> R {
    let mutex = WORLD.get_or_init(|| Mutex::new(World::default()));
    let mut guard = mutex.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard)
}

pub(crate) fn now_seconds() -> i64 {
    crate::state::now().timestamp()
}

fn digest(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"plugboard-sandbox-bluesky");
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

fn base32(bytes: &[u8], len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    bytes
        .iter()
        .cycle()
        .take(len)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// did:plc identifiers are 24 base32 characters of a hash of the genesis operation; the
/// fake hashes the handle, so the same handle always gets the same DID.
fn did_for(handle: &str) -> String {
    format!("did:plc:{}", base32(&digest(&["did", handle]), 24))
}

/// A fake `publicKeyMultibase` for the didDoc (shape only: `z` + base58btc text).
pub(crate) fn signing_key(did: &str) -> String {
    const B58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let d = digest(&["key", did]);
    let tail: String = d
        .iter()
        .cycle()
        .take(44)
        .map(|b| char::from(B58[usize::from(*b) % B58.len()]))
        .collect();
    format!("zQ3sh{tail}")
}

/// A well-formed content id for the profile record: CIDv1, dag-cbor (0x71), sha2-256
/// (0x12, 32 bytes) of a hash of the record, in multibase base32 (`b…`), as clients parse it.
pub(crate) fn record_cid(did: &str, value: &str) -> String {
    let mut bytes = vec![0x01, 0x71, 0x12, 0x20];
    bytes.extend_from_slice(&digest(&["cid", did, value]));
    format!("b{}", rfc4648_base32(&bytes))
}

/// RFC 4648 §6 base32, lowercase, without padding.
fn rfc4648_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// App passwords look like the reference PDS's: four groups of four base32 characters.
fn new_app_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::thread_rng();
    let groups: Vec<String> = (0..4)
        .map(|_| {
            (0..4)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect()
        })
        .collect();
    groups.join("-")
}

fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A handle as atproto defines one: at least two dot-separated labels of ASCII letters,
/// digits and inner hyphens, at most 253 characters, the last label not starting with a
/// digit. Returned lowercased.
pub(crate) fn normalize_handle(raw: &str) -> Option<String> {
    let handle = raw.trim().to_ascii_lowercase();
    let labels: Vec<&str> = handle.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let ok = handle.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|tld| tld.starts_with(|c: char| c.is_ascii_alphabetic()));
    ok.then_some(handle)
}

pub(crate) fn default_profile(handle: &str) -> Profile {
    let d = digest(&["profile", handle]);
    let first = handle.split('.').next().unwrap_or(handle);
    Profile {
        display_name: Some(crate::identity::display_name(first)),
        description: Some(format!(
            "A fake Bluesky account of the Plugboard sandbox ({handle})."
        )),
        followers_count: i64::from(u16::from_be_bytes([d[0], d[1]]) % 5000),
        follows_count: i64::from(u16::from_be_bytes([d[2], d[3]]) % 500),
        posts_count: i64::from(u16::from_be_bytes([d[4], d[5]]) % 2000),
    }
}

impl World {
    pub fn create_account(
        &mut self,
        handle: &str,
        password: &str,
        email: Option<&str>,
        profile: Profile,
    ) -> Result<Account, AdminError> {
        let handle = normalize_handle(handle).ok_or_else(|| {
            AdminError::Invalid(format!(
                "{handle:?} is not a valid handle (e.g. alice.test: two or more labels of letters, digits and hyphens)"
            ))
        })?;
        if password.is_empty() || password.len() > PASSWORD_MAX_LENGTH {
            return Err(AdminError::Invalid(format!(
                "the password must be 1 to {PASSWORD_MAX_LENGTH} characters"
            )));
        }
        let email = email.map(|e| e.trim().to_ascii_lowercase());
        if let Some(e) = &email {
            if !e.contains('@') || e.starts_with('@') || e.ends_with('@') {
                return Err(AdminError::Invalid(format!(
                    "{e:?} is not an email address"
                )));
            }
            if self.by_email.contains_key(e) {
                return Err(AdminError::Conflict(format!(
                    "the email {e} is already in use"
                )));
            }
        }
        if self.by_handle.contains_key(&handle) {
            return Err(AdminError::Conflict(format!(
                "the handle {handle} is already taken"
            )));
        }
        let did = did_for(&handle);
        let account = Account {
            did: did.clone(),
            handle: handle.clone(),
            email: email.clone(),
            password: password.to_owned(),
            app_passwords: Vec::new(),
            status: Status::Active,
            profile,
            knobs: Knobs::default(),
            created_at: now_seconds(),
        };
        self.by_handle.insert(handle, did.clone());
        if let Some(e) = email {
            self.by_email.insert(e, did.clone());
        }
        self.accounts.insert(did, account.clone());
        Ok(account)
    }

    /// An account by DID, handle or email, as createSession's `identifier` names it (the
    /// reference PDS lowercases it first; an `@` makes it an email).
    pub fn find(&self, identifier: &str) -> Option<&Account> {
        let id = identifier.trim().to_ascii_lowercase();
        let did = if id.contains('@') {
            self.by_email.get(&id)?
        } else if id.starts_with("did:") {
            &id
        } else {
            self.by_handle.get(&id)?
        };
        self.accounts.get(did)
    }

    fn find_mut(&mut self, identifier: &str) -> Result<&mut Account, AdminError> {
        let did = self
            .find(identifier)
            .map(|a| a.did.clone())
            .ok_or_else(|| AdminError::NotFound(format!("no account {identifier:?}")))?;
        self.accounts
            .get_mut(&did)
            .ok_or_else(|| AdminError::NotFound(format!("no account {identifier:?}")))
    }

    pub fn account(&self, did: &str) -> Option<&Account> {
        self.accounts.get(did)
    }

    pub fn accounts(&self) -> Vec<Account> {
        let mut all: Vec<Account> = self.accounts.values().cloned().collect();
        all.sort_by(|a, b| a.handle.cmp(&b.handle));
        all
    }

    pub fn live_sessions(&self, did: &str) -> usize {
        let now = now_seconds();
        self.refresh
            .values()
            .filter(|r| r.did == did && r.expires_at > now && r.next_id.is_none())
            .count()
    }

    pub fn create_app_password(
        &mut self,
        identifier: &str,
        name: &str,
        privileged: bool,
    ) -> Result<AppPassword, AdminError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(AdminError::Invalid(
                "an app password needs a name of 1 to 64 characters".into(),
            ));
        }
        let account = self.find_mut(identifier)?;
        if account.app_passwords.iter().any(|p| p.name == name) {
            return Err(AdminError::Conflict(format!(
                "{} already has an app password named {name:?}",
                account.handle
            )));
        }
        let created = AppPassword {
            name: name.to_owned(),
            password: new_app_password(),
            privileged,
            created_at: now_seconds(),
        };
        account.app_passwords.push(created.clone());
        Ok(created)
    }

    /// Removes an app password and every refresh token that came from it (reference
    /// `revokeAppPasswordRefreshToken`). Returns how many live sessions died.
    pub fn revoke_app_password(
        &mut self,
        identifier: &str,
        name: &str,
    ) -> Result<usize, AdminError> {
        let account = self.find_mut(identifier)?;
        let before = account.app_passwords.len();
        account.app_passwords.retain(|p| p.name != name);
        if account.app_passwords.len() == before {
            return Err(AdminError::NotFound(format!(
                "{} has no app password named {name:?}",
                account.handle
            )));
        }
        let did = account.did.clone();
        let sessions = self.live_sessions_of_app_password(&did, name);
        self.refresh
            .retain(|_, r| !(r.did == did && r.app_password.as_deref() == Some(name)));
        Ok(sessions)
    }

    fn live_sessions_of_app_password(&self, did: &str, name: &str) -> usize {
        self.refresh
            .values()
            .filter(|r| {
                r.did == did && r.app_password.as_deref() == Some(name) && r.next_id.is_none()
            })
            .count()
    }

    /// Takedown revokes every refresh token of the account (reference `takedownAccount`).
    pub fn set_status(&mut self, identifier: &str, status: Status) -> Result<Account, AdminError> {
        let account = self.find_mut(identifier)?;
        account.status = status;
        let account = account.clone();
        if status == Status::Takendown {
            self.refresh.retain(|_, r| r.did != account.did);
        }
        Ok(account)
    }

    pub fn set_knobs(&mut self, identifier: &str, knobs: Knobs) -> Result<Account, AdminError> {
        for (name, v) in [
            ("accessLifetimeSeconds", knobs.access_lifetime_seconds),
            ("refreshLifetimeSeconds", knobs.refresh_lifetime_seconds),
            ("refreshGraceSeconds", knobs.refresh_grace_seconds),
        ] {
            if v.is_some_and(|v| !(0..=REFRESH_LIFETIME_SECONDS * 10).contains(&v)) {
                return Err(AdminError::Invalid(format!(
                    "{name} must be between 0 and {}",
                    REFRESH_LIFETIME_SECONDS * 10
                )));
            }
        }
        if let Some(endpoint) = &knobs.pds_endpoint {
            let ok = url::Url::parse(endpoint)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            if !ok {
                return Err(AdminError::Invalid(format!(
                    "pdsEndpoint {endpoint:?} is not an absolute http(s) URL"
                )));
            }
        }
        if knobs.auth_factor_token.as_deref() == Some("") {
            return Err(AdminError::Invalid(
                "authFactorToken must not be empty (leave it out to turn two-factor off)".into(),
            ));
        }
        let account = self.find_mut(identifier)?;
        account.knobs = knobs;
        Ok(account.clone())
    }

    /// Counts one createSession attempt against the account's (or unknown identifier's)
    /// windows; `Err` is the window that is full, with when it frees up.
    fn count_attempt(&mut self, key: String, now: i64) -> Result<(), (usize, i64, i64)> {
        let longest = SESSION_LIMITS.iter().map(|(w, _)| *w).max().unwrap_or(0);
        let attempts = self.attempts.entry(key).or_default();
        while attempts.front().is_some_and(|t| *t <= now - longest) {
            attempts.pop_front();
        }
        for (window, limit) in SESSION_LIMITS {
            let inside: Vec<i64> = attempts
                .iter()
                .copied()
                .filter(|t| *t > now - window)
                .collect();
            if inside.len() >= limit {
                let reset = inside.first().map_or(now, |t| t + window);
                return Err((limit, window, reset));
            }
        }
        attempts.push_back(now);
        Ok(())
    }

    /// `com.atproto.server.createSession`, as `AccountManager.login` and the handler do it.
    pub fn login(
        &mut self,
        identifier: &str,
        password: &str,
        auth_factor_token: Option<&str>,
        allow_takendown: bool,
    ) -> Login {
        let now = now_seconds();
        let account = self.find(identifier).cloned();
        let key = account.as_ref().map_or_else(
            || format!("identifier:{}", identifier.trim().to_ascii_lowercase()),
            |a| format!("did:{}", a.did),
        );
        if let Err((limit, window, reset)) = self.count_attempt(key, now) {
            return Login::RateLimited {
                limit,
                window,
                reset,
            };
        }
        if password.len() > PASSWORD_MAX_LENGTH {
            return Login::PasswordTooLong;
        }
        let Some(account) = account else {
            return Login::BadCredentials;
        };
        let taken_down = account.status == Status::Takendown;
        let app_password = if same_secret(&account.password, password) {
            None
        } else {
            // Taken-down accounts cannot log in with an app password: it is just wrong.
            if taken_down {
                return Login::BadCredentials;
            }
            match account
                .app_passwords
                .iter()
                .find(|p| same_secret(&p.password, password))
            {
                Some(p) => Some(p.clone()),
                None => return Login::BadCredentials,
            }
        };
        if taken_down && !allow_takendown {
            return Login::Takendown;
        }
        if app_password.is_none()
            && !taken_down
            && let Some(expected) = &account.knobs.auth_factor_token
        {
            match auth_factor_token {
                None | Some("") => return Login::AuthFactorRequired,
                Some(given) if !same_secret(expected, given.trim()) => {
                    return Login::AuthFactorInvalid;
                }
                Some(_) => {}
            }
        }
        let scope = if taken_down {
            Scope::Takendown
        } else {
            match &app_password {
                None => Scope::Access,
                Some(p) if p.privileged => Scope::AppPassPrivileged,
                Some(_) => Scope::AppPass,
            }
        };
        let tokens = self.issue(
            &account,
            scope,
            app_password.map(|p| p.name),
            jwt::token_id(),
            // Taken-down sessions are not stored, so they cannot be rotated.
            !taken_down,
        );
        Login::Session {
            did: account.did,
            tokens,
        }
    }

    fn issue(
        &mut self,
        account: &Account,
        scope: Scope,
        app_password: Option<String>,
        jti: String,
        store: bool,
    ) -> Tokens {
        let now = now_seconds();
        let access = Claims {
            scope: scope.as_str().to_owned(),
            aud: SERVICE_DID.to_owned(),
            sub: account.did.clone(),
            jti: None,
            iat: now,
            exp: now + account.access_lifetime(),
        };
        let refresh_exp = now + account.refresh_lifetime();
        let refresh = Claims {
            scope: Scope::Refresh.as_str().to_owned(),
            aud: SERVICE_DID.to_owned(),
            sub: account.did.clone(),
            jti: Some(jti.clone()),
            iat: now,
            exp: refresh_exp,
        };
        if store {
            self.refresh.retain(|_, r| r.expires_at > now);
            // Reusing a rotated token within its grace gives the same next id again; the
            // first record of that id wins (the reference inserts with ON CONFLICT DO NOTHING).
            self.refresh.entry(jti).or_insert(RefreshRecord {
                did: account.did.clone(),
                app_password,
                expires_at: refresh_exp,
                next_id: None,
            });
        }
        Tokens {
            access_jwt: jwt::sign(TYP_ACCESS, &access),
            refresh_jwt: jwt::sign(TYP_REFRESH, &refresh),
        }
    }

    /// `com.atproto.server.refreshSession` after the token itself verified: the reference's
    /// `rotateRefreshToken`. The presented token's life is cut to the grace period and a
    /// token with its next id is issued.
    pub fn rotate(&mut self, did: &str, jti: &str) -> Rotation {
        let now = now_seconds();
        let Some(account) = self.accounts.get(did).cloned() else {
            return Rotation::UnknownAccount;
        };
        if account.status == Status::Takendown {
            return Rotation::Takendown;
        }
        let Some(record) = self.refresh.get(jti).cloned() else {
            return Rotation::Revoked;
        };
        let app_password_gone = record
            .app_password
            .as_ref()
            .is_some_and(|name| !account.app_passwords.iter().any(|p| &p.name == name));
        if record.did != did || app_password_gone || record.expires_at <= now {
            self.refresh.remove(jti);
            return Rotation::Revoked;
        }
        let expires_at = record.expires_at.min(now + account.refresh_grace());
        let next_id = record.next_id.clone().unwrap_or_else(jwt::token_id);
        self.refresh.insert(
            jti.to_owned(),
            RefreshRecord {
                expires_at,
                next_id: Some(next_id.clone()),
                ..record.clone()
            },
        );
        let scope = match &record.app_password {
            None => Scope::Access,
            Some(name) => {
                let privileged = account
                    .app_passwords
                    .iter()
                    .any(|p| &p.name == name && p.privileged);
                if privileged {
                    Scope::AppPassPrivileged
                } else {
                    Scope::AppPass
                }
            }
        };
        let tokens = self.issue(&account, scope, record.app_password, next_id, true);
        Rotation::Rotated {
            did: account.did,
            tokens,
        }
    }

    /// `com.atproto.server.deleteSession`: forgets the refresh token.
    pub fn revoke_refresh(&mut self, jti: &str) {
        self.refresh.remove(jti);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_validated_and_lowercased() {
        for (raw, expected) in [
            ("Alice.Test", Some("alice.test")),
            ("a-b.c-d.example", Some("a-b.c-d.example")),
            ("alice", None),
            ("alice.", None),
            ("-alice.test", None),
            ("alice.123", None),
            ("al_ice.test", None),
            ("", None),
        ] {
            assert_eq!(normalize_handle(raw).as_deref(), expected, "{raw:?}");
        }
    }

    #[test]
    fn dids_derive_from_the_handle_in_did_plc_shape() {
        let did = did_for("alice.test");
        assert_eq!(did, did_for("alice.test"));
        assert_ne!(did, did_for("bob.test"));
        let tail = did.strip_prefix("did:plc:").unwrap();
        assert_eq!(tail.len(), 24);
        assert!(
            tail.chars()
                .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
        );
    }

    #[test]
    fn base32_follows_rfc_4648() {
        // RFC 4648 §10 test vectors, lowercased and unpadded.
        for (input, expected) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(rfc4648_base32(input.as_bytes()), expected, "{input:?}");
        }
        let cid = record_cid("did:plc:x", "{}");
        assert!(cid.starts_with("bafyrei") && cid.len() == 59, "{cid}");
    }

    #[test]
    fn app_passwords_have_the_reference_format() {
        let p = new_app_password();
        let groups: Vec<&str> = p.split('-').collect();
        assert_eq!(groups.len(), 4, "{p}");
        assert!(groups.iter().all(|g| g.len() == 4), "{p}");
    }
}
