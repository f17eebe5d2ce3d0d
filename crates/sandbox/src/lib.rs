//! Fake platforms for development and tests. The connect-flow issue fills this in; today it
//! serves only a landing page that says it is the sandbox, mounted under `/sandbox`.

use actix_web::{HttpResponse, web};

/// Mounts the sandbox's routes on an actix-web service config.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(index))
        .route("/", web::get().to(index));
}

async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body("<!doctype html><title>Plugboard sandbox</title><h1>Plugboard sandbox</h1><p>This is the sandbox: fake platforms for trying Plugboard locally. No real network is contacted.</p>")
}
