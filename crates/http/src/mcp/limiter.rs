//! Wrong API keys on the consent page, counted per client address so the form cannot be
//! used to guess keys. Per replica (in memory): N replicas allow N times the attempts,
//! which against 256-bit keys changes nothing; the limit exists to stop noise and
//! credential-stuffing lists, not to make guessing hard.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(600);
/// Addresses remembered at most; the oldest windows go first when full.
const MAX_TRACKED: usize = 10_000;

#[derive(Default)]
pub struct ConsentLimiter {
    failures: Mutex<HashMap<Option<IpAddr>, (u32, Instant)>>,
}

impl ConsentLimiter {
    pub fn is_blocked(&self, peer: Option<IpAddr>) -> bool {
        let Ok(map) = self.failures.lock() else {
            return false;
        };
        map.get(&peer)
            .is_some_and(|(n, since)| *n >= MAX_FAILURES && since.elapsed() < WINDOW)
    }

    pub fn record_failure(&self, peer: Option<IpAddr>) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        if map.len() >= MAX_TRACKED
            && let Some(oldest) = map.iter().min_by_key(|(_, (_, s))| *s).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        let entry = map.entry(peer).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_the_limit_and_others_are_not() {
        let l = ConsentLimiter::default();
        let a: Option<IpAddr> = "10.0.0.1".parse().ok();
        let b: Option<IpAddr> = "10.0.0.2".parse().ok();
        for _ in 0..MAX_FAILURES - 1 {
            l.record_failure(a);
        }
        assert!(!l.is_blocked(a));
        l.record_failure(a);
        assert!(l.is_blocked(a));
        assert!(!l.is_blocked(b));
    }
}
