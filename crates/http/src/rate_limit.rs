//! Per-API-key request limits: a sliding window of one minute (the previous minute's count,
//! weighted by how much of it still overlaps, plus the current minute's), as Zernio
//! documents its own. Kept in memory per replica: N replicas behind a balancer allow up to N
//! times the limit to a key that spreads its requests, and a restart forgets the counts.
//! That is the trade-off for not writing to the store on every request; set the limit to
//! the cluster-wide budget divided by the number of replicas if it must hold exactly.

use std::collections::HashMap;
use std::sync::Mutex;

const WINDOW_SECS: i64 = 60;
const SHARDS: usize = 16;
/// Keys remembered per shard before stale ones are dropped.
const PRUNE_AT: usize = 4096;

/// What the `X-RateLimit-*` headers say after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitInfo {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the current window ends.
    pub reset: i64,
    pub allowed: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Windows {
    window: i64,
    current: u32,
    previous: u32,
}

pub struct RateLimiter {
    limit: u32,
    shards: Vec<Mutex<HashMap<String, Windows>>>,
}

impl RateLimiter {
    /// `limit` requests per minute per key; 0 turns limiting off.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Counts one request of `key` at `now_ms` (Unix milliseconds), unless it is over the
    /// limit (a refused request is not counted).
    pub fn check(&self, key: &str, now_ms: i64) -> Option<RateLimitInfo> {
        if !self.enabled() {
            return None;
        }
        let shard = &self.shards[shard_of(key)];
        let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
        let window = now_ms.div_euclid(WINDOW_SECS * 1000);
        if map.len() >= PRUNE_AT {
            map.retain(|_, w| w.window >= window - 1);
        }
        let w = map.entry(key.to_owned()).or_default();
        if w.window != window {
            w.previous = if w.window == window - 1 { w.current } else { 0 };
            w.current = 0;
            w.window = window;
        }
        let into = (now_ms.rem_euclid(WINDOW_SECS * 1000)) as f64 / (WINDOW_SECS * 1000) as f64;
        let used = f64::from(w.previous) * (1.0 - into) + f64::from(w.current);
        let allowed = used + 1.0 <= f64::from(self.limit);
        if allowed {
            w.current += 1;
        }
        let used_after = if allowed { used + 1.0 } else { used };
        let remaining = (f64::from(self.limit) - used_after).floor().max(0.0) as u32;
        Some(RateLimitInfo {
            limit: self.limit,
            remaining,
            reset: (window + 1) * WINDOW_SECS,
            allowed,
        })
    }
}

fn shard_of(key: &str) -> usize {
    key.bytes().fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    }) % SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_900_000_020_000; // 20 s into a minute

    #[test]
    fn a_key_gets_its_limit_then_is_refused_and_others_are_not_affected() {
        let l = RateLimiter::new(3);
        for left in [2, 1, 0] {
            let i = l.check("a", T).unwrap();
            assert!(i.allowed);
            assert_eq!(i.remaining, left);
        }
        let refused = l.check("a", T + 10).unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.reset % 60, 0);
        assert!(refused.reset * 1000 > T);
        assert!(l.check("b", T).unwrap().allowed);
    }

    #[test]
    fn the_previous_minute_still_counts_for_part_of_the_next() {
        let l = RateLimiter::new(10);
        for _ in 0..10 {
            assert!(l.check("a", T).unwrap().allowed);
        }
        // Just after the minute turns, most of the previous minute still weighs.
        let next = (T / 60_000 + 1) * 60_000 + 1_000;
        assert!(!l.check("a", next).unwrap().allowed);
        // Half a minute later, half of it does: five more fit.
        let later = next + 29_000;
        let allowed = (0..10)
            .filter(|_| l.check("a", later).unwrap().allowed)
            .count();
        assert_eq!(allowed, 5);
    }

    #[test]
    fn zero_turns_it_off() {
        assert!(RateLimiter::new(0).check("a", T).is_none());
    }
}
