//! The webhook outbox. A change that integrators hear about (an account connected or
//! disconnected, an ads sync finished) queues its event in the same atomic step as the
//! change itself, as a [`DISPATCH_JOB`] job whose payload is a [`QueuedEvent`]: the event
//! exists exactly when the change does, and survives any crash after it. The dispatcher
//! fans queued events out to the matching webhooks.
//!
//! SQLite writes the change and the job in one transaction. MongoDB, which we use without
//! multi-document transactions, writes the event into a slot on the account document in
//! the same update as the change, then moves it into a job whose id is derived from the
//! event id (so moving it twice is harmless) and empties the slot; slots left full by a
//! crash are moved by [`crate::WebhookStore::relay_outbox`].

use crate::model::Account;
use chrono::{DateTime, SecondsFormat, Utc};
use plugboard_core::{AccountId, OwnerId, ProfileId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Job kind of a queued event waiting to be fanned out to webhooks.
pub const DISPATCH_JOB: &str = "webhook.dispatch";

/// The job id of a queued event: one per event, so queueing it again is a no-op.
pub fn dispatch_job_id(event_id: &str) -> String {
    format!("dispatch:{event_id}")
}

/// An account event to queue with an account change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountEvent {
    /// The event id receivers deduplicate on (`X-Zernio-Event-Id`).
    pub id: String,
    pub at: DateTime<Utc>,
    pub kind: AccountEventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum AccountEventKind {
    Connected,
    Disconnected {
        /// A user's action (`DELETE`), as opposed to the platform killing the grant.
        intentional: bool,
        reason: String,
    },
}

impl AccountEvent {
    pub fn connected(at: DateTime<Utc>) -> Self {
        Self {
            id: new_event_id(at),
            at,
            kind: AccountEventKind::Connected,
        }
    }

    pub fn disconnected(at: DateTime<Utc>, intentional: bool, reason: impl Into<String>) -> Self {
        Self {
            id: new_event_id(at),
            at,
            kind: AccountEventKind::Disconnected {
                intentional,
                reason: reason.into(),
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            AccountEventKind::Connected => "account.connected",
            AccountEventKind::Disconnected { .. } => "account.disconnected",
        }
    }

    /// The event as delivered, for the account as it is after the change.
    pub fn queued(&self, account: &Account, profile_external_id: Option<&str>) -> QueuedEvent {
        let mut body = account_summary(account);
        if let AccountEventKind::Disconnected {
            intentional,
            reason,
        } = &self.kind
        {
            body.insert(
                "disconnectionType".into(),
                json!(if *intentional {
                    "intentional"
                } else {
                    "unintentional"
                }),
            );
            body.insert("reason".into(), json!(reason));
        }
        QueuedEvent::new(
            &self.id,
            self.name(),
            self.at,
            &account.owner_id,
            Some(&account.profile_id),
            Some(&account.id),
            profile_external_id,
            [("account", Value::Object(body))],
        )
    }
}

/// The `account` object every account event carries.
pub fn account_summary(account: &Account) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("accountId".into(), json!(account.id));
    m.insert("profileId".into(), json!(account.profile_id));
    m.insert("platform".into(), json!(account.platform.as_str()));
    // Zernio always sends a username; platforms without handles have only a name.
    let username = account
        .username
        .clone()
        .or_else(|| account.display_name.clone())
        .unwrap_or_else(|| account.platform_user_id.clone());
    m.insert("username".into(), json!(username));
    if let Some(d) = &account.display_name {
        m.insert("displayName".into(), json!(d));
    }
    m
}

/// A fresh event id: 24 hex characters, like every other id.
pub fn new_event_id(at: DateTime<Utc>) -> String {
    plugboard_core::new_object_id(at.timestamp())
}

/// An event waiting to be delivered, with its body fixed: every delivery, retry and
/// redelivery sends exactly these bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedEvent {
    pub event_id: String,
    pub event: String,
    pub owner_id: OwnerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<ProfileId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountId>,
    pub body: String,
}

impl QueuedEvent {
    /// Builds the envelope `{id, event, timestamp, profiles?, …fields}`.
    #[allow(clippy::too_many_arguments)]
    pub fn new<'a>(
        event_id: &str,
        event: &str,
        at: DateTime<Utc>,
        owner: &OwnerId,
        profile_id: Option<&ProfileId>,
        account_id: Option<&AccountId>,
        profile_external_id: Option<&str>,
        fields: impl IntoIterator<Item = (&'a str, Value)>,
    ) -> Self {
        let mut body = serde_json::Map::new();
        body.insert("id".into(), json!(event_id));
        body.insert("event".into(), json!(event));
        body.insert(
            "timestamp".into(),
            json!(at.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        if let Some(p) = profile_id {
            body.insert(
                "profiles".into(),
                json!([{ "id": p, "externalId": profile_external_id }]),
            );
        }
        for (k, v) in fields {
            body.insert(k.into(), v);
        }
        Self {
            event_id: event_id.to_owned(),
            event: event.to_owned(),
            owner_id: owner.clone(),
            profile_id: profile_id.cloned(),
            account_id: account_id.cloned(),
            body: Value::Object(body).to_string(),
        }
    }

    pub fn job_payload(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use plugboard_core::Platform;

    fn account() -> Account {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Account {
            id: AccountId::generate(at.timestamp()),
            owner_id: OwnerId::generate(at.timestamp()),
            profile_id: ProfileId::generate(at.timestamp()),
            platform: Platform::Twitter,
            platform_user_id: "42".into(),
            destination_id: String::new(),
            username: None,
            display_name: Some("Ada".into()),
            profile_picture: None,
            profile_url: None,
            is_active: true,
            needs_reconnection: false,
            enabled: true,
            followers_count: None,
            followers_last_updated: None,
            parent_account_id: None,
            metadata: Default::default(),
            tokens: None,
            token_expires_at: None,
            scopes: vec![],
            created_at: at,
            updated_at: at,
            refresh_failures: 0,
        }
    }

    #[test]
    fn disconnection_body_has_the_envelope_and_the_zernio_account_fields() {
        let a = account();
        let at = DateTime::from_timestamp(1_800_000_100, 5_000_000).unwrap();
        let e = AccountEvent::disconnected(at, false, "Token revoked");
        let q = e.queued(&a, Some("crm-7"));
        let body: Value = serde_json::from_str(&q.body).unwrap();
        assert_eq!(body["id"], json!(e.id));
        assert_eq!(body["event"], "account.disconnected");
        assert_eq!(body["timestamp"], "2027-01-15T08:01:40.005Z");
        assert_eq!(body["profiles"][0]["externalId"], "crm-7");
        assert_eq!(body["account"]["accountId"], json!(a.id));
        assert_eq!(body["account"]["username"], "Ada");
        assert_eq!(body["account"]["disconnectionType"], "unintentional");
        assert_eq!(body["account"]["reason"], "Token revoked");
        assert_eq!(q.account_id.as_ref(), Some(&a.id));
    }

    #[test]
    fn queued_event_round_trips_through_a_job_payload() {
        let at = DateTime::from_timestamp(1_800_000_100, 0).unwrap();
        let q = AccountEvent::connected(at).queued(&account(), None);
        let back: QueuedEvent = serde_json::from_value(q.job_payload()).unwrap();
        assert_eq!(back, q);
    }
}
