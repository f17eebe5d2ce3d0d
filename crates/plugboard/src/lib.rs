//! The `plugboard` binary's library half: configuration, start-up and the CLI commands,
//! kept here so end-to-end tests can build the same application in process.

pub mod app;
pub mod cli;
pub mod config;
pub mod telemetry;

pub use app::{Application, StartError};
pub use config::Config;
