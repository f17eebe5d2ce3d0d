//! Drops connect sessions, pending selections and connect tokens once used or expired, so
//! abandoned flows do not pile up in the store, webhook logs past their retention, and MCP
//! tokens, grants and clients past their life. Safe on any number of replicas at once: the
//! delete is idempotent.

use crate::{ServiceResult, Services};
use chrono::{DateTime, Utc};

/// How often the server sweeps.
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

impl Services {
    /// One sweep (STYLE §6: the loop calls this, tests call it with a moved clock).
    pub async fn sweep_flows(&self, now: DateTime<Utc>) -> ServiceResult<u64> {
        let logs = self.purge_webhook_logs(now).await?;
        if logs > 0 {
            tracing::debug!(logs, "dropped webhook logs past their retention");
        }
        let mcp = self.purge_mcp(now).await?;
        if mcp > 0 {
            tracing::debug!(
                records = mcp,
                "dropped expired MCP tokens, grants and clients"
            );
        }
        let gone = self.store.purge_one_time(now).await?;
        if gone > 0 {
            tracing::debug!(records = gone, "swept used or expired connect records");
        }
        Ok(gone)
    }
}
