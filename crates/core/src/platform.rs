//! The networks Plugboard connects. The wire names are Zernio's.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Twitter,
    Instagram,
    Facebook,
    Linkedin,
    Tiktok,
    Youtube,
    Pinterest,
    Reddit,
    Threads,
    Googlebusiness,
    Snapchat,
    Bluesky,
    Telegram,
    Whatsapp,
    /// Meta ads: created by the ads flow beside a Facebook account, never connected on its
    /// own (not in [`Platform::ALL`]).
    Metaads,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform {0:?}")]
pub struct UnknownPlatform(pub String);

/// Zernio's account categories (`GET /v1/accounts?category=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Social,
    Ads,
    Communication,
    Blogs,
    Crm,
    Analytics,
}

impl Platform {
    /// The networks a user connects.
    pub const ALL: [Platform; 14] = [
        Platform::Twitter,
        Platform::Instagram,
        Platform::Facebook,
        Platform::Linkedin,
        Platform::Tiktok,
        Platform::Youtube,
        Platform::Pinterest,
        Platform::Reddit,
        Platform::Threads,
        Platform::Googlebusiness,
        Platform::Snapchat,
        Platform::Bluesky,
        Platform::Telegram,
        Platform::Whatsapp,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::Twitter => "twitter",
            Platform::Instagram => "instagram",
            Platform::Facebook => "facebook",
            Platform::Linkedin => "linkedin",
            Platform::Tiktok => "tiktok",
            Platform::Youtube => "youtube",
            Platform::Pinterest => "pinterest",
            Platform::Reddit => "reddit",
            Platform::Threads => "threads",
            Platform::Googlebusiness => "googlebusiness",
            Platform::Snapchat => "snapchat",
            Platform::Bluesky => "bluesky",
            Platform::Telegram => "telegram",
            Platform::Whatsapp => "whatsapp",
            Platform::Metaads => "metaads",
        }
    }

    pub const fn category(self) -> Category {
        match self {
            Platform::Telegram | Platform::Whatsapp => Category::Communication,
            Platform::Metaads => Category::Ads,
            _ => Category::Social,
        }
    }

    /// Accounts created beside another platform's account, on its login.
    pub const DERIVED: [Platform; 1] = [Platform::Metaads];

    /// Whose login (app, tokens, refresh rules) an account of this platform uses.
    pub const fn login_platform(self) -> Platform {
        match self {
            Platform::Metaads => Platform::Facebook,
            p => p,
        }
    }
}

impl FromStr for Platform {
    type Err = UnknownPlatform;
    fn from_str(s: &str) -> Result<Self, UnknownPlatform> {
        Platform::ALL
            .into_iter()
            .chain(Platform::DERIVED)
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPlatform(s.to_owned()))
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_round_trips_through_its_wire_name() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>(), Ok(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
    }

    #[test]
    fn unknown_and_miscased_names_are_rejected() {
        for s in ["", "x", "Twitter", "MetaAds", "discord"] {
            assert!(s.parse::<Platform>().is_err(), "{s:?} should not parse");
        }
    }
}
