//! The authorization server's HTTP side: metadata documents, registration, the consent
//! page and the token endpoint. The rules live in `plugboard_service::mcp::oauth`; this
//! module reads requests and writes OAuth's wire shapes.

use super::limiter::ConsentLimiter;
use crate::AppState;
use crate::pages::{html, plain_page};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use plugboard_service::ServiceError;
use plugboard_service::mcp::oauth::{
    AuthorizationRequest, AuthorizeParams, AuthorizeRejection, ClientRegistration, TokenParams,
};
use plugboard_service::mcp::{McpScope, McpSettings, OAuthError};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
pub const TOKEN_PATH: &str = "/oauth/token";
pub const REGISTER_PATH: &str = "/oauth/register";
pub const PRM_PATH: &str = "/.well-known/oauth-protected-resource/_mcp";
const CSRF_COOKIE: &str = "plugboard_mcp_csrf";
const CSRF_SECONDS: i64 = 1800;

fn settings(state: &AppState) -> Option<McpSettings> {
    state
        .services
        .mcp_settings()
        .inspect_err(
            |e| tracing::error!(error = %e, "MCP endpoints need the connect flow's public URL"),
        )
        .ok()
}

fn not_set_up() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .json(json!({"error": "MCP is not set up on this server", "code": "not_configured"}))
}

fn no_store(mut resp: HttpResponse) -> HttpResponse {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// `{"error", "error_description"}` (RFC 6749 §5.2), `invalid_client` as 401.
fn oauth_error(e: &OAuthError) -> HttpResponse {
    let status = match e.error {
        "invalid_client" => StatusCode::UNAUTHORIZED,
        "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    no_store(HttpResponse::build(status).json(json!({
        "error": e.error,
        "error_description": e.description,
    })))
}

/// RFC 8414 authorization server metadata.
pub async fn authorization_server_metadata(state: web::Data<AppState>) -> HttpResponse {
    let Some(s) = settings(&state) else {
        return not_set_up();
    };
    let issuer = &s.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{AUTHORIZE_PATH}"),
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "registration_endpoint": format!("{issuer}{REGISTER_PATH}"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": McpScope::ALL.map(McpScope::as_str),
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": "https://github.com/plugboard/plugboard/blob/main/docs/mcp.md",
    }))
}

/// RFC 9728 protected resource metadata, at both the path-inserted and the root location.
pub async fn protected_resource_metadata(state: web::Data<AppState>) -> HttpResponse {
    let Some(s) = settings(&state) else {
        return not_set_up();
    };
    HttpResponse::Ok().json(json!({
        "resource": s.resource,
        "authorization_servers": [s.issuer],
        "scopes_supported": McpScope::ALL.map(McpScope::as_str),
        "bearer_methods_supported": ["header"],
        "resource_name": "Plugboard",
        "resource_documentation": "https://github.com/plugboard/plugboard/blob/main/docs/mcp.md",
    }))
}

/// RFC 7591 dynamic client registration (public clients).
pub async fn register(state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let req: ClientRegistration = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return no_store(HttpResponse::BadRequest().json(json!({
                "error": "invalid_client_metadata",
                "error_description": format!("The body must be a JSON client metadata document: {e}"),
            })));
        }
    };
    match state.services.register_mcp_client(req).await {
        Ok(client) => no_store(HttpResponse::Created().json(client)),
        Err(e) => oauth_error(&e),
    }
}

#[derive(Template)]
#[template(path = "mcp_consent.html")]
struct ConsentTemplate {
    sandbox: bool,
    client_name: String,
    issuer_host: String,
    redirect_host: String,
    scopes: Vec<&'static str>,
    error: Option<String>,
    action: &'static str,
    hidden: Vec<(&'static str, String)>,
    csrf: String,
}

fn csrf_for(nonce: &str) -> String {
    hex::encode(Sha256::digest(format!("mcp-consent:{nonce}").as_bytes()))
}

fn hidden_fields(p: &AuthorizeParams) -> Vec<(&'static str, String)> {
    let fields = [
        ("response_type", &p.response_type),
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("scope", &p.scope),
        ("state", &p.state),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
        ("resource", &p.resource),
    ];
    fields
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
}

fn consent_page(
    state: &AppState,
    settings: &McpSettings,
    req: &AuthorizationRequest,
    params: &AuthorizeParams,
    nonce: &str,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let issuer_host = url::Url::parse(&settings.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let page = ConsentTemplate {
        sandbox: !state
            .services
            .connect
            .as_ref()
            .is_none_or(|c| c.sandboxed.is_empty()),
        client_name: req.client.name.clone(),
        issuer_host,
        redirect_host: req.redirect_host(),
        scopes: req.scopes.iter().map(McpScope::describe).collect(),
        error,
        action: AUTHORIZE_PATH,
        hidden: hidden_fields(params),
        csrf: csrf_for(nonce),
    };
    let mut resp = html(status, page.render());
    let cookie = Cookie::build(CSRF_COOKIE, nonce.to_owned())
        .path(AUTHORIZE_PATH)
        .http_only(true)
        .secure(settings.issuer.starts_with("https://"))
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(CSRF_SECONDS))
        .finish();
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn rejection(r: AuthorizeRejection) -> HttpResponse {
    match r {
        AuthorizeRejection::Page(e) => {
            tracing::info!(target: "security", error = e.error, "MCP authorization request refused");
            plain_page(
                StatusCode::BAD_REQUEST,
                "This authorization request cannot be completed",
                &format!("{} ({})", e.description, e.error),
            )
        }
        AuthorizeRejection::Redirect { location } => redirect(&location),
    }
}

fn redirect(location: &str) -> HttpResponse {
    match HeaderValue::from_str(location) {
        Ok(v) => no_store(
            HttpResponse::Found()
                .insert_header((header::LOCATION, v))
                .finish(),
        ),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

fn new_nonce() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// `GET /oauth/authorize`: checks the request and shows the consent form.
pub async fn authorize_page(
    state: web::Data<AppState>,
    query: web::Query<AuthorizeParams>,
) -> HttpResponse {
    let Some(s) = settings(&state) else {
        return not_set_up();
    };
    let params = query.into_inner();
    match state.services.check_mcp_authorization(&params).await {
        Ok(req) => consent_page(
            &state,
            &s,
            &req,
            &params,
            &new_nonce(),
            None,
            StatusCode::OK,
        ),
        Err(r) => rejection(r),
    }
}

/// `POST /oauth/authorize`: the consent form's answer.
pub async fn authorize_submit(
    state: web::Data<AppState>,
    limiter: web::Data<ConsentLimiter>,
    http: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let Some(s) = settings(&state) else {
        return not_set_up();
    };
    let fields = form.into_inner();
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let params = AuthorizeParams {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        resource: get("resource"),
    };
    let req = match state.services.check_mcp_authorization(&params).await {
        Ok(req) => req,
        Err(r) => return rejection(r),
    };
    let nonce = http
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let presented = get("csrf").unwrap_or_default();
    if nonce.is_empty() || !bool::from(csrf_for(&nonce).as_bytes().ct_eq(presented.as_bytes())) {
        tracing::info!(target: "security", client_id = %req.client.id, "MCP consent refused: CSRF token or cookie missing or wrong");
        return plain_page(
            StatusCode::FORBIDDEN,
            "This form expired",
            "The consent form could not be verified (it may have expired or come from another page). Start the connection again from your MCP client.",
        );
    }
    if get("decision").as_deref() == Some("deny") {
        return match state.services.deny_mcp_authorization(&req) {
            Ok(location) => redirect(&location),
            Err(_) => HttpResponse::InternalServerError().finish(),
        };
    }
    let peer = http.peer_addr().map(|a| a.ip());
    if limiter.is_blocked(peer) {
        tracing::warn!(target: "security", client_id = %req.client.id, "MCP consent: too many wrong API keys from this address");
        return consent_page(
            &state,
            &s,
            &req,
            &params,
            &nonce,
            Some(
                "Too many wrong API keys from your address. Wait a few minutes and try again."
                    .into(),
            ),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let key = get("api_key").unwrap_or_default();
    match state.services.approve_mcp_authorization(&req, &key).await {
        Ok(location) => redirect(&location),
        Err(ServiceError::Unauthenticated { .. }) => {
            limiter.record_failure(peer);
            consent_page(
                &state,
                &s,
                &req,
                &params,
                &nonce,
                Some("That API key is not valid. Paste a key from your Plugboard operator (it starts with sk_).".into()),
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(ServiceError::Forbidden { message, .. }) => consent_page(
            &state,
            &s,
            &req,
            &params,
            &nonce,
            Some(message),
            StatusCode::FORBIDDEN,
        ),
        Err(e) => {
            tracing::error!(error = %e, "MCP consent failed");
            plain_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Plugboard could not complete the authorization. Try again.",
            )
        }
    }
}

/// `POST /oauth/token`.
pub async fn token(state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let params: TokenParams = match serde_urlencoded::from_bytes(&body) {
        Ok(p) => p,
        Err(_) => {
            return oauth_error(&OAuthError {
                error: "invalid_request",
                description: "The body must be application/x-www-form-urlencoded".into(),
            });
        }
    };
    match state.services.mcp_token(params).await {
        Ok(tokens) => no_store(HttpResponse::Ok().json(tokens)),
        Err(e) => {
            tracing::info!(error = e.error, "MCP token request refused");
            oauth_error(&e)
        }
    }
}
