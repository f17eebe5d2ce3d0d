//! The connect flow (ARCHITECTURE "The connect flow"): start a session, take the provider's
//! callback, hand a selection to the integrator or the hosted picker, and upsert the
//! account. Platform protocol lives in `plugboard-platforms`; this module only sequences it
//! and keeps every step's state in the store, so any replica can serve any step.

mod ads;
mod bluesky;
mod callback;
mod manage;
mod outcome;
mod select;
mod session;
mod start;
mod telegram;
mod tickets;
mod whatsapp;

pub use ads::{ADS_SYNC_JOB, AdsConnectStarted, StartAdsConnect, normalize_ad_account_id};
pub use bluesky::{BlueskyCredentials, profile_from_state, valid_identifier};
pub use callback::{CallbackInput, CallbackOutcome, CodeCompletion, step_name};
pub use manage::AccountDestinations;
pub use outcome::{ConnectError, QUOTA_EXCEEDED, ResultPage};
pub use select::{Choice, PendingView, SelectAuthority, SelectOutcome, Selected};
pub use session::{AccountTokens, ConnectToken, PendingToken, StateToken};
pub use start::{StartConnect, StartedConnect};
pub use telegram::{
    POLLER_LEASE, TelegramCode, TelegramContext, TelegramPoller, TelegramStatus, find_code,
    webhook_secret_for,
};
pub use tickets::{IssuedTicket, NewTicket, TICKET_LIFETIME, TicketRefusal};
pub use whatsapp::{WhatsAppConnected, WhatsAppCredentials, valid_graph_id, valid_pin};

use plugboard_core::Platform;
use plugboard_platforms::{Connector, Connectors, Flavor};
use std::collections::BTreeSet;
use std::sync::Arc;
use url::Url;

/// What the connect flow needs beyond the store: the configured connectors and where
/// Plugboard is reachable by browsers.
#[derive(Clone)]
pub struct ConnectContext {
    pub connectors: Connectors,
    /// The externally reachable base URL; callbacks and hosted pages hang off it.
    pub public_url: Url,
    /// Platforms served by the built-in fakes (no app credentials, sandbox on).
    pub sandboxed: BTreeSet<Platform>,
    pub bluesky: Option<Arc<plugboard_platforms::bluesky::BlueskyClient>>,
    pub telegram: Option<Arc<TelegramContext>>,
    pub whatsapp: Option<Arc<plugboard_platforms::whatsapp::WhatsAppClient>>,
}

impl ConnectContext {
    pub fn new(connectors: Connectors, public_url: Url, sandboxed: BTreeSet<Platform>) -> Self {
        Self {
            connectors,
            public_url,
            sandboxed,
            bluesky: None,
            telegram: None,
            whatsapp: None,
        }
    }

    pub fn is_sandboxed(&self, platform: Platform) -> bool {
        self.sandboxed.contains(&platform)
    }

    /// Whether browsers reach Plugboard over TLS (cookies are then `Secure`).
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// Plugboard's one callback URL per platform (what operators register with the network).
    pub fn callback_url(&self, platform: Platform) -> String {
        self.join(&format!("connect/{platform}/callback"))
    }

    /// The hosted selection page of a pending selection.
    pub fn selection_page_url(&self, platform: Platform, token: &PendingToken) -> String {
        let mut url = Url::parse(&self.join(&format!("connect/{platform}/select")))
            .unwrap_or_else(|_| self.public_url.clone());
        url.query_pairs_mut().append_pair("token", token.as_str());
        url.into()
    }

    fn join(&self, path: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}/{path}")
    }

    pub fn connector(&self, platform: Platform, flavor: Flavor) -> Option<Arc<dyn Connector>> {
        self.connectors.get(platform, flavor)
    }
}
