//! The Meta OAuth variant of WhatsApp: Facebook Login with the WhatsApp permissions
//! (platforms.md §3, §12), played by the generic OAuth machinery with the
//! [`WHATSAPP_LOGIN`] row, plus what ties a login to the WhatsApp world: approving the
//! consent page gives the fake user a WABA with as many numbers as the form said, and the
//! user tokens the login issues reach that WABA's Graph endpoints.

use actix_web::http::header::{AUTHORIZATION, LOCATION};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use subtle::ConstantTimeEq;
use url::Url;

use super::world::with_world;
use crate::params::Params;
use crate::state::{AccessGrant, Faults, now, with_state};
use crate::table::{MAX_DESTINATIONS, WHATSAPP_LOGIN, path_matches};

/// The permission that lets a user token read and manage the WABAs it was granted.
pub(super) const MANAGEMENT: &str = "whatsapp_business_management";
/// The permission that lets it send messages from their numbers.
pub(super) const MESSAGING: &str = "whatsapp_business_messaging";

/// A Facebook Login user token of this fake, and the generic fault knobs of its app.
#[derive(Clone)]
pub(super) struct User {
    pub grant: AccessGrant,
    pub faults: Faults,
}

impl User {
    /// The WABA the token reaches: the fake user's, when the login granted
    /// [`MANAGEMENT`]; none otherwise.
    pub fn waba_id(&self) -> Option<String> {
        if !self.grant.scopes.iter().any(|s| s == MANAGEMENT) {
            return None;
        }
        let (client, user) = (&self.grant.client_id, &self.grant.username);
        // Made when the login was approved; a grant that somehow outlived it gets it back
        // with the number its login asked for.
        Some(with_world(|w| {
            w.login_waba(client, user)
                .unwrap_or_else(|| w.sync_login_waba(client, user, self.grant.destinations))
        }))
    }
}

/// The token of the request, from `Authorization: Bearer` or `?access_token=`.
pub(super) fn bearer(req: &HttpRequest, query: &Params) -> Option<String> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    header.or_else(|| query.get("access_token").map(str::to_owned))
}

/// The live user token `token` of a Meta login, if it is one.
pub(super) fn user(token: &str) -> Option<User> {
    let now = now();
    with_state(|s| {
        let grant = s
            .access
            .get(token)
            .filter(|a| a.platform == WHATSAPP_LOGIN.slug && a.page.is_none() && a.expires_at > now)
            .cloned()?;
        let faults = s.faults(WHATSAPP_LOGIN.slug, Some(&grant.client_id));
        Some(User { grant, faults })
    })
}

/// Whether the request carries a token the Meta login issued (live or not): its `/me` is
/// the Facebook user, answered by the generic identity endpoint.
pub(super) fn bears_user_token(req: &HttpRequest) -> bool {
    let query = Params::parse(req.query_string().as_bytes());
    bearer(req, &query).is_some_and(|token| {
        with_state(|s| {
            s.access
                .get(&token)
                .is_some_and(|a| a.platform == WHATSAPP_LOGIN.slug)
        })
    })
}

/// Whether `client_id|secret` is the app token of an app registered with this fake (the
/// default sandbox app included), as `debug_token` takes it (platforms.md §3 "Debug").
/// `None` when the value is not shaped like an app token at all.
pub(super) fn app_token(token: &str) -> Option<Result<(), ()>> {
    let (id, secret) = token.split_once('|')?;
    let known = with_state(|s| s.client(WHATSAPP_LOGIN.slug, id)).map(|c| c.secret);
    Some(match known {
        Some(known) if bool::from(known.as_bytes().ct_eq(secret.as_bytes())) => Ok(()),
        _ => Err(()),
    })
}

/// Whether the generic machinery serves `path` for the login: the dialog, the token
/// endpoint (code exchange and `fb_exchange_token`), and `/me` of a login's token.
pub(super) fn serves(req: &HttpRequest, path: &str) -> bool {
    let row = &WHATSAPP_LOGIN;
    path_matches(row.authorize_path, path)
        || path_matches(row.token_path, path)
        || (row.identity_paths.iter().any(|p| path_matches(p, path)) && bears_user_token(req))
}

/// Hands `path` to the generic machinery as the login row. An approved consent form also
/// gives the fake user their WABA with the form's number of phone numbers.
pub(super) async fn oauth(req: &HttpRequest, path: &str, body: &[u8]) -> HttpResponse {
    let resp = crate::serve(req, &WHATSAPP_LOGIN, path, body).await;
    if req.method() == Method::POST
        && path_matches(WHATSAPP_LOGIN.authorize_path, path)
        && let Some((client, user, count)) = approval(body, &resp)
    {
        with_world(|w| w.sync_login_waba(&client, &user, count));
    }
    resp
}

/// The (client id, user name, number of phone numbers) of a consent form the generic page
/// approved: it redirected with a code. Everything was validated there already; the
/// number is read as the page reads it (absent or blank: the row's default).
fn approval(body: &[u8], resp: &HttpResponse) -> Option<(String, String, u8)> {
    if resp.status() != StatusCode::FOUND {
        return None;
    }
    let location = Url::parse(resp.headers().get(LOCATION)?.to_str().ok()?).ok()?;
    let redirected = Params::parse(location.query().unwrap_or("").as_bytes());
    if !redirected.has("code") || redirected.has("error") {
        return None;
    }
    let form = Params::parse(body);
    if form.get("decision") != Some("approve") {
        return None;
    }
    let request = Params::parse(form.get("_request")?.as_bytes());
    let client = request.get(WHATSAPP_LOGIN.client_id_param)?.to_owned();
    let user = form.get("username")?.trim().to_owned();
    let default = WHATSAPP_LOGIN
        .destinations
        .as_ref()
        .map_or(0, |d| d.default_count);
    let count = match form.get("destinations").map(str::trim) {
        None | Some("") => default,
        Some(n) => n.parse::<u8>().ok().filter(|n| *n <= MAX_DESTINATIONS)?,
    };
    Some((client, user, count))
}
