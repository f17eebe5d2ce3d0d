//! The token endpoint (RFC 6749 §4.1.3, §6), Meta's long-lived exchange and extension, and
//! revocation (RFC 7009), each answering in the platform's own JSON shape.

use std::time::Duration as StdDuration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::errors::{TokenError, TokenErrorKind as K, json_response};
use crate::identity::user_id;
use crate::params::Params;
use crate::state::{
    AccessGrant, Challenge, DEFAULT_SLOW_MILLIS, Faults, MAX_SLOW_MILLIS, RefreshGrant, TokenFault,
    now, with_state,
};
use crate::table::{ClientAuth, Fake, PkceRule, Renewal, TokenErrors, TokenShape};

/// Ten years: keeps a test's `tokenLifetimeSeconds` from overflowing date arithmetic.
const MAX_LIFETIME: i64 = 10 * 365 * 86_400;

/// What one exchange handed out, before it is put in the platform's shape.
struct Issued {
    access: String,
    expires_in: i64,
    refresh: Option<(String, Option<i64>)>,
    scopes: Vec<String>,
    username: String,
    refreshing: bool,
}

/// Parameters of a token request: the form, plus the query where Meta accepts it.
fn request_params(req: &HttpRequest, fake: &Fake, body: &[u8]) -> Params {
    let form = Params::parse(body);
    if fake.token_via_get {
        Params::parse(req.query_string().as_bytes()).merged(form)
    } else {
        form
    }
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(req: &HttpRequest) -> Option<Result<(String, String), ()>> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let pair = decoded.as_deref().and_then(|d| d.split_once(':'));
    Some(match pair {
        Some((id, secret)) => Ok((form_decode(id), form_decode(secret))),
        None => Err(()),
    })
}

fn form_decode(raw: &str) -> String {
    url::form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Authenticates the client the way the real platform demands; returns its id.
fn authenticate(req: &HttpRequest, fake: &Fake, params: &Params) -> Result<String, TokenError> {
    let basic = basic_credentials(req);
    let body_id = params.get(fake.client_id_param);
    let body_secret = params.get("client_secret");
    let failed = || TokenError::new(K::InvalidClient, "Client authentication failed");
    let (id, secret) = match (fake.client_auth, basic) {
        (_, Some(Err(()))) => return Err(failed()),
        (ClientAuth::Basic | ClientAuth::Either, Some(Ok(_))) if body_secret.is_some() => {
            // RFC 6749 §2.3: one authentication method per request.
            return Err(TokenError::new(
                K::InvalidRequest,
                "The client authenticated with more than one method",
            ));
        }
        (ClientAuth::Basic | ClientAuth::Either, Some(Ok((id, secret)))) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(failed());
            }
            (id, secret)
        }
        (ClientAuth::Basic, None) if fake.token_errors == TokenErrors::X => {
            return Err(TokenError::new(
                K::MissingBasic,
                "Missing valid authorization header",
            ));
        }
        (ClientAuth::Basic, None) => return Err(failed()),
        (ClientAuth::Body, Some(Ok(_))) if body_secret.is_none() => {
            return Err(TokenError::new(
                K::InvalidClient,
                "client_secret must be sent in the request body",
            ));
        }
        (ClientAuth::Body | ClientAuth::Either, _) => match (body_id, body_secret) {
            (Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
            _ => {
                return Err(TokenError::new(
                    K::InvalidClient,
                    format!("Missing {} or client_secret", fake.client_id_param),
                ));
            }
        },
    };
    let client = with_state(|s| s.client(fake.slug, &id)).ok_or_else(failed)?;
    if constant_time_eq(&client.secret, &secret) {
        Ok(id)
    } else {
        Err(failed())
    }
}

/// Applies the fault knobs: may sleep, may answer in place of the endpoint.
async fn apply_faults(
    fake: &Fake,
    shape: TokenErrors,
    client_id: &str,
) -> Result<Faults, HttpResponse> {
    let faults = with_state(|s| s.faults(fake.slug, Some(client_id)));
    match faults.token {
        Some(TokenFault::Slow) => {
            let millis = faults
                .slow_millis
                .unwrap_or(DEFAULT_SLOW_MILLIS)
                .min(MAX_SLOW_MILLIS);
            tokio::time::sleep(StdDuration::from_millis(millis)).await;
        }
        Some(TokenFault::Fail) => {
            return Err(
                TokenError::new(K::ServerError, "The sandbox was told to fail").render(shape),
            );
        }
        Some(TokenFault::Malformed) => {
            return Err(HttpResponse::Ok()
                .content_type("application/json")
                .body("{\"access_token\":\"sbx-truncated"));
        }
        Some(TokenFault::InvalidGrant) => {
            return Err(TokenError::new(
                K::InvalidGrant,
                "The sandbox was told to refuse every grant",
            )
            .render(shape));
        }
        None => {}
    }
    Ok(faults)
}

fn lifetime(faults: &Faults, default: i64) -> i64 {
    faults
        .token_lifetime_seconds
        .unwrap_or(default)
        .clamp(0, MAX_LIFETIME)
}

pub(crate) async fn token(req: &HttpRequest, fake: &'static Fake, body: &[u8]) -> HttpResponse {
    let params = request_params(req, fake, body);
    let shape = fake.token_errors;
    match token_inner(req, fake, &params).await {
        Ok(resp) => resp,
        Err(e) => e.render(shape),
    }
}

async fn token_inner(
    req: &HttpRequest,
    fake: &'static Fake,
    params: &Params,
) -> Result<HttpResponse, TokenError> {
    if let Some(p) = params.repeated() {
        return Err(TokenError::new(
            K::InvalidRequest,
            format!("{p} is repeated"),
        ));
    }
    let client_id = authenticate(req, fake, params)?;
    let faults = match apply_faults(fake, fake.token_errors, &client_id).await {
        Ok(f) => f,
        Err(resp) => return Ok(resp),
    };
    // Facebook's code exchange carries no grant_type (platforms.md §3).
    let grant_type = params.get("grant_type").or_else(|| {
        (fake.token_shape == TokenShape::Facebook && params.has("code"))
            .then_some("authorization_code")
    });
    let issued = match (grant_type, fake.renewal) {
        (Some("authorization_code"), _) => exchange_code(fake, &client_id, params, &faults)?,
        (Some("refresh_token"), Renewal::Grant { rotates, echoes }) => {
            refresh(fake, &client_id, params, &faults, rotates, echoes)?
        }
        (Some(g), Renewal::LongLived { exchange_grant, .. })
            if g == exchange_grant && fake.token_shape == TokenShape::Facebook =>
        {
            return long_lived(fake, params, Some(&client_id), &faults).map(ok_json);
        }
        (None, _) => return Err(TokenError::new(K::InvalidRequest, "Missing grant_type")),
        (Some(other), _) => {
            return Err(TokenError::new(
                K::UnsupportedGrantType,
                format!("grant_type {other:?} is not supported"),
            ));
        }
    };
    Ok(ok_json(token_json(fake, &issued)))
}

fn ok_json(body: Value) -> HttpResponse {
    json_response(StatusCode::OK, &body)
}

fn exchange_code(
    fake: &Fake,
    client_id: &str,
    params: &Params,
    faults: &Faults,
) -> Result<Issued, TokenError> {
    let invalid = |why: &str| {
        TokenError::new(
            K::InvalidGrant,
            format!("The authorization code was invalid: {why}"),
        )
    };
    let code = params
        .get("code")
        .ok_or_else(|| TokenError::new(K::InvalidRequest, "Missing code"))?;
    let grant =
        with_state(|s| s.take_code(code)).ok_or_else(|| invalid("unknown or already used"))?;
    if grant.platform != fake.slug || grant.client_id != client_id {
        return Err(invalid("issued to another client"));
    }
    if grant.expires_at <= now() {
        return Err(invalid("expired"));
    }
    // RFC 6749 §4.1.3: identical to the redirect_uri of the authorization request.
    if params.get("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return Err(invalid(
            "redirect_uri does not match the authorization request",
        ));
    }
    check_verifier(fake, grant.challenge.as_ref(), params.get("code_verifier"))?;
    let expires_in = lifetime(faults, fake.access_lifetime);
    let now = now();
    let (access, refresh) = with_state(|s| {
        let access = s.insert_access(AccessGrant {
            platform: fake.slug,
            client_id: client_id.to_owned(),
            username: grant.username.clone(),
            scopes: grant.scopes.clone(),
            destinations: grant.destinations,
            expires_at: now + Duration::seconds(expires_in),
            long_lived: false,
            from_code: Some(code.to_owned()),
            page: None,
        });
        let refresh = grant.issue_refresh.then(|| {
            let expires = fake.refresh_lifetime.map(|l| now + Duration::seconds(l));
            let token = s.insert_refresh(RefreshGrant {
                platform: fake.slug,
                client_id: client_id.to_owned(),
                username: grant.username.clone(),
                scopes: grant.scopes.clone(),
                destinations: grant.destinations,
                expires_at: expires,
                from_code: Some(code.to_owned()),
            });
            (token, fake.refresh_lifetime)
        });
        (access, refresh)
    });
    Ok(Issued {
        access,
        expires_in,
        refresh,
        scopes: grant.scopes,
        username: grant.username,
        refreshing: false,
    })
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(code_verifier)) == code_challenge` for S256.
fn check_verifier(
    fake: &Fake,
    challenge: Option<&Challenge>,
    verifier: Option<&str>,
) -> Result<(), TokenError> {
    let bad =
        |why: &str| TokenError::new(K::InvalidGrant, format!("PKCE verification failed: {why}"));
    match (fake.pkce, challenge, verifier) {
        (PkceRule::Ignored, _, _) => Ok(()),
        (PkceRule::Rejected, _, Some(_)) => Err(TokenError::new(
            K::InvalidRequest,
            "PKCE is not enabled for this application",
        )),
        (_, None, None) => Ok(()),
        (_, None, Some(_)) => Err(bad(
            "code_verifier sent but the authorization request had no code_challenge",
        )),
        (_, Some(_), None) => Err(bad("missing code_verifier")),
        (_, Some(challenge), Some(verifier)) => {
            // §4.1: 43–128 unreserved characters.
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'));
            let matches = match challenge {
                Challenge::S256(c) => constant_time_eq(
                    &URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
                    c,
                ),
                Challenge::Plain(c) => constant_time_eq(verifier, c),
            };
            if well_formed && matches {
                Ok(())
            } else {
                Err(bad("code_verifier does not match code_challenge"))
            }
        }
    }
}

fn refresh(
    fake: &Fake,
    client_id: &str,
    params: &Params,
    faults: &Faults,
    rotates: bool,
    echoes: bool,
) -> Result<Issued, TokenError> {
    let token = params
        .get("refresh_token")
        .ok_or_else(|| TokenError::new(K::InvalidRequest, "Missing refresh_token"))?;
    let expires_in = lifetime(faults, fake.access_lifetime);
    let now = now();
    let issued = with_state(|s| {
        if s.stats.rotated_away.contains(token) {
            s.stats.rotated_reused += 1;
        }
        let grant = s
            .refresh
            .get(token)
            .filter(|r| r.platform == fake.slug && r.client_id == client_id)
            .filter(|r| r.expires_at.is_none_or(|e| e > now))
            .cloned()?;
        *s.stats
            .refreshes
            .entry(format!("{}/{}", fake.slug, grant.username))
            .or_default() += 1;
        let access = s.insert_access(AccessGrant {
            platform: fake.slug,
            client_id: client_id.to_owned(),
            username: grant.username.clone(),
            scopes: grant.scopes.clone(),
            destinations: grant.destinations,
            expires_at: now + Duration::seconds(expires_in),
            long_lived: false,
            from_code: grant.from_code.clone(),
            page: None,
        });
        let refresh = if rotates {
            // The old token dies with this use (platforms.md §1, §5, §8).
            s.refresh.remove(token);
            s.stats.rotated_away.insert(token.to_owned());
            let new = s.insert_refresh(RefreshGrant {
                expires_at: fake.refresh_lifetime.map(|l| now + Duration::seconds(l)),
                ..grant.clone()
            });
            Some((new, fake.refresh_lifetime))
        } else if echoes {
            // Non-rotating: the same token, whose lifetime keeps counting down (LinkedIn).
            let left = grant.expires_at.map(|e| (e - now).num_seconds());
            Some((token.to_owned(), left))
        } else {
            None
        };
        Some(Issued {
            access,
            expires_in,
            refresh,
            scopes: grant.scopes,
            username: grant.username,
            refreshing: true,
        })
    });
    issued.ok_or_else(|| {
        TokenError::new(
            K::InvalidGrant,
            "The refresh token is invalid, expired or revoked",
        )
    })
}

fn token_json(fake: &Fake, t: &Issued) -> Value {
    let scope = t.scopes.join(fake.scope_join);
    let refresh_token = t.refresh.as_ref().map(|(r, _)| r.clone());
    let refresh_expires_in = t.refresh.as_ref().and_then(|(_, e)| *e);
    let mut body = match fake.token_shape {
        TokenShape::Standard { token_type } => json!({
            "token_type": token_type, "expires_in": t.expires_in, "access_token": t.access, "scope": scope,
        }),
        TokenShape::Linkedin => json!({
            "access_token": t.access, "expires_in": t.expires_in, "scope": scope,
        }),
        TokenShape::Tiktok => json!({
            "open_id": user_id(fake, &t.username, ""), "scope": scope, "access_token": t.access,
            "expires_in": t.expires_in, "token_type": "Bearer",
        }),
        TokenShape::Pinterest => json!({
            "access_token": t.access, "token_type": "bearer", "expires_in": t.expires_in, "scope": scope,
            "response_type": if t.refreshing { "refresh_token" } else { "authorization_code" },
        }),
        TokenShape::InstagramLogin => json!({
            "access_token": t.access,
            // A JSON number above 2^53, as Instagram sends it (platforms.md §2a).
            "user_id": numeric(&user_id(fake, &t.username, "user_id")),
            "permissions": scope,
        }),
        TokenShape::Threads => json!({
            "access_token": t.access, "user_id": numeric(&user_id(fake, &t.username, "")),
        }),
        TokenShape::Facebook => json!({
            "access_token": t.access, "token_type": "bearer", "expires_in": t.expires_in,
        }),
    };
    if let (Some(obj), Some(rt)) = (body.as_object_mut(), refresh_token) {
        obj.insert("refresh_token".into(), json!(rt));
        match (fake.token_shape, refresh_expires_in) {
            (TokenShape::Tiktok, Some(e)) => {
                obj.insert("refresh_expires_in".into(), json!(e));
            }
            (TokenShape::Linkedin, Some(e)) => {
                obj.insert("refresh_token_expires_in".into(), json!(e));
            }
            (TokenShape::Pinterest, Some(e)) => {
                obj.insert("refresh_token_expires_in".into(), json!(e));
                obj.insert(
                    "refresh_token_expires_at".into(),
                    json!(now().timestamp() + e),
                );
            }
            _ => {}
        }
    }
    body
}

fn numeric(id: &str) -> Value {
    id.parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| json!(id))
}

/// Meta's short → long-lived exchange (platforms.md §2a, §3, §10). Facebook's arrives on
/// the token path already authenticated; Instagram's and Threads' carry only the secret.
fn long_lived(
    fake: &Fake,
    params: &Params,
    client_id: Option<&str>,
    faults: &Faults,
) -> Result<Value, TokenError> {
    let Renewal::LongLived {
        token_param,
        long_lifetime,
        ..
    } = fake.renewal
    else {
        return Err(TokenError::new(
            K::UnsupportedGrantType,
            "No long-lived exchange",
        ));
    };
    let short = params
        .get(token_param)
        .ok_or_else(|| TokenError::new(K::InvalidRequest, format!("Missing {token_param}")))?;
    let grant = live_access(fake, short).ok_or_else(|| {
        TokenError::new(
            K::InvalidGrant,
            "Error validating access token: the session is invalid",
        )
    })?;
    match client_id {
        Some(id) if id != grant.client_id => {
            return Err(TokenError::new(
                K::InvalidGrant,
                "The token was issued to another app",
            ));
        }
        Some(_) => {}
        None => {
            let secret = with_state(|s| s.client(fake.slug, &grant.client_id)).map(|c| c.secret);
            let sent = params.get("client_secret").unwrap_or("");
            if !secret.is_some_and(|s| constant_time_eq(&s, sent)) {
                return Err(TokenError::new(
                    K::InvalidClient,
                    "Error validating client secret.",
                ));
            }
        }
    }
    Ok(issue_long_lived(&grant, lifetime(faults, long_lifetime)))
}

/// A live user token (Page tokens already never expire and are not exchanged).
fn live_access(fake: &Fake, token: &str) -> Option<AccessGrant> {
    let now = now();
    with_state(|s| {
        s.access
            .get(token)
            .filter(|a| a.platform == fake.slug && a.expires_at > now && a.page.is_none())
            .cloned()
    })
}

fn issue_long_lived(grant: &AccessGrant, expires_in: i64) -> Value {
    let access = with_state(|s| {
        s.insert_access(AccessGrant {
            expires_at: now() + Duration::seconds(expires_in),
            long_lived: true,
            ..grant.clone()
        })
    });
    json!({"access_token": access, "token_type": "bearer", "expires_in": expires_in})
}

/// `GET {exchange_path}` for Instagram Login and Threads (on graph.* hosts, Graph errors).
pub(crate) async fn exchange_get(req: &HttpRequest, fake: &'static Fake) -> HttpResponse {
    let params = Params::parse(req.query_string().as_bytes());
    let Renewal::LongLived {
        exchange_grant,
        token_param,
        ..
    } = fake.renewal
    else {
        return TokenError::new(K::UnsupportedGrantType, "No long-lived exchange")
            .render(TokenErrors::Graph);
    };
    if params.get("grant_type") != Some(exchange_grant) {
        return TokenError::new(
            K::UnsupportedGrantType,
            format!("grant_type must be {exchange_grant}"),
        )
        .render(TokenErrors::Graph);
    }
    let owner = params
        .get(token_param)
        .and_then(|t| live_access(fake, t))
        .map(|g| g.client_id);
    let faults = match owner {
        Some(id) => match apply_faults(fake, TokenErrors::Graph, &id).await {
            Ok(f) => f,
            Err(resp) => return resp,
        },
        None => Faults::default(),
    };
    match long_lived(fake, &params, None, &faults) {
        Ok(body) => ok_json(body),
        Err(e) => e.render(TokenErrors::Graph),
    }
}

/// `GET {extend_path}?grant_type=…&access_token=<long-lived>`: a fresh long-lived token.
pub(crate) async fn extend_get(
    req: &HttpRequest,
    fake: &'static Fake,
    grant_type: &str,
) -> HttpResponse {
    let params = Params::parse(req.query_string().as_bytes());
    let Renewal::LongLived { long_lifetime, .. } = fake.renewal else {
        return TokenError::new(K::UnsupportedGrantType, "No extension").render(TokenErrors::Graph);
    };
    if params.get("grant_type") != Some(grant_type) {
        return TokenError::new(
            K::UnsupportedGrantType,
            format!("grant_type must be {grant_type}"),
        )
        .render(TokenErrors::Graph);
    }
    let Some(grant) = params
        .get("access_token")
        .and_then(|t| live_access(fake, t))
        .filter(|g| g.long_lived)
    else {
        return TokenError::new(
            K::InvalidGrant,
            "Error validating access token: not a live long-lived token",
        )
        .render(TokenErrors::Graph);
    };
    let faults = match apply_faults(fake, TokenErrors::Graph, &grant.client_id).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    ok_json(issue_long_lived(&grant, lifetime(&faults, long_lifetime)))
}

/// RFC 7009 revocation: the token dies, the answer is 200 whether or not it was known (§2.2).
pub(crate) fn revoke(fake: &'static Fake, body: &[u8]) -> HttpResponse {
    let params = Params::parse(body);
    if let Some(token) = params.get("token") {
        with_state(|s| s.revoke_token(fake.slug, token));
    }
    match fake.token_errors {
        TokenErrors::X => ok_json(json!({"revoked": true})),
        _ => ok_json(json!({})),
    }
}
