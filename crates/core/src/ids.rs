//! Entity ids. Zernio's ids are MongoDB ObjectId-style 24-hex strings, and clients validate
//! them as such, so ours are too, laid out like an ObjectId: 4 bytes of seconds, 5 random
//! bytes fixed per process, and a 3-byte counter. Ids made by one process therefore sort in
//! creation order (listings and cursor pages order by id), and processes cannot collide.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be a 24-character hexadecimal id")]
pub struct IdError {
    pub kind: &'static str,
}

/// A fresh 24-hex id whose first 8 hex digits are the creation time in seconds.
pub fn new_object_id(unix_seconds: i64) -> String {
    static PROCESS: OnceLock<[u8; 5]> = OnceLock::new();
    static COUNTER: OnceLock<AtomicU32> = OnceLock::new();
    let process = PROCESS.get_or_init(|| {
        let mut b = [0u8; 5];
        rand::thread_rng().fill_bytes(&mut b);
        b
    });
    let count = COUNTER
        .get_or_init(|| AtomicU32::new(rand::random::<u32>() & 0x7f_ffff))
        .fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 12];
    let secs = u32::try_from(unix_seconds.max(0)).unwrap_or(u32::MAX);
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    bytes[4..9].copy_from_slice(process);
    bytes[9..].copy_from_slice(&count.to_be_bytes()[1..]);
    hex::encode(bytes)
}

fn is_object_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

macro_rules! object_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("Id of a ", $what, ": 24 lowercase hex characters.")]
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, IdError> {
                if is_object_id(s) {
                    Ok(Self(s.to_ascii_lowercase()))
                } else {
                    Err(IdError { kind: $what })
                }
            }

            pub fn generate(unix_seconds: i64) -> Self {
                Self(new_object_id(unix_seconds))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

object_id!(OwnerId, "user id");
object_id!(ProfileId, "profile id");
object_id!(AccountId, "account id");
object_id!(ApiKeyId, "API key id");
object_id!(WebhookId, "webhook id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = ProfileId::generate(1_700_000_000);
        let b = ProfileId::generate(1_700_000_000);
        assert_ne!(a, b);
        assert_eq!(ProfileId::parse(a.as_str()), Ok(a.clone()));
        assert!(a.as_str().starts_with("6553f100"));
    }

    #[test]
    fn ids_made_in_the_same_second_keep_creation_order() {
        let ids: Vec<_> = (0..100)
            .map(|_| AccountId::generate(1_700_000_000))
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        // The counter starts below 2^23, so it cannot wrap within this run.
        assert_eq!(ids, sorted);
    }

    #[test]
    fn ids_are_time_ordered() {
        let early = AccountId::generate(1_000);
        let late = AccountId::generate(2_000);
        assert!(early < late);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for (input, why) in [
            ("", "empty"),
            ("abc", "too short"),
            ("6553f100aaaaaaaaaaaaaaaaa", "25 characters"),
            ("6553f100aaaaaaaaaaaaaaaz", "non-hex character"),
            ("6553f100aaaaaaaa aaaaaaa", "space inside"),
        ] {
            assert!(ProfileId::parse(input).is_err(), "{why}: {input:?}");
        }
    }

    #[test]
    fn uppercase_hex_is_normalised() {
        let id = AccountId::parse("6553F100AAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(id.as_str(), "6553f100aaaaaaaaaaaaaaaa");
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        assert!(serde_json::from_str::<ProfileId>("\"6553f100aaaaaaaaaaaaaaaa\"").is_ok());
        assert!(serde_json::from_str::<ProfileId>("\"nope\"").is_err());
    }
}
