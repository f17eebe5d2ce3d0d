//! Fake WhatsApp Cloud API: the Graph endpoints of a WhatsApp Business Account (WABA) that
//! connecting a number uses (platforms.md §12), served at `/sandbox/whatsapp/{version}/…`
//! (the connector rebases `graph.facebook.com` onto `/sandbox/whatsapp`), and a JSON admin
//! API under `/sandbox/whatsapp/_…` that creates the world. See docs/sandbox/whatsapp.md.
//!
//! Two ways in. A test creates WABAs and system-user tokens directly, as a business would in
//! Business Manager (the credentials connect). Or the fake plays Facebook Login for the
//! Meta OAuth variant: the dialog and the token endpoint are the generic OAuth machinery's,
//! handed every path this fake does not serve itself ([`login`]); approving the consent page
//! gives the fake user a WABA whose numbers the login's user token then reads.

mod admin;
mod debug_token;
mod graph;
mod login;
mod world;
mod writes;

#[cfg(test)]
mod tests;

use actix_web::web;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_wabas", web::post().to(admin::create_waba))
        .route("/_wabas/{waba_id}", web::get().to(admin::show_waba))
        .route(
            "/_wabas/{waba_id}/tokens",
            web::post().to(admin::issue_token),
        )
        .route("/_revoke", web::post().to(admin::revoke))
        .route("/_faults", web::get().to(admin::list_faults))
        .route("/_faults", web::post().to(admin::set_faults))
        .route(
            "/{version}/debug_token",
            web::get().to(debug_token::debug_token),
        )
        .route(
            "/{version}/{id}/phone_numbers",
            web::get().to(graph::phone_numbers),
        )
        .route(
            "/{version}/{id}/subscribed_apps",
            web::get().to(writes::subscriptions),
        )
        .route(
            "/{version}/{id}/subscribed_apps",
            web::post().to(writes::subscribe),
        )
        .route(
            "/{version}/{id}/subscribed_apps",
            web::delete().to(writes::unsubscribe),
        )
        .route("/{version}/{id}/register", web::post().to(writes::register))
        .route("/{version}/{id}", web::get().to(graph::node))
        .route("/{tail:.*}", web::route().to(graph::unknown));
}
