//! The fake WhatsApp world: WhatsApp Business Accounts (WABAs), their phone numbers, the
//! system-user tokens that reach them, and the fault knobs.
//!
//! Kept in its own process-wide `static`, like the OAuth fakes' state (`crate::state`), and
//! for the same reasons: the sandbox is mounted through a plain `fn(&mut ServiceConfig)`, and
//! a real WABA is shared by every caller. Tests isolate themselves by creating their own
//! WABAs. The lock is never held across an `.await`; a poisoned lock is recovered, since
//! every update leaves the maps consistent.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::identity::derived_id;
use crate::state::{now, random_token};
use crate::table::IdStyle;

pub(crate) const SLUG: &str = "whatsapp";

/// WABA, phone number, system user and app ids look like Graph's: 15 digits from a 1.
const GRAPH_ID: IdStyle = IdStyle::Digits {
    prefix: "1",
    len: 15,
};

/// The app every token of this fake belongs to (what `debug_token` and `subscribed_apps`
/// name).
pub(crate) const APP_NAME: &str = "Plugboard sandbox";

pub(crate) fn app_id() -> String {
    derived_id(SLUG, "app", "plugboard-sandbox", GRAPH_ID)
}

/// The most phone numbers one fake WABA may have (a real WABA starts with a limit of 2 and
/// grows to 20 and more).
pub(crate) const MAX_PHONE_NUMBERS: u8 = 20;

#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub id: String,
    /// Graph's `display_phone_number`: `+1 201-555-0100`, in the fictional 555-01xx range.
    pub display: String,
    pub verified_name: String,
    /// The two-step verification PIN, once set (at creation, or by the first registration).
    pub pin: Option<String>,
    pub registered: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub override_callback_uri: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Waba {
    pub id: String,
    pub name: String,
    pub namespace: String,
    /// The system user whose tokens reach this WABA.
    pub system_user_id: String,
    pub numbers: Vec<Number>,
    /// The sandbox app's subscription to the WABA's webhooks.
    pub subscription: Option<Subscription>,
    /// Numbers a later Meta login took away (it asked for fewer), last taken first, so a
    /// login that asks for more again gets the same ones back.
    pub reserve: Vec<Number>,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub waba_id: String,
    pub issued_at: i64,
    /// Revoked tokens are kept so that `debug_token` can tell them from unknown ones.
    pub revoked: bool,
}

/// What a knob makes an endpoint do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Knob {
    /// 5xx in Graph's error shape.
    Fail,
    /// Graph's throttling error (code 80007 at listings, 133016 at registration).
    Throttled,
    /// Listings only: the WABA shows no phone number.
    Empty,
}

/// The fault knobs of one WABA (or of every WABA).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Knobs {
    /// `GET` of the WABA, of its phone numbers and of one phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listings: Option<Knob>,
    /// `POST` and `DELETE` of `subscribed_apps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe: Option<Knob>,
    /// `POST /{phone-number-id}/register`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<Knob>,
}

#[derive(Default)]
pub(crate) struct World {
    /// WABAs created so far; the next WABA's ids derive from it.
    created: u64,
    /// Phone numbers created so far; the next display number derives from it.
    numbers_created: u64,
    wabas: HashMap<String, Waba>,
    /// Phone number id → its WABA's id.
    number_owner: HashMap<String, String>,
    tokens: HashMap<String, Token>,
    /// Keyed by WABA id, `None` for the knobs of every WABA.
    knobs: HashMap<Option<String>, Knobs>,
    /// The WABA each fake user's Meta login made, keyed by (client id, user name).
    logins: HashMap<(String, String), String>,
}

static WORLD: OnceLock<Mutex<World>> = OnceLock::new();

pub(crate) fn with_world<R>(f: impl FnOnce(&mut World) -> R) -> R {
    let mutex = WORLD.get_or_init(|| Mutex::new(World::default()));
    let mut guard = mutex.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard)
}

/// `+1 201-555-0100`, `+1 201-555-0101`…: numbers reserved for fiction (555-0100 to
/// 555-0199), a new area code every hundred, so no two fake numbers are the same.
fn display_number(k: u64) -> String {
    let area = 201 + (k / 100) % 700;
    let line = 100 + k % 100;
    format!("+1 {area}-555-{line:04}")
}

/// What a lookup by id found.
pub(crate) enum Node {
    Waba(Waba),
    Number { waba_id: String, number: Number },
}

impl World {
    /// A new WABA with `phone_numbers` numbers (each with two-step verification `pin` when
    /// given) and a first system-user token. Ids derive from the creation order, so a fresh
    /// process always hands out the same ones.
    pub fn create_waba(
        &mut self,
        name: Option<String>,
        phone_numbers: u8,
        pin: Option<String>,
    ) -> (Waba, String) {
        let waba_id = loop {
            self.created += 1;
            let id = derived_id(SLUG, "waba", &self.created.to_string(), GRAPH_ID);
            if self.id_is_free(&id) {
                break id;
            }
        };
        let name = name.unwrap_or_else(|| format!("Sandbox WABA {}", self.created));
        let numbers = (0..usize::from(phone_numbers))
            .map(|i| self.new_number(&waba_id, &name, i, pin.clone()))
            .collect();
        let waba = self.insert_waba(waba_id.clone(), name, numbers);
        let token = self.issue_token(&waba_id).unwrap_or_default();
        (waba, token)
    }

    fn id_is_free(&self, id: &str) -> bool {
        !self.wabas.contains_key(id) && !self.number_owner.contains_key(id)
    }

    /// Number `index` of a WABA: its id derives from the WABA's, its display number is the
    /// next fictional one.
    fn new_number(
        &mut self,
        waba_id: &str,
        name: &str,
        index: usize,
        pin: Option<String>,
    ) -> Number {
        let id = derived_id(SLUG, waba_id, &format!("phone/{index}"), GRAPH_ID);
        let display = display_number(self.numbers_created);
        self.numbers_created += 1;
        self.number_owner.insert(id.clone(), waba_id.to_owned());
        Number {
            id,
            display,
            verified_name: format!("Sandbox Number {} of {name}", index + 1),
            pin,
            registered: false,
        }
    }

    fn insert_waba(&mut self, id: String, name: String, numbers: Vec<Number>) -> Waba {
        let namespace = derived_id(SLUG, &id, "namespace", IdStyle::Uuid).replace('-', "_");
        let waba = Waba {
            system_user_id: derived_id(SLUG, &id, "system-user", GRAPH_ID),
            id: id.clone(),
            name,
            namespace,
            numbers,
            subscription: None,
            reserve: Vec::new(),
        };
        self.wabas.insert(id, waba.clone());
        waba
    }

    /// The WABA the fake user `username`'s Meta login to `client_id` made, if any.
    pub fn login_waba(&self, client_id: &str, username: &str) -> Option<String> {
        self.logins
            .get(&(client_id.to_owned(), username.to_owned()))
            .cloned()
    }

    /// What a Meta login approved on the consent page does: the fake user's WABA (made on
    /// their first login to this app, the same one on every later login) now has
    /// `phone_numbers` numbers. Numbers kept from before keep their ids and display
    /// numbers; numbers taken away come back the same when a later login asks for them.
    pub fn sync_login_waba(
        &mut self,
        client_id: &str,
        username: &str,
        phone_numbers: u8,
    ) -> String {
        let waba_id = match self.login_waba(client_id, username) {
            Some(id) => id,
            None => {
                let mut salt = String::new();
                let id = loop {
                    let id = derived_id(
                        SLUG,
                        &format!("login/{client_id}{salt}"),
                        username,
                        GRAPH_ID,
                    );
                    if self.id_is_free(&id) {
                        break id;
                    }
                    salt.push('+');
                };
                self.insert_waba(
                    id.clone(),
                    format!("WABA of {username} (sandbox)"),
                    Vec::new(),
                );
                self.logins
                    .insert((client_id.to_owned(), username.to_owned()), id.clone());
                id
            }
        };
        let want = usize::from(phone_numbers);
        let Some(waba) = self.wabas.get_mut(&waba_id) else {
            return waba_id;
        };
        while waba.numbers.len() > want {
            if let Some(n) = waba.numbers.pop() {
                waba.reserve.push(n);
            }
        }
        while waba.numbers.len() < want {
            match waba.reserve.pop() {
                Some(n) => waba.numbers.push(n),
                None => break,
            }
        }
        let (have, name) = (waba.numbers.len(), waba.name.clone());
        let fresh: Vec<Number> = (have..want)
            .map(|i| self.new_number(&waba_id, &name, i, None))
            .collect();
        if let Some(waba) = self.wabas.get_mut(&waba_id) {
            waba.numbers.extend(fresh);
        }
        waba_id
    }

    /// Another system-user token for an existing WABA.
    pub fn issue_token(&mut self, waba_id: &str) -> Option<String> {
        self.wabas.get(waba_id)?;
        let token = random_token(SLUG, "su");
        self.tokens.insert(
            token.clone(),
            Token {
                waba_id: waba_id.to_owned(),
                issued_at: now().timestamp(),
                revoked: false,
            },
        );
        Some(token)
    }

    pub fn token(&self, token: &str) -> Option<Token> {
        self.tokens.get(token).cloned()
    }

    /// Revokes one token, or every token of one WABA; returns how many were live.
    pub fn revoke(&mut self, token: Option<&str>, waba_id: Option<&str>) -> usize {
        let mut revoked = 0;
        for (t, grant) in &mut self.tokens {
            let hit = token.is_some_and(|x| x == t) || waba_id.is_some_and(|w| w == grant.waba_id);
            if hit && !grant.revoked {
                grant.revoked = true;
                revoked += 1;
            }
        }
        revoked
    }

    pub fn waba(&self, id: &str) -> Option<&Waba> {
        self.wabas.get(id)
    }

    pub fn waba_mut(&mut self, id: &str) -> Option<&mut Waba> {
        self.wabas.get_mut(id)
    }

    pub fn node(&self, id: &str) -> Option<Node> {
        if let Some(waba) = self.wabas.get(id) {
            return Some(Node::Waba(waba.clone()));
        }
        let waba_id = self.number_owner.get(id)?;
        let number = self
            .wabas
            .get(waba_id)?
            .numbers
            .iter()
            .find(|n| n.id == id)?
            .clone();
        Some(Node::Number {
            waba_id: waba_id.clone(),
            number,
        })
    }

    pub fn number_mut(&mut self, id: &str) -> Option<&mut Number> {
        let waba_id = self.number_owner.get(id)?;
        self.wabas
            .get_mut(waba_id)?
            .numbers
            .iter_mut()
            .find(|n| n.id == id)
    }

    pub fn set_knobs(&mut self, waba_id: Option<String>, knobs: Knobs) {
        if knobs == Knobs::default() {
            self.knobs.remove(&waba_id);
        } else {
            self.knobs.insert(waba_id, knobs);
        }
    }

    /// The WABA's own knobs if set, else those of every WABA.
    pub fn knobs(&self, waba_id: &str) -> Knobs {
        self.knobs
            .get(&Some(waba_id.to_owned()))
            .or_else(|| self.knobs.get(&None))
            .cloned()
            .unwrap_or_default()
    }

    pub fn all_knobs(&self) -> Vec<(Option<String>, Knobs)> {
        let mut all: Vec<_> = self
            .knobs
            .iter()
            .map(|(w, k)| (w.clone(), k.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_numbers_are_fictional_and_never_repeat_within_seventy_thousand() {
        assert_eq!(display_number(0), "+1 201-555-0100");
        assert_eq!(display_number(99), "+1 201-555-0199");
        assert_eq!(display_number(100), "+1 202-555-0100");
        let all: std::collections::HashSet<String> = (0..70_000).map(display_number).collect();
        assert_eq!(all.len(), 70_000);
    }
}
