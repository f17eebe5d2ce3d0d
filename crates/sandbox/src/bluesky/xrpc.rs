//! The XRPC endpoints, at `/sandbox/bluesky/xrpc/{nsid}`, answering in the lexicons' JSON
//! and the reference PDS's error shape `{error, message}` with its statuses (400 for a
//! refused token, 401 for missing or bad credentials, 429 for the rate limit). Messages are
//! the reference PDS's own where it has one (`packages/pds/src/auth-verifier.ts`,
//! `api/com/atproto/server/*.ts`).

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::jwt::{self, Claims, TYP_ACCESS, TYP_REFRESH};
use super::world::{
    Account, Login, Rotation, SERVICE_DID, Scope, Status, Tokens, now_seconds, record_cid,
    signing_key, with_world,
};
use crate::errors::json_response;

/// An XRPC error answer.
pub(crate) struct XrpcError {
    status: StatusCode,
    error: &'static str,
    message: String,
    headers: Vec<(&'static str, String)>,
}

impl XrpcError {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    fn render(self) -> HttpResponse {
        let mut resp = json_response(
            self.status,
            &json!({"error": self.error, "message": self.message}),
        );
        for (name, value) in self.headers {
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&value) {
                resp.headers_mut()
                    .insert(actix_web::http::header::HeaderName::from_static(name), v);
            }
        }
        resp
    }
}

type XrpcResult = Result<HttpResponse, XrpcError>;

fn ok(body: Value) -> XrpcResult {
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Query,
    Procedure,
}

/// `GET|POST /xrpc/{nsid}`.
pub(crate) async fn xrpc(
    req: HttpRequest,
    nsid: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let nsid = nsid.into_inner();
    type Handler = fn(&HttpRequest, &[u8]) -> XrpcResult;
    let (kind, handler): (Kind, Handler) = match nsid.as_str() {
        "com.atproto.server.describeServer" => (Kind::Query, describe_server),
        "com.atproto.server.createSession" => (Kind::Procedure, create_session),
        "com.atproto.server.refreshSession" => (Kind::Procedure, refresh_session),
        "com.atproto.server.getSession" => (Kind::Query, get_session),
        "com.atproto.server.deleteSession" => (Kind::Procedure, delete_session),
        "com.atproto.identity.resolveHandle" => (Kind::Query, resolve_handle),
        "com.atproto.repo.describeRepo" => (Kind::Query, describe_repo),
        "com.atproto.repo.getRecord" => (Kind::Query, get_record),
        "app.bsky.actor.getProfile" => (Kind::Query, get_profile),
        _ => {
            return XrpcError::new(
                StatusCode::NOT_IMPLEMENTED,
                "MethodNotImplemented",
                "Method Not Implemented",
            )
            .render();
        }
    };
    let method = req.method();
    let allowed = match kind {
        Kind::Query => method == actix_web::http::Method::GET,
        Kind::Procedure => method == actix_web::http::Method::POST,
    };
    if !allowed {
        let expected = if kind == Kind::Query { "GET" } else { "POST" };
        return XrpcError::invalid_request(format!(
            "Incorrect HTTP method ({method}) expected {expected}"
        ))
        .render();
    }
    handler(&req, &body).unwrap_or_else(XrpcError::render)
}

/// This fake's own XRPC base: scheme and host of the request, and its path up to `/xrpc/`
/// (`http://127.0.0.1:8080/sandbox/bluesky`), so it is right wherever the sandbox is mounted.
pub(crate) fn own_base(req: &HttpRequest) -> String {
    let info = req.connection_info();
    let path = req.path();
    let prefix = path
        .find("/xrpc/")
        .or_else(|| path.find("/_accounts"))
        .map_or(path, |at| &path[..at]);
    format!("{}://{}{}", info.scheme(), info.host(), prefix)
}

pub(crate) fn did_doc(req: &HttpRequest, account: &Account) -> Value {
    let endpoint = account
        .knobs
        .pds_endpoint
        .clone()
        .unwrap_or_else(|| own_base(req));
    json!({
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
            "https://w3id.org/security/suites/secp256k1-2019/v1"
        ],
        "id": account.did,
        "alsoKnownAs": [format!("at://{}", account.handle)],
        "verificationMethod": [{
            "id": format!("{}#atproto", account.did),
            "type": "Multikey",
            "controller": account.did,
            "publicKeyMultibase": signing_key(&account.did),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": endpoint,
        }],
    })
}

/// `{did, handle, didDoc?, email?, emailConfirmed, emailAuthFactor?, active, status?}`: the
/// fields createSession, refreshSession and getSession share.
fn session_fields(req: &HttpRequest, account: &Account) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    out.insert("did".into(), json!(account.did));
    out.insert("handle".into(), json!(account.handle));
    if !account.knobs.omit_did_doc {
        out.insert("didDoc".into(), did_doc(req, account));
    }
    if let Some(email) = &account.email {
        out.insert("email".into(), json!(email));
        out.insert("emailConfirmed".into(), json!(true));
    }
    if account.knobs.auth_factor_token.is_some() {
        out.insert("emailAuthFactor".into(), json!(true));
    }
    out.insert("active".into(), json!(account.status == Status::Active));
    match account.status {
        Status::Active => {}
        Status::Takendown => {
            out.insert("status".into(), json!("takendown"));
        }
        Status::Deactivated => {
            out.insert("status".into(), json!("deactivated"));
        }
    }
    out
}

fn session_json(req: &HttpRequest, account: &Account, tokens: Tokens) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("accessJwt".into(), json!(tokens.access_jwt));
    out.insert("refreshJwt".into(), json!(tokens.refresh_jwt));
    out.extend(session_fields(req, account));
    Value::Object(out)
}

fn describe_server(_req: &HttpRequest, _body: &[u8]) -> XrpcResult {
    ok(json!({
        "did": SERVICE_DID,
        "availableUserDomains": [".test"],
        "inviteCodeRequired": false,
        "phoneVerificationRequired": false,
        "links": {},
        "contact": {},
    }))
}

/// A procedure's JSON input, refused as the reference's lexicon validation refuses it.
fn json_input<T: for<'de> Deserialize<'de>>(
    req: &HttpRequest,
    body: &[u8],
) -> Result<T, XrpcError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.is_empty() {
        return Err(XrpcError::invalid_request(
            "Request encoding (Content-Type) required but not provided",
        ));
    }
    if !content_type.starts_with("application/json") {
        return Err(XrpcError::invalid_request(format!(
            "Wrong request encoding (Content-Type): {content_type}"
        )));
    }
    serde_json::from_slice(body)
        .map_err(|e| XrpcError::invalid_request(format!("Input is invalid: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSessionInput {
    identifier: String,
    password: String,
    #[serde(default)]
    auth_factor_token: Option<String>,
    #[serde(default)]
    allow_takendown: Option<bool>,
}

fn create_session(req: &HttpRequest, body: &[u8]) -> XrpcResult {
    let input: CreateSessionInput = json_input(req, body)?;
    let unauthorized =
        |error, message: &str| XrpcError::new(StatusCode::UNAUTHORIZED, error, message);
    with_world(|w| {
        match w.login(
            &input.identifier,
            &input.password,
            input.auth_factor_token.as_deref(),
            input.allow_takendown.unwrap_or(false),
        ) {
            Login::Session { did, tokens } => {
                let account = w
                    .account(&did)
                    .cloned()
                    .ok_or_else(|| XrpcError::invalid_request("account vanished"))?;
                ok(session_json(req, &account, tokens))
            }
            Login::BadCredentials => Err(unauthorized(
                "AuthenticationRequired",
                "Invalid identifier or password",
            )),
            Login::PasswordTooLong => Err(unauthorized(
                "AuthenticationRequired",
                "Password too long. Consider resetting your password.",
            )),
            Login::Takendown => Err(unauthorized(
                "AccountTakedown",
                "Account has been taken down",
            )),
            Login::AuthFactorRequired => Err(unauthorized(
                "AuthFactorTokenRequired",
                "A sign in code has been sent to your email address",
            )),
            Login::AuthFactorInvalid => Err(unauthorized("InvalidToken", "Token is invalid")),
            Login::RateLimited {
                limit,
                window,
                reset,
            } => {
                let mut err = XrpcError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "RateLimitExceeded",
                    "Rate Limit Exceeded",
                );
                err.headers = vec![
                    ("ratelimit-limit", limit.to_string()),
                    ("ratelimit-remaining", "0".to_owned()),
                    ("ratelimit-reset", reset.to_string()),
                    ("ratelimit-policy", format!("{limit};w={window}")),
                ];
                Err(err)
            }
        }
    })
}

/// The bearer token of the request, refused as the reference's `bearerTokenFromReq`.
fn bearer(req: &HttpRequest) -> Result<String, XrpcError> {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AuthMissing",
            "Authentication Required",
        ));
    };
    let header = header
        .to_str()
        .map_err(|_| XrpcError::invalid_request("Malformed authorization header"))?;
    match header.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        Some((scheme, _)) if !scheme.eq_ignore_ascii_case("bearer") => Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "InvalidToken",
            format!("Unsupported authorization type: {scheme}"),
        )),
        _ => Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "InvalidToken",
            "Malformed authorization header",
        )),
    }
}

fn invalid_token(message: &str) -> XrpcError {
    XrpcError::new(StatusCode::BAD_REQUEST, "InvalidToken", message)
}

/// Verifies a token of type `typ`: signature, expiry (unless `allow_expired`), type.
fn verify(token: &str, typ: &str, allow_expired: bool) -> Result<Claims, XrpcError> {
    let (token_typ, claims) =
        jwt::verify(token).map_err(|_| invalid_token("Token could not be verified"))?;
    if !allow_expired && claims.exp <= now_seconds() {
        return Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "Token has expired",
        ));
    }
    if token_typ != typ {
        return Err(invalid_token("Invalid token type"));
    }
    Ok(claims)
}

fn refresh_claims(req: &HttpRequest, allow_expired: bool) -> Result<(Claims, String), XrpcError> {
    let claims = verify(&bearer(req)?, TYP_REFRESH, allow_expired)?;
    if claims.scope != Scope::Refresh.as_str() {
        return Err(invalid_token("Bad token scope"));
    }
    let jti = claims.jti.clone().ok_or_else(|| {
        XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "MissingTokenId",
            "Unexpected missing refresh token id",
        )
    })?;
    Ok((claims, jti))
}

/// The account behind an access token of a standard scope.
fn access_account(req: &HttpRequest) -> Result<Account, XrpcError> {
    let claims = verify(&bearer(req)?, TYP_ACCESS, false)?;
    if !Scope::is_standard_access(&claims.scope) {
        return Err(invalid_token("Bad token scope"));
    }
    let account = with_world(|w| w.account(&claims.sub).cloned())
        .ok_or_else(|| invalid_token("Token could not be verified"))?;
    if account.status == Status::Takendown {
        return Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AccountTakedown",
            "Account has been taken down",
        ));
    }
    Ok(account)
}

fn refresh_session(req: &HttpRequest, _body: &[u8]) -> XrpcResult {
    let (claims, jti) = refresh_claims(req, false)?;
    with_world(|w| match w.rotate(&claims.sub, &jti) {
        Rotation::Rotated { did, tokens } => {
            let account = w
                .account(&did)
                .cloned()
                .ok_or_else(|| XrpcError::invalid_request("account vanished"))?;
            ok(session_json(req, &account, tokens))
        }
        Rotation::Revoked => Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "Token has been revoked",
        )),
        Rotation::UnknownAccount => Err(XrpcError::invalid_request(format!(
            "Could not find user info for account: {}",
            claims.sub
        ))),
        Rotation::Takendown => Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AccountTakedown",
            "Account has been taken down",
        )),
    })
}

fn get_session(req: &HttpRequest, _body: &[u8]) -> XrpcResult {
    let account = access_account(req)?;
    ok(Value::Object(session_fields(req, &account)))
}

/// Takes the refresh token even when expired, as the reference does, and answers 200 with
/// no body.
fn delete_session(req: &HttpRequest, _body: &[u8]) -> XrpcResult {
    let (_, jti) = refresh_claims(req, true)?;
    with_world(|w| w.revoke_refresh(&jti));
    Ok(HttpResponse::Ok().finish())
}

fn query_param(req: &HttpRequest, name: &str) -> Result<String, XrpcError> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            XrpcError::invalid_request(format!("Params must have the property \"{name}\""))
        })
}

fn resolve_handle(req: &HttpRequest, _body: &[u8]) -> XrpcResult {
    let handle = query_param(req, "handle")?;
    let did = with_world(|w| {
        w.find(&handle)
            .filter(|_| !handle.contains('@') && !handle.starts_with("did:"))
            .map(|a| a.did.clone())
    });
    match did {
        Some(did) => ok(json!({ "did": did })),
        None => Err(XrpcError::invalid_request("Unable to resolve handle")),
    }
}

/// The actor of `repo`/`actor` parameters: a DID or a handle (not an email).
fn actor(value: &str) -> Option<Account> {
    if value.contains('@') {
        return None;
    }
    with_world(|w| w.find(value).cloned())
}

fn describe_repo(req: &HttpRequest, _body: &[u8]) -> XrpcResult {
    let repo = query_param(req, "repo")?;
    let account = actor(&repo)
        .ok_or_else(|| XrpcError::invalid_request(format!("Could not find repo: {repo}")))?;
    repo_available(&account)?;
    let collections: Vec<&str> = if account.profile.display_name.is_some() {
        vec!["app.bsky.actor.profile"]
    } else {
        Vec::new()
    };
    ok(json!({
        "handle": account.handle,
        "did": account.did,
        "didDoc": did_doc(req, &account),
        "collections": collections,
        "handleIsCorrect": true,
    }))
}

fn repo_available(account: &Account) -> Result<(), XrpcError> {
    match account.status {
        Status::Active => Ok(()),
        Status::Takendown => Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "RepoTakendown",
            format!("Repo has been takendown: {}", account.did),
        )),
        Status::Deactivated => Err(XrpcError::new(
            StatusCode::BAD_REQUEST,
            "RepoDeactivated",
            format!("Repo has been deactivated: {}", account.did),
        )),
    }
}

/// Only the profile record (`app.bsky.actor.profile/self`) exists in the fake's repos.
fn get_record(req: &HttpRequest, _body: &[u8]) -> XrpcResult {
    let repo = query_param(req, "repo")?;
    let collection = query_param(req, "collection")?;
    let rkey = query_param(req, "rkey")?;
    let account = actor(&repo)
        .ok_or_else(|| XrpcError::invalid_request(format!("Could not find repo: {repo}")))?;
    repo_available(&account)?;
    let uri = format!("at://{}/{collection}/{rkey}", account.did);
    let not_found = || {
        XrpcError::new(
            StatusCode::BAD_REQUEST,
            "RecordNotFound",
            format!("Could not locate record: {uri}"),
        )
    };
    if collection != "app.bsky.actor.profile" || rkey != "self" {
        return Err(not_found());
    }
    let Some(display_name) = &account.profile.display_name else {
        return Err(not_found());
    };
    let mut value = json!({"$type": "app.bsky.actor.profile", "displayName": display_name});
    if let (Some(d), Some(obj)) = (&account.profile.description, value.as_object_mut()) {
        obj.insert("description".into(), json!(d));
    }
    let cid = record_cid(&account.did, &value.to_string());
    ok(json!({"uri": uri, "cid": cid, "value": value}))
}

fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `app.bsky.actor.getProfile`: the real PDS proxies it to the AppView; the fake answers
/// it itself with a `profileViewDetailed`. A token is optional, but when one is sent it
/// must be good, as the PDS checks it before proxying.
fn get_profile(req: &HttpRequest, _body: &[u8]) -> XrpcResult {
    let viewer = if req.headers().contains_key(AUTHORIZATION) {
        Some(access_account(req)?)
    } else {
        None
    };
    if viewer.is_some_and(|v| v.knobs.app_view_unreachable) {
        return Err(XrpcError::new(
            StatusCode::BAD_GATEWAY,
            "UpstreamFailure",
            "Upstream service unreachable",
        ));
    }
    let name = query_param(req, "actor")?;
    let account = actor(&name).ok_or_else(|| XrpcError::invalid_request("Profile not found"))?;
    match account.status {
        Status::Active => {}
        Status::Takendown => {
            return Err(XrpcError::new(
                StatusCode::BAD_REQUEST,
                "AccountTakedown",
                "Account has been suspended",
            ));
        }
        Status::Deactivated => {
            return Err(XrpcError::new(
                StatusCode::BAD_REQUEST,
                "AccountDeactivated",
                "Account is deactivated",
            ));
        }
    }
    let p = &account.profile;
    let mut out = json!({
        "did": account.did,
        "handle": account.handle,
        "avatar": crate::identity::avatar_url(req, "bluesky", &account.handle),
        "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": false},
        "followersCount": p.followers_count,
        "followsCount": p.follows_count,
        "postsCount": p.posts_count,
        "indexedAt": rfc3339(account.created_at),
        "createdAt": rfc3339(account.created_at),
        "labels": [],
    });
    if let Some(obj) = out.as_object_mut() {
        if let Some(d) = &p.display_name {
            obj.insert("displayName".into(), json!(d));
        }
        if let Some(d) = &p.description {
            obj.insert("description".into(), json!(d));
        }
    }
    ok(out)
}
