//! The fake PDS's admin JSON API, under `/sandbox/bluesky/_accounts`: create accounts and
//! app passwords, revoke app passwords, take accounts down, set per-account knobs. Errors
//! are `{"error": "…"}` like the rest of the sandbox's admin API (docs/sandbox/bluesky.md).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::world::{Account, AdminError, Knobs, Profile, Status, default_profile, with_world};
use super::xrpc::own_base;
use crate::errors::json_response;

fn error(status: StatusCode, message: impl Into<String>) -> HttpResponse {
    json_response(status, &json!({"error": message.into()}))
}

fn admin_error(e: AdminError) -> HttpResponse {
    match e {
        AdminError::Invalid(m) => error(StatusCode::BAD_REQUEST, m),
        AdminError::Conflict(m) => error(StatusCode::CONFLICT, m),
        AdminError::NotFound(m) => error(StatusCode::NOT_FOUND, m),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What the admin API shows of an account: never its passwords.
fn account_json(req: &HttpRequest, account: &Account, sessions: usize) -> Value {
    let app_passwords: Vec<Value> = account
        .app_passwords
        .iter()
        .map(|p| json!({"name": p.name, "privileged": p.privileged, "createdAt": rfc3339(p.created_at)}))
        .collect();
    json!({
        "did": account.did,
        "handle": account.handle,
        "email": account.email,
        "status": account.status,
        "profile": account.profile,
        "appPasswords": app_passwords,
        "knobs": account.knobs,
        "liveSessions": sessions,
        "pds": own_base(req),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateAccount {
    handle: String,
    password: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    followers_count: Option<i64>,
    #[serde(default)]
    follows_count: Option<i64>,
    #[serde(default)]
    posts_count: Option<i64>,
}

/// `POST /_accounts {handle, password, email?, displayName?, description?, followersCount?,
/// followsCount?, postsCount?}` → `201 {did, handle}`.
pub(crate) async fn create_account(body: web::Bytes) -> HttpResponse {
    let req: CreateAccount = match parse(&body) {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let defaults = default_profile(&req.handle.trim().to_ascii_lowercase());
    let profile = Profile {
        display_name: req.display_name.or(defaults.display_name),
        description: req.description.or(defaults.description),
        followers_count: req.followers_count.unwrap_or(defaults.followers_count),
        follows_count: req.follows_count.unwrap_or(defaults.follows_count),
        posts_count: req.posts_count.unwrap_or(defaults.posts_count),
    };
    match with_world(|w| {
        w.create_account(&req.handle, &req.password, req.email.as_deref(), profile)
    }) {
        Ok(a) => json_response(
            StatusCode::CREATED,
            &json!({"did": a.did, "handle": a.handle}),
        ),
        Err(e) => admin_error(e),
    }
}

/// `GET /_accounts`: every account, without passwords.
pub(crate) async fn list_accounts(req: HttpRequest) -> HttpResponse {
    let rows: Vec<Value> = with_world(|w| {
        w.accounts()
            .iter()
            .map(|a| account_json(&req, a, w.live_sessions(&a.did)))
            .collect()
    });
    json_response(StatusCode::OK, &json!({ "accounts": rows }))
}

/// `GET /_accounts/{handle or did}`.
pub(crate) async fn get_account(req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let found = with_world(|w| w.find(&id).cloned().map(|a| (w.live_sessions(&a.did), a)));
    match found {
        Some((sessions, a)) => json_response(StatusCode::OK, &account_json(&req, &a, sessions)),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no account {:?}", id.as_str()),
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateAppPassword {
    name: String,
    #[serde(default)]
    privileged: bool,
}

/// `POST /_accounts/{id}/app-passwords {name, privileged?}` → `201 {name, password,
/// privileged, createdAt}`, as `com.atproto.server.createAppPassword` answers.
pub(crate) async fn create_app_password(id: web::Path<String>, body: web::Bytes) -> HttpResponse {
    let req: CreateAppPassword = match parse(&body) {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    match with_world(|w| w.create_app_password(&id, &req.name, req.privileged)) {
        Ok(p) => json_response(
            StatusCode::CREATED,
            &json!({"name": p.name, "password": p.password, "privileged": p.privileged, "createdAt": rfc3339(p.created_at)}),
        ),
        Err(e) => admin_error(e),
    }
}

/// `DELETE /_accounts/{id}/app-passwords/{name}` → `{revoked, sessions}`: the password and
/// every refresh token made with it stop working.
pub(crate) async fn revoke_app_password(path: web::Path<(String, String)>) -> HttpResponse {
    let (id, name) = path.into_inner();
    match with_world(|w| w.revoke_app_password(&id, &name)) {
        Ok(sessions) => json_response(
            StatusCode::OK,
            &json!({"revoked": name, "sessions": sessions}),
        ),
        Err(e) => admin_error(e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetStatus {
    status: Status,
}

/// `POST /_accounts/{id}/status {"status": "active" | "takendown" | "deactivated"}`.
pub(crate) async fn set_status(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let body: SetStatus = match parse(&body) {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    match with_world(|w| {
        w.set_status(&id, body.status)
            .map(|a| (w.live_sessions(&a.did), a))
    }) {
        Ok((sessions, a)) => json_response(StatusCode::OK, &account_json(&req, &a, sessions)),
        Err(e) => admin_error(e),
    }
}

/// `POST /_accounts/{id}/knobs {…}`: replaces the account's knobs as a whole (`{}` clears).
pub(crate) async fn set_knobs(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let knobs: Knobs = match parse(&body) {
        Ok(k) => k,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    match with_world(|w| {
        w.set_knobs(&id, knobs)
            .map(|a| (w.live_sessions(&a.did), a))
    }) {
        Ok((sessions, a)) => json_response(StatusCode::OK, &account_json(&req, &a, sessions)),
        Err(e) => admin_error(e),
    }
}

/// Anything else under `/sandbox/bluesky`.
pub(crate) async fn not_found(req: HttpRequest) -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "the Plugboard sandbox has no Bluesky endpoint at {} {}",
            req.method(),
            req.path()
        ),
    )
}
