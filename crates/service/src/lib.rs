//! Use cases. Handlers (HTTP, CLI, later MCP) call these with validated inputs and a
//! [`Caller`]; this crate knows nothing of HTTP.

pub mod accounts;
pub mod api_keys;
pub mod auth;
pub mod bootstrap;
pub mod connect;
mod error;
pub mod health;
pub mod idempotency;
pub mod mcp;
pub mod metrics;
pub mod profiles;
pub mod quota;
pub mod refresh;
pub mod rotation;
pub mod sweeper;
mod text;
pub mod webhooks;

pub use auth::Caller;
pub use error::{ServiceError, ServiceResult};

use plugboard_core::{Clock, Keyring};
use plugboard_store::{Scoped, Store};
use std::sync::Arc;

/// Everything a use case needs, cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub keyring: Arc<Keyring>,
    /// Connectors and public URL for the connect flow; `None` where only account
    /// management runs (the CLI).
    pub connect: Option<Arc<connect::ConnectContext>>,
    /// Webhook delivery settings and client.
    pub webhooks: Arc<webhooks::Webhooks>,
    pub metrics: Arc<metrics::ServiceMetrics>,
    /// The daily limits of the platform apps ([`quota`]).
    pub quota: Arc<quota::QuotaSettings>,
}

impl Services {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keyring: Arc<Keyring>) -> Self {
        Self {
            store,
            clock,
            keyring,
            connect: None,
            webhooks: Arc::new(webhooks::Webhooks::default()),
            metrics: Arc::new(metrics::ServiceMetrics::new()),
            quota: Arc::new(quota::QuotaSettings::default()),
        }
    }

    /// The same services counting into `metrics` (shared with the store's observer).
    pub fn with_metrics(mut self, metrics: Arc<metrics::ServiceMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The same services with these daily platform limits.
    pub fn with_quota(mut self, settings: quota::QuotaSettings) -> Self {
        self.quota = Arc::new(settings);
        self
    }

    /// The sink the connectors report their calls to: it counts them in the store against
    /// these services' limits.
    pub fn usage_sink(&self) -> Arc<dyn plugboard_platforms::UsageSink> {
        Arc::new(
            quota::QuotaRecorder::new(self.store.clone(), self.quota.clone())
                .with_metrics(self.metrics.clone()),
        )
    }

    /// The same services delivering webhooks with these settings.
    pub fn with_webhooks(mut self, settings: webhooks::WebhookSettings) -> Self {
        self.webhooks = Arc::new(webhooks::Webhooks::new(settings));
        self
    }

    /// The same services with the connect flow enabled.
    pub fn with_connect(mut self, connect: connect::ConnectContext) -> Self {
        self.connect = Some(Arc::new(connect));
        self
    }

    pub(crate) fn connect_context(&self) -> ServiceResult<&connect::ConnectContext> {
        self.connect.as_deref().ok_or_else(|| {
            ServiceError::Internal("the connect flow is not set up in this process".into())
        })
    }

    /// The caller's view of the store: every query filtered by the caller's owner.
    pub fn scoped(&self, caller: &Caller) -> Scoped {
        Scoped::new(self.store.clone(), caller.owner.clone())
    }
}
