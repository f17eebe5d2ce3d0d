//! Keeping one platform's trouble from spreading: which calls are retried (and after how
//! long), and a circuit breaker that makes calls to a platform fail fast after repeated
//! failures, so an outage does not hold every worker in timeouts.
//!
//! Retries: API reads (GET) are retried on transport errors, 5xx and 429 — they change
//! nothing. Token-endpoint calls change state at the platform (a code is spent, a refresh
//! token rotated), so they are retried only when the request provably never left (the
//! connection could not be made). Waits are "full jitter" (a random time up to the capped
//! exponential), so replicas retrying together spread out.
//!
//! The breaker (one per platform for its OAuth endpoints, one for its API) counts
//! consecutive failures that say the platform is unwell (transport
//! errors and 5xx; not 4xx, which are about the request). At [`FAILURE_THRESHOLD`] it opens
//! for [`OPEN_FOR`]; then one call is let through (half-open): success closes it, failure
//! opens it again. Time is read from the engine's clock, so tests can move it.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use std::sync::Mutex;

pub const FAILURE_THRESHOLD: u32 = 5;
pub const OPEN_FOR: Duration = Duration::seconds(30);
/// Attempts of one call in all (the first and the retries).
pub const MAX_ATTEMPTS: u32 = 3;
const BASE_DELAY_MS: u64 = 200;
const MAX_DELAY_MS: u64 = 2_000;

/// What came of one attempt, as far as retrying and the breaker care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Ok,
    /// The connection could not be made: the request did not reach the platform.
    NotSent,
    /// Sent, but no usable answer (timeout, connection cut).
    Transport,
    /// An HTTP status.
    Status(u16),
}

impl Attempt {
    /// Whether this says the platform is unwell (counts toward opening the breaker).
    pub fn is_platform_failure(self) -> bool {
        match self {
            Attempt::NotSent | Attempt::Transport => true,
            Attempt::Status(s) => s >= 500,
            Attempt::Ok => false,
        }
    }
}

/// Whether attempt `n` (1-based) that ended in `what` is tried again. `idempotent` calls
/// (API reads) retry on anything transient; others only when nothing was sent.
pub fn should_retry(n: u32, what: Attempt, idempotent: bool) -> bool {
    if n >= MAX_ATTEMPTS {
        return false;
    }
    match what {
        Attempt::Ok => false,
        Attempt::NotSent => true,
        Attempt::Transport => idempotent,
        Attempt::Status(s) => idempotent && (s >= 500 || s == 429),
    }
}

/// The wait before retry `n` (1-based): uniform in [0, min(cap, base·2ⁿ⁻¹)].
pub fn backoff(n: u32) -> std::time::Duration {
    let ceiling = BASE_DELAY_MS
        .saturating_mul(1 << n.saturating_sub(1).min(10))
        .min(MAX_DELAY_MS);
    std::time::Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: DateTime<Utc>,
    },
    /// One trial call is out; others still fail fast.
    HalfOpen,
}

/// Refused by an open breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    pub retry_in: Duration,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    state: Mutex<State>,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }
}

/// A change the breaker made, for the caller to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    Opened,
    Closed,
}

impl CircuitBreaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// May a call go out now?
    pub fn allow(&self, now: DateTime<Utc>) -> Result<(), Open> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                Ok(())
            }
            State::Open { until } => Err(Open {
                retry_in: until - now,
            }),
            State::HalfOpen => Err(Open {
                retry_in: Duration::seconds(1),
            }),
        }
    }

    /// Records how a call that was allowed ended.
    pub fn record(&self, what: Attempt, now: DateTime<Utc>) -> Transition {
        let mut state = self.lock();
        let failed = what.is_platform_failure();
        match (*state, failed) {
            (State::Closed { .. }, false) => {
                *state = State::Closed { failures: 0 };
                Transition::None
            }
            (State::Closed { failures }, true) if failures + 1 >= FAILURE_THRESHOLD => {
                *state = State::Open {
                    until: now + OPEN_FOR,
                };
                Transition::Opened
            }
            (State::Closed { failures }, true) => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                Transition::None
            }
            (State::HalfOpen, false) => {
                *state = State::Closed { failures: 0 };
                Transition::Closed
            }
            (State::HalfOpen, true) => {
                *state = State::Open {
                    until: now + OPEN_FOR,
                };
                Transition::None
            }
            // A call allowed before the breaker opened ends late: nothing changes.
            (State::Open { .. }, _) => Transition::None,
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open { .. } | State::HalfOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000, 0).unwrap()
    }

    #[test]
    fn reads_retry_transient_failures_and_token_calls_only_unsent_ones() {
        assert!(should_retry(1, Attempt::Status(503), true));
        assert!(should_retry(1, Attempt::Status(429), true));
        assert!(should_retry(2, Attempt::Transport, true));
        assert!(
            !should_retry(3, Attempt::Transport, true),
            "three attempts in all"
        );
        assert!(
            !should_retry(1, Attempt::Status(400), true),
            "a bad request stays bad"
        );
        assert!(
            !should_retry(1, Attempt::Status(503), false),
            "a token call may have spent the code"
        );
        assert!(!should_retry(1, Attempt::Transport, false));
        assert!(
            should_retry(1, Attempt::NotSent, false),
            "nothing left: safe to try again"
        );
    }

    #[test]
    fn backoff_is_jittered_under_a_growing_cap() {
        for n in 1..6 {
            let cap = (BASE_DELAY_MS << (n - 1)).min(MAX_DELAY_MS);
            for _ in 0..50 {
                assert!(backoff(n).as_millis() as u64 <= cap);
            }
        }
        let spread: std::collections::HashSet<u128> =
            (0..50).map(|_| backoff(3).as_millis()).collect();
        assert!(spread.len() > 5, "waits differ: {spread:?}");
    }

    #[test]
    fn the_breaker_opens_after_consecutive_failures_and_half_opens_after_the_cooldown() {
        let b = CircuitBreaker::default();
        for _ in 0..FAILURE_THRESHOLD - 1 {
            assert!(b.allow(t0()).is_ok());
            assert_eq!(b.record(Attempt::Status(502), t0()), Transition::None);
        }
        assert_eq!(b.record(Attempt::Transport, t0()), Transition::Opened);
        assert!(b.is_open());
        let refused = b.allow(t0() + Duration::seconds(10)).unwrap_err();
        assert_eq!(refused.retry_in, Duration::seconds(20));
        // After the cooldown one trial goes out; the others still wait for it.
        assert!(b.allow(t0() + OPEN_FOR).is_ok());
        assert!(b.allow(t0() + OPEN_FOR).is_err());
        assert_eq!(b.record(Attempt::Ok, t0() + OPEN_FOR), Transition::Closed);
        assert!(!b.is_open());
        assert!(b.allow(t0() + OPEN_FOR).is_ok());
    }

    #[test]
    fn client_errors_do_not_count_and_a_success_resets_the_count() {
        let b = CircuitBreaker::default();
        for _ in 0..10 {
            b.record(Attempt::Status(401), t0());
        }
        assert!(!b.is_open(), "4xx are about the request, not the platform");
        for _ in 0..FAILURE_THRESHOLD - 1 {
            b.record(Attempt::Status(500), t0());
        }
        b.record(Attempt::Ok, t0());
        for _ in 0..FAILURE_THRESHOLD - 1 {
            b.record(Attempt::Status(500), t0());
        }
        assert!(!b.is_open(), "the streak restarted after the success");
    }

    #[test]
    fn a_failed_trial_opens_it_again() {
        let b = CircuitBreaker::default();
        for _ in 0..FAILURE_THRESHOLD {
            b.record(Attempt::Status(503), t0());
        }
        assert!(b.allow(t0() + OPEN_FOR).is_ok());
        b.record(Attempt::Status(503), t0() + OPEN_FOR);
        assert!(b.allow(t0() + OPEN_FOR + Duration::seconds(1)).is_err());
    }
}
