//! Fake Bluesky PDS (XRPC), served at `/sandbox/bluesky`: the entryway and the accounts'
//! PDS in one, like a self-hosted PDS. It serves the session endpoints of
//! `com.atproto.server` (app passwords and account passwords, rotating refresh tokens with
//! the reference PDS's grace, the createSession rate limit), handle resolution, and the
//! profile the real PDS would fetch from the AppView. An admin JSON API scripts the world
//! (accounts, app passwords, takedowns, knobs). See docs/sandbox/bluesky.md.
//!
//! Behaviour follows the reference PDS (`bluesky-social/atproto` `packages/pds`, checked
//! against `@atproto/pds` 0.4.217 through `@atproto/dev-env` 0.3.215) and platforms.md §13.

mod admin;
mod jwt;
mod world;
mod xrpc;

#[cfg(test)]
mod tests;

use actix_web::web;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/xrpc/{nsid}", web::route().to(xrpc::xrpc))
        .route("/_accounts", web::post().to(admin::create_account))
        .route("/_accounts", web::get().to(admin::list_accounts))
        .route("/_accounts/{id}", web::get().to(admin::get_account))
        .route(
            "/_accounts/{id}/app-passwords",
            web::post().to(admin::create_app_password),
        )
        .route(
            "/_accounts/{id}/app-passwords/{name}",
            web::delete().to(admin::revoke_app_password),
        )
        .route("/_accounts/{id}/status", web::post().to(admin::set_status))
        .route("/_accounts/{id}/knobs", web::post().to(admin::set_knobs))
        .default_service(web::to(admin::not_found));
}
