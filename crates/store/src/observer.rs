//! What a backend tells the outside about its work, for metrics: how long operations take,
//! and when a lease or a job is taken over from a holder whose lease ran out (a replica
//! that died or stalled). The store knows nothing of Prometheus; the service wires this.

use std::time::Duration;

pub trait StoreObserver: Send + Sync {
    /// One store operation (SQLite: `read` or `write`; MongoDB: the command name).
    fn operation(&self, operation: &str, elapsed: Duration);
    /// A lease or job was taken from another holder after its lease expired. `kind` is the
    /// lease name up to its first `:` (`refresh`, `refresh-slot`, `telegram-poller`), or
    /// `job:<kind>`.
    fn taken_over(&self, kind: &str);
}

/// Observes nothing.
pub struct NoObserver;

impl StoreObserver for NoObserver {
    fn operation(&self, _: &str, _: Duration) {}
    fn taken_over(&self, _: &str) {}
}

/// The metric label of a lease name: its kind, never the account id inside it.
pub fn lease_kind(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_kinds_drop_the_ids() {
        assert_eq!(lease_kind("refresh:6553f100aaaaaaaaaaaaaaaa"), "refresh");
        assert_eq!(lease_kind("refresh-slot:twitter:1"), "refresh-slot");
        assert_eq!(lease_kind("telegram-poller"), "telegram-poller");
    }
}
