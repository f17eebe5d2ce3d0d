//! Connectors to the social networks. The connect-flow issue fills this crate in; for now it
//! holds the trait every platform will implement, so the layers above can name it.

use plugboard_core::Platform;

/// One social network as Plugboard sees it.
pub trait Connector: Send + Sync {
    fn platform(&self) -> Platform;
}
