//! Route areas. Each handler is annotated for the OpenAPI document, which is collected from
//! the registered services, so a route cannot be served without being documented.

pub mod accounts;
pub mod api_keys;
pub mod auth;
pub mod profiles;
pub mod system;

use utoipa_actix_web::service_config::ServiceConfig;

/// The `/v1` API.
pub fn v1(cfg: &mut ServiceConfig) {
    cfg.service(auth::verify)
        .service(api_keys::list)
        .service(api_keys::create)
        .service(api_keys::delete)
        .service(profiles::list)
        .service(profiles::create)
        .service(profiles::get)
        .service(profiles::update)
        .service(profiles::delete)
        .service(accounts::list)
        .service(accounts::get)
        .service(accounts::update)
        .service(accounts::move_to_profile)
        .service(accounts::delete);
}

/// Health, readiness, metrics and the OpenAPI document.
pub fn system(cfg: &mut ServiceConfig) {
    cfg.service(system::healthz)
        .service(system::readyz)
        .service(system::metrics)
        .service(system::openapi_json);
}
