//! Fake Telegram Bot API (shared/telegram-bot-api.md, docs/sandbox/telegram.md). Served at
//! `/sandbox/telegram`: the Bot API at `/bot<token>/<method>` as teloxide calls it, file
//! downloads at `/file/bot<token>/<path>`, and a scripted world under `/_…` that plays the
//! users (channels, groups, members, posts, private messages) and the fault knob.

mod admin;
mod api;
mod params;
mod poll;
mod render;
mod webhook;
mod world;

#[cfg(test)]
mod tests;

use actix_web::web;

pub use world::{DEFAULT_BOT_ID, DEFAULT_BOT_TOKEN, DEFAULT_BOT_USERNAME};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_bots", web::post().to(admin::create_bot))
        .route("/_bots/{token}", web::get().to(admin::show_bot))
        .route("/_bots/{token}/dm", web::post().to(admin::dm))
        .route("/_chats", web::post().to(admin::create_chat))
        .route("/_chats/{id}", web::get().to(admin::show_chat))
        .route("/_chats/{id}/members", web::post().to(admin::set_member))
        .route("/_chats/{id}/messages", web::post().to(admin::post_message))
        .route("/_chats/{id}/migrate", web::post().to(admin::migrate))
        .route("/_faults", web::post().to(admin::set_faults))
        .route("/file/bot{token}/{path:.*}", web::get().to(api::download))
        .route("/bot{token}/{method}", web::route().to(api::call))
        .route("/{tail:.*}", web::route().to(api::not_found));
}
