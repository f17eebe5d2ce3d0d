//! End-to-end tests: the real server on port 0 over a fresh embedded store, driven over
//! HTTP (and, for the CLI and smoke tests, the compiled binary).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod flows;
mod health;
mod helpers;

mod account_destinations;
mod accounts;
mod ads;
mod api_keys;
mod binary;
mod bluesky;
mod bluesky_pds;
mod browser;
mod cluster;
mod connect;
mod connect_security;
mod deploy_kits;
mod hygiene;
mod mcp;
mod metrics;
mod mongodb;
mod profiles;
mod python_sdk;
mod python_sdk_connect;
mod python_sdk_direct;
mod python_sdk_webhooks;
mod quota;
mod rate_limit;
mod refresh;
mod replicas;
mod secrets;
mod shutdown;
mod telegram;
mod tickets;
mod traces;
mod walk;
mod webhook_docs;
mod webhooks;
mod whatsapp;
