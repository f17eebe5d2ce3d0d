//! Shared vocabulary of Plugboard. Everything here is valid once constructed: raw strings
//! from the edge are parsed into these types once, and the inner crates never see them raw.

pub mod clock;
pub mod ids;
pub mod platform;
pub mod redirect;
pub mod seal;
pub mod secret;

pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{AccountId, ApiKeyId, IdError, OwnerId, ProfileId, WebhookId, new_object_id};
pub use platform::{Platform, UnknownPlatform};
pub use redirect::{RedirectUrl, RedirectUrlError};
pub use seal::{Keyring, SealError, Sealed};
pub use secret::Secret;
