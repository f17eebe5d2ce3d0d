//! Route areas. Each handler is annotated for the OpenAPI document, which is collected from
//! the registered services, so a route cannot be served without being documented.

pub mod account_destinations;
pub mod accounts;
pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod connect;
pub mod connect_direct;
pub mod connections;
pub mod health;
pub mod profiles;
pub mod selection;
pub mod system;
pub mod tickets;
pub mod webhooks;

use utoipa_actix_web::service_config::ServiceConfig;

/// The `/v1` API.
pub fn v1(cfg: &mut ServiceConfig) {
    cfg.service(auth::verify)
        .service(admin::quota)
        .service(api_keys::list)
        .service(api_keys::create)
        .service(api_keys::delete)
        .service(profiles::list)
        .service(profiles::create)
        .service(profiles::get)
        .service(profiles::update)
        .service(profiles::delete)
        .service(accounts::list)
        // Before `/accounts/{accountId}`, which would take "health" for an id.
        .service(health::all)
        .service(health::one)
        .service(accounts::get)
        .service(accounts::update)
        .service(accounts::move_to_profile)
        .service(accounts::delete)
        .service(accounts::refresh_token)
        .service(account_destinations::facebook_pages)
        .service(account_destinations::facebook_select)
        .service(account_destinations::linkedin_organizations)
        .service(account_destinations::linkedin_select)
        .service(account_destinations::pinterest_boards)
        .service(account_destinations::pinterest_select)
        .service(account_destinations::google_locations)
        .service(account_destinations::google_select)
        // Fixed paths before `/connect/{platform}`, which would otherwise match them.
        .service(connect::pending_data)
        .service(selection::facebook_pages)
        .service(selection::facebook_select)
        .service(selection::instagram_pages)
        .service(selection::instagram_select)
        .service(selection::linkedin_organizations)
        .service(selection::linkedin_select)
        .service(selection::pinterest_boards)
        .service(selection::pinterest_select)
        .service(selection::snapchat_profiles)
        .service(selection::snapchat_select)
        .service(selection::google_locations)
        .service(selection::google_select)
        .service(selection::whatsapp_numbers)
        .service(selection::whatsapp_select)
        .service(connect_direct::bluesky)
        .service(connect_direct::telegram_code)
        .service(connect_direct::telegram_chat)
        .service(connect_direct::telegram_status)
        .service(connect_direct::whatsapp)
        .service(connect::ads)
        .service(connect::start)
        .service(connect::complete)
        .service(webhooks::list)
        .service(webhooks::create)
        .service(webhooks::update)
        .service(webhooks::delete)
        .service(webhooks::test)
        .service(webhooks::logs)
        .service(webhooks::redeliver)
        .service(tickets::create)
        .service(tickets::authorize)
        .service(connections::list)
        .service(connections::update)
        .service(connections::refresh_token);
}

/// Browser pages outside `/v1`: the provider callback and the hosted picker.
pub fn pages(cfg: &mut ServiceConfig) {
    cfg.service(crate::pages::callback)
        .service(crate::pages::picker)
        .service(crate::pages::pick)
        .service(crate::telegram_webhook::telegram_webhook);
}

/// Health, readiness, metrics and the OpenAPI document.
pub fn system(cfg: &mut ServiceConfig) {
    cfg.service(system::healthz)
        .service(system::readyz)
        .service(system::metrics)
        .service(system::openapi_json);
}
