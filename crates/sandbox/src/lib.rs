//! Fake platforms for development and tests, mounted under `/sandbox`.
//!
//! Each fake serves the provider side of the OAuth 2.0 authorization-code flow at
//! `/{platform}/<the platform's real path>`, so a connector that rebases its real URLs onto
//! `<server>/sandbox/<platform>` runs its production code path against it. The fakes are
//! described as data in [`table`] and share no code with `plugboard-platforms`. See
//! `docs/sandbox.md`.

mod admin;
mod authorize;
mod bluesky;
mod destinations;
mod errors;
mod html;
mod identity;
mod params;
mod quota;
mod state;
mod table;
mod telegram;
mod token;
mod whatsapp;

#[cfg(test)]
mod tests;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

pub use state::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DestinationsFault, Faults, IdentityFault, QuotaFault,
    TokenFault,
};
pub use telegram::{DEFAULT_BOT_ID, DEFAULT_BOT_TOKEN, DEFAULT_BOT_USERNAME};

use crate::table::{Fake, Renewal, find, listing_at, path_matches};

/// The platforms that have a fake here: the OAuth providers, then the fakes of platforms
/// that connect otherwise.
pub fn platforms() -> impl Iterator<Item = &'static str> {
    table::FAKES
        .iter()
        .map(|f| f.slug)
        .chain(["telegram", "bluesky", "whatsapp"])
}

/// Mounts the sandbox's routes on an actix-web service config.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(admin::index))
        .route("/", web::get().to(admin::index))
        .route("/_faults", web::get().to(admin::list_faults))
        .route("/_faults", web::post().to(admin::set_faults))
        .route("/_revoke", web::post().to(admin::revoke))
        .route("/_stats", web::get().to(admin::stats))
        .route("/_clients", web::post().to(admin::register_client))
        .service(
            web::resource("/_grants")
                // Its own limit, whatever the server it is mounted in sets for its API.
                .app_data(web::PayloadConfig::new(admin::MAX_GRANTS_BODY))
                .route(web::post().to(admin::register_grants)),
        )
        .route("/_avatar/{platform}/{file}", web::get().to(avatar))
        // The three fakes that are not OAuth providers, before the OAuth dispatch.
        .service(web::scope("/telegram").configure(telegram::configure))
        .service(web::scope("/bluesky").configure(bluesky::configure))
        .service(web::scope("/whatsapp").configure(whatsapp::configure))
        .route("/{platform}/{tail:.*}", web::route().to(dispatch));
}

async fn avatar(path: web::Path<(String, String)>) -> HttpResponse {
    let (_, file) = path.into_inner();
    identity::avatar_svg(file.trim_end_matches(".svg"))
}

fn not_found(what: &str) -> HttpResponse {
    errors::json_response(
        StatusCode::NOT_FOUND,
        &json!({"error": format!("the Plugboard sandbox has no {what}")}),
    )
}

/// Routes a request to the fake endpoint whose real path it carries.
async fn dispatch(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (platform, tail) = path.into_inner();
    let Some(fake) = find(&platform) else {
        return not_found(&format!("fake platform {platform:?}"));
    };
    serve(&req, fake, &format!("/{tail}"), &body).await
}

/// Serves `path` (the platform's real path, after `/sandbox/<platform>`) as one of
/// `fake`'s OAuth endpoints. A fake mounted before the generic route calls it for the
/// paths it hands to the generic machinery (WhatsApp's Facebook Login).
pub(crate) async fn serve(
    req: &HttpRequest,
    fake: &'static Fake,
    path: &str,
    body: &[u8],
) -> HttpResponse {
    let method = req.method().clone();
    let get = method == Method::GET;
    let post = method == Method::POST;
    let at = |pattern: &str| path_matches(pattern, path);

    if at(fake.authorize_path) {
        return match () {
            _ if get => authorize::show(req, fake),
            _ if post => authorize::decide(req, fake, body),
            _ => method_not_allowed(),
        };
    }
    // The consent page is the platform's website; everything else is its API, which
    // counts calls and may refuse them for quota.
    let faults = quota::knobs(req, fake, body);
    let api = fake.identity_paths.iter().any(|p| at(p)) || listing_at(fake, path).is_some();
    if let Some(refused) = quota::refusal(fake, &faults, api) {
        return refused;
    }
    let mut resp = serve_endpoint(req, fake, path, body).await;
    quota::usage_headers(fake, &faults, &mut resp);
    resp
}

/// The token, long-lived, identity, listing and revocation endpoints of `fake`.
async fn serve_endpoint(
    req: &HttpRequest,
    fake: &'static Fake,
    path: &str,
    body: &[u8],
) -> HttpResponse {
    let method = req.method().clone();
    let get = method == Method::GET;
    let post = method == Method::POST;
    let at = |pattern: &str| path_matches(pattern, path);
    if at(fake.token_path) && (post || (get && fake.token_via_get)) {
        return token::token(req, fake, body).await;
    }
    if let Some(resp) = long_lived_routes(req, fake, path, get).await {
        return resp;
    }
    if fake.identity_paths.iter().any(|p| at(p)) {
        return if get {
            identity::identity(req, fake)
        } else {
            method_not_allowed()
        };
    }
    if let Some((listing, captured)) = listing_at(fake, path) {
        return if get {
            destinations::serve(req, fake, listing, &captured)
        } else {
            method_not_allowed()
        };
    }
    if fake.revoke_path.is_some_and(at) && post {
        return token::revoke(fake, body);
    }
    if at(fake.token_path) || fake.revoke_path.is_some_and(at) {
        return method_not_allowed();
    }
    not_found(&format!("{} endpoint at {path}", fake.name))
}

/// Meta's exchange and extension endpoints (GET with the parameters in the query).
async fn long_lived_routes(
    req: &HttpRequest,
    fake: &'static Fake,
    path: &str,
    get: bool,
) -> Option<HttpResponse> {
    let Renewal::LongLived {
        exchange_path,
        extend,
        ..
    } = fake.renewal
    else {
        return None;
    };
    if exchange_path != fake.token_path && path_matches(exchange_path, path) {
        return Some(if get {
            token::exchange_get(req, fake).await
        } else {
            method_not_allowed()
        });
    }
    let (extend_path, grant) = extend?;
    if !path_matches(extend_path, path) {
        return None;
    }
    Some(if get {
        token::extend_get(req, fake, grant).await
    } else {
        method_not_allowed()
    })
}

fn method_not_allowed() -> HttpResponse {
    errors::json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"error": "method not allowed by this fake endpoint"}),
    )
}
