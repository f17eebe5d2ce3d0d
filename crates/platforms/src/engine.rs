//! The one HTTP engine every connector uses: it sends the requests built by
//! [`crate::token`] and the connectors' API calls, turns token responses into [`TokenSet`]s
//! and classifies each platform family's error bodies into [`ConnectorError`]
//! (platforms.md §1–§11, "Errors" and "Re-auth needed" of each).
//!
//! Nothing here may leak a secret: error messages are built from the platform's own
//! description (with every value we sent scrubbed out) and from the endpoint's origin and
//! path, never from a query string, a request body or a raw response body.

use std::collections::HashSet;
use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use plugboard_core::{Clock, Platform};
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::Value;
use url::Url;

use crate::authorize::{self, AuthorizeRequest};
use crate::connector::{AuthorizeParams, ConnectorError, PlatformApp, TokenSet};
use crate::pkce::PkceVerifier;
use crate::spec::{OAuthSpec, ResolvedRefresh, ResolvedSpec, SpecError, rebase};
use crate::token::{
    ClientCredentials, Grant, Method, TokenRequest, TokenTypeHint, extend_access_token_request,
    long_lived_exchange_request, revoke_request, token_request,
};
use crate::usage::{self, CostTable, Family, PlatformCall, QuotaHit, UsageSnapshot};

/// Total time one call may take, connection included.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// No answer we parse is anywhere near this; a bigger one is not a platform's.
const MAX_BODY: usize = 2 * 1024 * 1024;
/// Platform descriptions are kept for logs and redirect parameters, not essays.
const MAX_MESSAGE: usize = 300;
/// Listings stop after this many pages: a user with more Pages, boards or locations than
/// ten full pages is rare, and an endless cursor must not hang a connect session.
pub(crate) const MAX_PAGES: usize = 10;
/// Lifetimes beyond this are treated as this (and keep date arithmetic from overflowing).
const MAX_LIFETIME_SECONDS: i64 = 10 * 365 * 86_400;

/// A client suited to platform calls: bounded connect and total time, and no redirects (a
/// token endpoint that redirects is misconfigured, and following it would replay the form
/// elsewhere). The service may pass its own; every call also sets [`TIMEOUT`].
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// How a platform family shapes its error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// RFC 6749 §5.2 `{error, error_description}` at the token endpoint; API errors by HTTP
    /// status with the body's message (LinkedIn, Google, Snapchat).
    Standard,
    /// RFC 6749 shape, but a dead code or refresh token is `invalid_request` "… was
    /// invalid" (platforms.md §1).
    X,
    /// Graph API `{error:{message, type, code, error_subcode}}` (platforms.md §3 error list).
    Graph,
    /// api.instagram.com `{error_type, code, error_message}` (platforms.md §2a).
    InstagramApi,
    /// `{code, message}` (platforms.md §8).
    Pinterest,
    /// `{error}`, and `401 {"message":"Unauthorized","error":401}` for a bad client (§9).
    Reddit,
    /// Token `{error, error_description, log_id}` and API `{data, error:{code, message}}`,
    /// both possibly with HTTP 200 (platforms.md §5).
    Tiktok,
}

impl Dialect {
    /// The family whose usage headers and quota errors this dialect's hosts send.
    pub(crate) fn family(self) -> Family {
        match self {
            Dialect::Graph | Dialect::InstagramApi => Family::Meta,
            Dialect::X => Family::X,
            Dialect::Reddit => Family::Reddit,
            Dialect::Standard => Family::Google,
            Dialect::Pinterest | Dialect::Tiktok => Family::Other,
        }
    }
}

/// Which side of the platform answered: 401 means a bad client at the token endpoint and
/// a dead token at the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    Api,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Grant,
    Client,
    Permission,
}

/// The error a non-success answer (or a success status carrying an error body) means.
/// `sent` lists every secret value of the request so that an echo of one in the platform's
/// description is scrubbed.
pub(crate) fn classify(
    dialect: Dialect,
    endpoint: Endpoint,
    status: u16,
    body: &Value,
    sent: &[&str],
) -> ConnectorError {
    let (code, raw_message) = describe(body);
    let lower = raw_message.as_deref().unwrap_or("").to_ascii_lowercase();
    // Throttling and outages are transient whatever the body says.
    let transient = status == 429 || status >= 500;
    let kind = if transient {
        None
    } else {
        dialect_kind(dialect, endpoint, status, body, code.as_deref(), &lower)
            .or_else(|| status_kind(endpoint, status))
    };
    let message = clean(
        raw_message.unwrap_or_else(|| format!("HTTP {status} without a description")),
        sent,
    );
    match kind {
        Some(Kind::Grant) => ConnectorError::InvalidGrant {
            description: message,
        },
        Some(Kind::Client) => ConnectorError::InvalidClient {
            description: message,
        },
        Some(Kind::Permission) => ConnectorError::PermissionDenied {
            description: message,
        },
        None => ConnectorError::Platform {
            status,
            code: code.map(|c| clean(c, sent)),
            message,
        },
    }
}

fn dialect_kind(
    dialect: Dialect,
    endpoint: Endpoint,
    status: u16,
    body: &Value,
    code: Option<&str>,
    message: &str,
) -> Option<Kind> {
    if let Some(err) = body.get("error").filter(|e| e.is_object()) {
        return match dialect {
            Dialect::Tiktok => tiktok_api_kind(err),
            // Google and others nest `{code, message, status}`; Graph's numeric codes mean
            // something of their own.
            Dialect::Graph | Dialect::InstagramApi => graph_kind(err, message),
            _ => google_kind(err),
        };
    }
    match dialect {
        Dialect::Standard | Dialect::Tiktok => rfc6749_kind(code),
        Dialect::X => match (endpoint, code) {
            // platforms.md §1: X answers a dead grant with `invalid_request` ("Value passed
            // for the token was invalid.", "...authorization code was invalid."), not
            // `invalid_grant`. At its token endpoint any `invalid_request` to a request we
            // built is as final: retrying cannot help, only a new grant can.
            (Endpoint::Token, Some("invalid_request")) => Some(Kind::Grant),
            _ => rfc6749_kind(code),
        },
        Dialect::Graph => None,
        Dialect::Reddit => match body.get("error") {
            Some(Value::Number(_)) if status == 401 && endpoint == Endpoint::Token => {
                Some(Kind::Client)
            }
            _ => rfc6749_kind(code),
        },
        Dialect::Pinterest => match (endpoint, status) {
            (Endpoint::Token, 401) => Some(Kind::Client),
            // Pinterest's token endpoint has no RFC 6749 codes; the 400 a well-formed request
            // of ours meets is a dead code or refresh token, which §8 calls re-auth.
            (Endpoint::Token, 400) => Some(Kind::Grant),
            _ => None,
        },
        Dialect::InstagramApi => {
            if body.get("error_type").is_none() && body.get("error_message").is_none() {
                return rfc6749_kind(code);
            }
            // One `OAuthException` for every refusal; only the message tells a bad client
            // ("Invalid platform app", "Error validating client secret") from a dead code.
            let about_grant = ["authorization code", "verification code", "access token"]
                .iter()
                .any(|w| message.contains(w));
            let about_client = ["client", "platform app", "app id"]
                .iter()
                .any(|w| message.contains(w));
            match (endpoint, about_grant, about_client) {
                (_, false, true) => Some(Kind::Client),
                (Endpoint::Token, _, _) if status == 400 => Some(Kind::Grant),
                _ => None,
            }
        }
    }
}

/// RFC 6749 §5.2 error codes (and RFC 6750 §3.1 `invalid_token` at an API).
fn rfc6749_kind(code: Option<&str>) -> Option<Kind> {
    match code? {
        "invalid_grant" | "invalid_token" => Some(Kind::Grant),
        "invalid_client" | "unauthorized_client" => Some(Kind::Client),
        "access_denied" | "insufficient_scope" => Some(Kind::Permission),
        _ => None,
    }
}

/// platforms.md §3 error table.
fn graph_kind(err: &Value, message: &str) -> Option<Kind> {
    let code = err.get("code").and_then(Value::as_i64)?;
    let subcode = err.get("error_subcode").and_then(Value::as_i64);
    match code {
        // 190: token expired or invalid (all its subcodes); 102: session invalid.
        190 | 102 => Some(Kind::Grant),
        10 | 200..=299 => Some(Kind::Permission),
        101 => Some(Kind::Client),
        // "Error validating client secret." comes as code 1.
        1 if message.contains("client") => Some(Kind::Client),
        // Code exchange: 36007 expired, 36008 invalid, 36009 already used.
        100 if matches!(subcode, Some(36007..=36009))
            || message.contains("verification code")
            || message.contains("authorization code") =>
        {
            Some(Kind::Grant)
        }
        _ => None,
    }
}

/// Google's `{error:{code, message, status}}` (platforms.md §6).
fn google_kind(err: &Value) -> Option<Kind> {
    match err.get("status").and_then(Value::as_str)? {
        "UNAUTHENTICATED" => Some(Kind::Grant),
        "PERMISSION_DENIED" => Some(Kind::Permission),
        _ => None,
    }
}

/// platforms.md §5: `access_token_invalid` → refresh or re-auth; scope errors → re-auth
/// asking for the scope.
fn tiktok_api_kind(err: &Value) -> Option<Kind> {
    match err.get("code").and_then(Value::as_str)? {
        "access_token_invalid" => Some(Kind::Grant),
        "scope_not_authorized" | "scope_permission_missed" => Some(Kind::Permission),
        _ => None,
    }
}

fn status_kind(endpoint: Endpoint, status: u16) -> Option<Kind> {
    match (endpoint, status) {
        // RFC 6749 §5.2: a failed client authentication may answer 401.
        (Endpoint::Token, 401) => Some(Kind::Client),
        // RFC 6750 §3.1: 401 invalid_token, 403 insufficient_scope.
        (Endpoint::Api, 401) => Some(Kind::Grant),
        (Endpoint::Api, 403) => Some(Kind::Permission),
        _ => None,
    }
}

/// The platform's own error code and description, whatever the family's shape.
fn describe(body: &Value) -> (Option<String>, Option<String>) {
    if let Some(err) = body.get("error").filter(|e| e.is_object()) {
        let code = err.get("code").and_then(scalar);
        let message = text(err.get("message")).or_else(|| text(body.get("message")));
        return (code, message);
    }
    let code = ["error", "code", "serviceErrorCode", "error_code", "title"]
        .iter()
        .find_map(|k| body.get(*k).and_then(scalar));
    let message = [
        "error_description",
        "error_message",
        "message",
        "detail",
        "debug_message",
    ]
    .iter()
    .find_map(|k| text(body.get(*k)));
    (code, message)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Bounds a platform's text and scrubs every value we sent from it.
pub(crate) fn clean(message: String, sent: &[&str]) -> String {
    let mut out: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    // Real codes, tokens and secrets are long; scrubbing a short value would mangle words
    // of the description ("code") without protecting anything.
    for secret in sent.iter().filter(|s| s.len() >= 8) {
        if out.contains(*secret) {
            out = out.replace(*secret, "[redacted]");
        }
    }
    if out.chars().count() > MAX_MESSAGE {
        out = out.chars().take(MAX_MESSAGE).collect::<String>() + "…";
    }
    out
}

/// Whether a 2xx body is an error in disguise (TikTok's token endpoint, Graph batch-like
/// answers): an error field and no access token.
fn token_body_is_error(v: &Value) -> bool {
    let has_token = v
        .get("access_token")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let has_error = match v.get("error") {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Object(_) | Value::Number(_)) => true,
        _ => v.get("error_type").is_some() || v.get("error_message").is_some(),
    };
    !has_token && has_error
}

/// Whether a 2xx API body reports an error (TikTok's `error.code` other than `ok`; a Graph
/// `error` object).
fn api_body_is_error(dialect: Dialect, v: &Value) -> bool {
    match dialect {
        Dialect::Tiktok => v
            .pointer("/error/code")
            .and_then(Value::as_str)
            .is_some_and(|c| c != "ok"),
        Dialect::Graph => v.get("error").is_some_and(Value::is_object),
        _ => false,
    }
}

/// A token response (code exchange, refresh, long-lived exchange or extension) as a
/// [`TokenSet`]. `fallback_scopes` stands when the platform does not report the grant.
pub(crate) fn tokens_from_json(
    v: &Value,
    now: DateTime<Utc>,
    fallback_scopes: &[String],
) -> Result<TokenSet, ConnectorError> {
    let access_token = v
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| malformed("the token response has no access_token"))?
        .to_owned();
    let refresh_token = v
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let expires_at = seconds(v.get("expires_in")).and_then(|s| after(now, s));
    // TikTok `refresh_expires_in`; LinkedIn and Pinterest `refresh_token_expires_in`;
    // Pinterest also an absolute `refresh_token_expires_at` (Unix seconds).
    let refresh_expires_at = seconds(v.get("refresh_expires_in"))
        .or_else(|| seconds(v.get("refresh_token_expires_in")))
        .and_then(|s| after(now, s))
        .or_else(|| {
            seconds(v.get("refresh_token_expires_at")).and_then(|t| DateTime::from_timestamp(t, 0))
        });
    // Instagram Login names the granted scopes `permissions` (platforms.md §2a).
    let scopes = scope_list(v.get("scope"))
        .or_else(|| scope_list(v.get("permissions")))
        .unwrap_or_else(|| fallback_scopes.to_vec());
    let user_id = match v.get("user_id") {
        Some(id) if !id.is_null() => id_string(id)?,
        _ => v.get("open_id").map(id_string).transpose()?.flatten(),
    };
    // A refresh lifetime without a refresh token describes nothing.
    let refresh_expires_at = refresh_token.as_ref().and(refresh_expires_at);
    Ok(TokenSet {
        access_token,
        refresh_token,
        expires_at,
        refresh_expires_at,
        scopes,
        user_id,
    })
}

/// An id the platform may send as a string or as a JSON number. Meta's numeric ids exceed
/// 2^53 (platforms.md §2a), so a number is read as the integer serde_json parsed, never
/// through `f64`; a number that is not an integer (or exceeds u64) is refused as malformed
/// rather than rounded.
pub(crate) fn id_string(v: &Value) -> Result<Option<String>, ConnectorError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        _ => Err(malformed("an id is neither a string nor an integer")),
    }
}

/// A lifetime in seconds, as a number or a numeric string.
fn seconds(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn after(now: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
    let delta = TimeDelta::try_seconds(seconds.clamp(0, MAX_LIFETIME_SECONDS))?;
    now.checked_add_signed(delta)
}

fn scope_list(v: Option<&Value>) -> Option<Vec<String>> {
    let list: Vec<String> = match v? {
        // Platforms join with spaces or commas, and not always the way they split requests
        // (LinkedIn asks for spaces and answers with commas).
        Value::String(s) => s
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => return None,
    };
    Some(list)
}

/// A refresh answer merged over the tokens it renews. Non-rotating platforms (Google,
/// LinkedIn, Reddit) may omit the refresh token: the old one stays (platforms.md §18).
pub(crate) fn merge_refreshed(old: &TokenSet, new: TokenSet) -> TokenSet {
    let (refresh_token, refresh_expires_at) = match new.refresh_token {
        Some(rt) => (Some(rt), new.refresh_expires_at),
        None => (old.refresh_token.clone(), old.refresh_expires_at),
    };
    TokenSet {
        access_token: new.access_token,
        refresh_token,
        expires_at: new.expires_at,
        refresh_expires_at,
        scopes: new.scopes,
        user_id: new.user_id.or_else(|| old.user_id.clone()),
    }
}

pub(crate) fn malformed(what: &str) -> ConnectorError {
    ConnectorError::Malformed(what.to_owned())
}

/// A JSON string field, trimmed, empty as absent.
pub(crate) fn str_at(v: &Value, pointer: &str) -> Option<String> {
    text(v.pointer(pointer))
}

/// A count sent as a number or a numeric string (YouTube's `subscriberCount`).
pub(crate) fn count_at(v: &Value, pointer: &str) -> Option<i64> {
    match v.pointer(pointer)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An id field that must be present.
pub(crate) fn id_at(v: &Value, pointer: &str, what: &str) -> Result<String, ConnectorError> {
    match v.pointer(pointer) {
        Some(id) => id_string(id)?,
        None => None,
    }
    .ok_or_else(|| ConnectorError::Malformed(format!("{what} has no id")))
}

/// `url` with its `{name}` path segment (a placeholder in the module's `const`) replaced by
/// `value`, percent-encoded as one segment, so an id the platform sent can never add or
/// climb a segment of its own.
pub(crate) fn fill_segment(url: &Url, name: &str, value: &str) -> Result<Url, ConnectorError> {
    if matches!(value, "" | "." | "..") {
        return Err(malformed("an id is not usable in a URL path"));
    }
    let mut encoded = String::new();
    authorize::percent_encode(value, &mut encoded);
    let path = url.path().replace(&format!("%7B{name}%7D"), &encoded);
    let mut out = url.clone();
    out.set_path(&path);
    Ok(out)
}

/// `url` with one more query parameter.
pub(crate) fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let mut out = url.clone();
    out.query_pairs_mut().append_pair(name, value);
    out
}

/// The value of one query parameter of a URL the platform sent (a `paging.next`).
pub(crate) fn query_param(raw: &str, name: &str) -> Option<String> {
    let url = Url::parse(raw).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// One platform's app, spec and HTTP client: what every connector of that platform calls.
pub(crate) struct Engine {
    pub(crate) platform: Platform,
    pub(crate) app: PlatformApp,
    pub(crate) spec: ResolvedSpec,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    token_dialect: Dialect,
    api_dialect: Dialect,
    /// Open after repeated failed calls, so an outage fails fast (see `resilience`): one for
    /// the OAuth endpoints, one for the API, which fail apart as often as together.
    breakers: [crate::resilience::CircuitBreaker; 2],
    /// The platform's cost units per API method, where it has them.
    costs: Option<&'static CostTable>,
}

/// One HTTP call, before it is sent.
#[derive(Clone)]
pub(crate) struct Call<'a> {
    pub(crate) method: reqwest::Method,
    pub(crate) url: &'a Url,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) form: Option<&'a [(String, String)]>,
    pub(crate) bearer: Option<&'a str>,
}

impl Engine {
    pub(crate) fn new(
        platform: Platform,
        spec: &'static OAuthSpec,
        app: PlatformApp,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        token_dialect: Dialect,
        api_dialect: Dialect,
    ) -> Result<Self, SpecError> {
        Ok(Self {
            platform,
            spec: spec.resolve(app.base_url.as_ref())?,
            app,
            http,
            clock,
            token_dialect,
            api_dialect,
            breakers: Default::default(),
            costs: None,
        })
    }

    /// The same engine counting API calls in the platform's units.
    pub(crate) fn with_costs(mut self, costs: &'static CostTable) -> Self {
        self.costs = Some(costs);
        self
    }

    /// The endpoint's path as the platform publishes it: without the base URL's prefix.
    fn published_path<'u>(&self, url: &'u Url) -> &'u str {
        let prefix = self
            .app
            .base_url
            .as_ref()
            .map(|b| b.as_url().path().trim_end_matches('/'))
            .unwrap_or("");
        match url.path().strip_prefix(prefix) {
            Some(rest) if !prefix.is_empty() && rest.starts_with('/') => rest,
            _ => url.path(),
        }
    }

    /// The name and cost of a call: the cost table's method, or `METHOD /path`. OAuth
    /// calls cost no API units (Google's token endpoint is not the Data API).
    fn cost_of(&self, method: &reqwest::Method, url: &Url, endpoint: Endpoint) -> (String, u64) {
        let path = self.published_path(url);
        let generic = || format!("{method} {path}");
        match (endpoint, self.costs) {
            (Endpoint::Api, Some(table)) => match table.cost(method.as_str(), path) {
                Some((name, units)) => (name.to_owned(), units),
                None => (generic(), table.other_units),
            },
            _ => (generic(), 0),
        }
    }

    /// One of the platform's API URLs (a `const` of its module), rebased like the spec's.
    pub(crate) fn api_url(&self, raw: &'static str) -> Result<Url, SpecError> {
        let url = Url::parse(raw).map_err(|e| SpecError::InvalidUrl {
            url: raw.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(match &self.app.base_url {
            Some(base) => rebase(&url, base),
            None => url,
        })
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn credentials(&self) -> ClientCredentials<'_> {
        ClientCredentials {
            client_id: &self.app.client_id,
            client_secret: &self.app.client_secret,
            user_agent: &self.app.user_agent,
        }
    }

    /// The scopes the authorization request asks for: the app's, else the spec's.
    pub(crate) fn requested_scopes(&self) -> Vec<String> {
        match &self.app.scopes {
            Some(scopes) => scopes.clone(),
            None => self
                .spec
                .spec
                .scopes
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }

    pub(crate) fn authorization_url(
        &self,
        params: &AuthorizeParams<'_>,
        extra: &[(&str, &str)],
    ) -> Result<String, ConnectorError> {
        let mut scopes: Option<Vec<&str>> = self
            .app
            .scopes
            .as_ref()
            .map(|s| s.iter().map(String::as_str).collect());
        if !params.extra_scopes.is_empty() {
            let all = scopes.get_or_insert_with(|| self.spec.spec.scopes.to_vec());
            for s in params.extra_scopes {
                if !all.contains(s) {
                    all.push(s);
                }
            }
        }
        let req = AuthorizeRequest {
            client_id: &self.app.client_id,
            redirect_uri: params.redirect_uri,
            state: params.state,
            pkce: params.pkce,
            scopes: scopes.as_deref(),
            extra_params: extra,
        };
        Ok(authorize::authorization_url(&self.spec, &req)?)
    }

    /// The code exchange's JSON as the platform sent it (for shapes that need unwrapping).
    pub(crate) async fn exchange_code_json(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&PkceVerifier>,
    ) -> Result<Value, ConnectorError> {
        let req = token_request(
            &self.spec,
            &self.credentials(),
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier: verifier,
            },
        )?;
        self.send_token(&req, self.token_dialect).await
    }

    /// RFC 6749 §4.1.3 code exchange into tokens.
    pub(crate) async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&PkceVerifier>,
    ) -> Result<TokenSet, ConnectorError> {
        let json = self
            .exchange_code_json(code, redirect_uri, verifier)
            .await?;
        tokens_from_json(&json, self.now(), &self.requested_scopes())
    }

    /// Meta's short → long-lived swap (platforms.md §2a, §3, §10); keeps what the short
    /// token's response said about the user and the scopes.
    pub(crate) async fn long_lived(&self, short: TokenSet) -> Result<TokenSet, ConnectorError> {
        let req =
            long_lived_exchange_request(&self.spec, &self.credentials(), &short.access_token)?;
        let json = self.send_token(&req, Dialect::Graph).await?;
        let long = tokens_from_json(&json, self.now(), &short.scopes)?;
        Ok(TokenSet {
            access_token: long.access_token,
            expires_at: long.expires_at,
            ..short
        })
    }

    /// The spec's way of renewing: the refresh grant, the token extension, or nothing.
    pub(crate) async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        match &self.spec.refresh {
            ResolvedRefresh::Grant { .. } => self.refresh_grant(tokens).await,
            ResolvedRefresh::ExtendAccessToken { .. } => self.extend(tokens).await,
            ResolvedRefresh::Reauthorize => Err(ConnectorError::Unsupported(
                "this platform's tokens cannot be refreshed; the user logs in again",
            )),
        }
    }

    /// RFC 6749 §6 refresh grant.
    pub(crate) async fn refresh_grant(
        &self,
        tokens: &TokenSet,
    ) -> Result<TokenSet, ConnectorError> {
        let Some(refresh_token) = tokens.refresh_token.as_deref() else {
            return Err(ConnectorError::Unsupported(
                "no refresh token was issued for this grant; the user reconnects when the access token expires",
            ));
        };
        let req = token_request(
            &self.spec,
            &self.credentials(),
            Grant::RefreshToken { refresh_token },
        )?;
        let json = self.send_token(&req, self.token_dialect).await?;
        let fresh = tokens_from_json(&json, self.now(), &tokens.scopes)?;
        Ok(merge_refreshed(tokens, fresh))
    }

    /// Extension of a long-lived token that has no refresh token (Instagram Login
    /// `ig_refresh_token`, Threads `th_refresh_token`), on the Graph hosts.
    pub(crate) async fn extend(&self, tokens: &TokenSet) -> Result<TokenSet, ConnectorError> {
        let req =
            extend_access_token_request(&self.spec, &self.credentials(), &tokens.access_token)?;
        let json = self.send_token(&req, Dialect::Graph).await?;
        let fresh = tokens_from_json(&json, self.now(), &tokens.scopes)?;
        Ok(TokenSet {
            access_token: fresh.access_token,
            expires_at: fresh.expires_at,
            ..tokens.clone()
        })
    }

    /// RFC 7009 revocation of one token.
    pub(crate) async fn revoke_token(
        &self,
        token: &str,
        hint: TokenTypeHint,
    ) -> Result<(), ConnectorError> {
        let req = revoke_request(&self.spec, &self.credentials(), token, hint)?;
        self.send_token_raw(&req, self.token_dialect)
            .await
            .map(drop)
    }

    /// Revokes the whole grant: through the refresh token where there is one (revoking it
    /// ends the grant at X, Google and Reddit), else the access token.
    pub(crate) async fn revoke_grant(&self, tokens: &TokenSet) -> Result<(), ConnectorError> {
        match tokens.refresh_token.as_deref() {
            Some(rt) => self.revoke_token(rt, TokenTypeHint::RefreshToken).await,
            None => {
                self.revoke_token(&tokens.access_token, TokenTypeHint::AccessToken)
                    .await
            }
        }
    }

    /// A 2xx token-endpoint answer as JSON; anything else as a classified error.
    async fn send_token(
        &self,
        req: &TokenRequest,
        dialect: Dialect,
    ) -> Result<Value, ConnectorError> {
        let sent = sent_values(req, &self.app);
        let sent: Vec<&str> = sent.iter().map(String::as_str).collect();
        let (status, body) = self.send_token_raw(req, dialect).await?;
        let json: Value = serde_json::from_slice(&body)
            .map_err(|_| malformed("the token endpoint answered with a body that is not JSON"))?;
        if token_body_is_error(&json) {
            return Err(classify(dialect, Endpoint::Token, status, &json, &sent));
        }
        Ok(json)
    }

    async fn send_token_raw(
        &self,
        req: &TokenRequest,
        dialect: Dialect,
    ) -> Result<(u16, Vec<u8>), ConnectorError> {
        let url = Url::parse(&req.url).map_err(|_| malformed("a token URL does not parse"))?;
        let sent = sent_values(req, &self.app);
        let sent: Vec<&str> = sent.iter().map(String::as_str).collect();
        let call = Call {
            method: match req.method {
                Method::Post => reqwest::Method::POST,
                Method::Get => reqwest::Method::GET,
            },
            url: &url,
            headers: &req.headers,
            form: (req.method == Method::Post).then_some(req.form.as_slice()),
            bearer: None,
        };
        self.send(call, dialect, Endpoint::Token, &sent).await
    }

    /// `GET` of an API resource with `Authorization: Bearer` (RFC 6750 §2.1, never the
    /// token in the query), the descriptive User-Agent where the platform demands one, and
    /// the platform's API error classification (401 → dead grant, 403 → missing
    /// permission, plus the family's own codes).
    pub(crate) async fn get_json(
        &self,
        url: &Url,
        access_token: &str,
        headers: &[(&str, &str)],
    ) -> Result<Value, ConnectorError> {
        let mut all: Vec<(String, String)> = vec![("Accept".into(), "application/json".into())];
        if self.spec.spec.user_agent_required {
            all.push(("User-Agent".into(), self.app.user_agent.clone()));
        }
        all.extend(
            headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let sent = [access_token];
        let call = Call {
            method: reqwest::Method::GET,
            url,
            headers: &all,
            form: None,
            bearer: Some(access_token),
        };
        let (status, body) = self
            .send(call, self.api_dialect, Endpoint::Api, &sent)
            .await?;
        let json: Value = serde_json::from_slice(&body)
            .map_err(|_| malformed("the platform API answered with a body that is not JSON"))?;
        if api_body_is_error(self.api_dialect, &json) {
            return Err(classify(
                self.api_dialect,
                Endpoint::Api,
                status,
                &json,
                &sent,
            ));
        }
        Ok(json)
    }

    /// Follows a cursor through at most [`MAX_PAGES`] pages. `next` reads the cursor of
    /// the following page from a page (or `None` at the end); each request is `first` with
    /// `cursor_param=<cursor>` added, so the host and the query stay ours even when the
    /// platform hands out whole `next` URLs (which, on Graph, carry the access token).
    pub(crate) async fn get_pages(
        &self,
        first: &Url,
        access_token: &str,
        headers: &[(&str, &str)],
        cursor_param: &str,
        next: impl Fn(&Value) -> Option<String>,
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut pages = Vec::new();
        let mut seen = HashSet::new();
        let mut url = first.clone();
        for _ in 0..MAX_PAGES {
            let page = self.get_json(&url, access_token, headers).await?;
            let cursor = next(&page);
            pages.push(page);
            match cursor {
                Some(c) if seen.insert(c.clone()) => url = with_param(first, cursor_param, &c),
                _ => break,
            }
        }
        Ok(pages)
    }

    /// Sends a call: fails fast while the platform's breaker is open, retries what is safe
    /// to retry (see `resilience`), and tells the breaker how the call ended.
    pub(crate) async fn send(
        &self,
        call: Call<'_>,
        dialect: Dialect,
        endpoint: Endpoint,
        sent: &[&str],
    ) -> Result<(u16, Vec<u8>), ConnectorError> {
        use crate::resilience::{Transition, backoff, should_retry};
        let breaker = &self.breakers[usize::from(endpoint == Endpoint::Api)];
        if let Err(open) = breaker.allow(self.now()) {
            self.app.usage.unanswered(self.platform, "circuit_open");
            return Err(ConnectorError::Transport(format!(
                "{} has failed repeatedly; calls to it resume in {} s (circuit open)",
                self.platform,
                open.retry_in.num_seconds().max(1)
            )));
        }
        let idempotent = endpoint == Endpoint::Api && call.method == reqwest::Method::GET;
        let mut n = 1;
        let (result, last) = loop {
            let (result, attempt) = self.send_once(&call, dialect, endpoint, sent).await;
            // A quota refusal is not retried: its reset is minutes or hours away, and every
            // attempt would be counted against the quota again.
            let refused = matches!(result, Err(ConnectorError::QuotaExceeded { .. }));
            if !refused && should_retry(n, attempt, idempotent) {
                tracing::debug!(
                    platform = self.platform.as_str(),
                    attempt = n,
                    ?attempt,
                    "platform call retried"
                );
                tokio::time::sleep(backoff(n)).await;
                n += 1;
                continue;
            }
            break (result, attempt);
        };
        if matches!(
            last,
            crate::resilience::Attempt::NotSent | crate::resilience::Attempt::Transport
        ) {
            self.app.usage.unanswered(self.platform, "transport");
        }
        match breaker.record(last, self.now()) {
            Transition::Opened => {
                tracing::warn!(
                    platform = self.platform.as_str(),
                    "platform failing: circuit open, calls fail fast for 30 s"
                );
                self.app.usage.circuit(self.platform, true);
            }
            Transition::Closed => {
                tracing::info!(
                    platform = self.platform.as_str(),
                    "platform answering again: circuit closed"
                );
                let still_open = self.breakers.iter().any(|b| b.is_open());
                self.app.usage.circuit(self.platform, still_open);
            }
            Transition::None => {}
        }
        result
    }

    /// One attempt, and what kind of outcome it was.
    async fn send_once(
        &self,
        call: &Call<'_>,
        dialect: Dialect,
        endpoint: Endpoint,
        sent: &[&str],
    ) -> (
        Result<(u16, Vec<u8>), ConnectorError>,
        crate::resilience::Attempt,
    ) {
        use crate::resilience::Attempt;
        let where_ = Where(call.url);
        let mut builder = self
            .http
            .request(call.method.clone(), call.url.clone())
            .timeout(TIMEOUT);
        for (name, value) in call.headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return (
                    Err(malformed("a request header is not valid")),
                    Attempt::Status(400),
                );
            };
            builder = builder.header(name, value);
        }
        if let Some(token) = call.bearer {
            builder = builder.bearer_auth(token);
        }
        if let Some(form) = call.form {
            builder = builder.form(form);
        }
        // An attempt that got no answer is not counted: nothing says the platform saw it.
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                let attempt = if e.is_connect() {
                    Attempt::NotSent
                } else {
                    Attempt::Transport
                };
                return (Err(transport(&call.method, &where_, &e, sent)), attempt);
            }
        };
        let status = response.status().as_u16();
        let now = self.now();
        let usage = UsageSnapshot::from_headers(dialect.family(), response.headers(), now);
        let (outcome, attempt) = match read_body(response).await {
            Err(e) => (
                Err(e.unwrap_or_else(|e| transport(&call.method, &where_, &e, sent))),
                Attempt::Transport,
            ),
            Ok(body) if (200..300).contains(&status) => (Ok((status, body)), Attempt::Ok),
            Ok(body) => {
                let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let error =
                    usage::quota_error(dialect.family(), status, &json, &usage, now, || {
                        clean(
                            describe(&json)
                                .1
                                .unwrap_or_else(|| format!("HTTP {status}")),
                            sent,
                        )
                    })
                    .unwrap_or_else(|| classify(dialect, endpoint, status, &json, sent));
                (Err(error), Attempt::Status(status))
            }
        };
        let (name, units) = self.cost_of(&call.method, call.url, endpoint);
        tracing::debug!(
            platform = self.platform.as_str(),
            method = %call.method,
            endpoint = %where_,
            call = %name,
            units,
            status,
            "platform call"
        );
        let quota_exceeded = match &outcome {
            Err(ConnectorError::QuotaExceeded { reset_at, .. }) => Some(QuotaHit {
                reset_at: *reset_at,
            }),
            _ => None,
        };
        self.app
            .usage
            .record(&PlatformCall {
                platform: self.platform,
                endpoint: name,
                oauth: endpoint == Endpoint::Token,
                units,
                status,
                usage,
                quota_exceeded,
                at: now,
            })
            .await;
        (outcome, attempt)
    }
}

/// Every value of a token request that is not public: the code, verifier, tokens and the
/// client secret, wherever they travel (form, query, Basic header).
fn sent_values(req: &TokenRequest, app: &PlatformApp) -> Vec<String> {
    const PUBLIC: &[&str] = &[
        "grant_type",
        "redirect_uri",
        "token_type_hint",
        "client_id",
        "client_key",
    ];
    let query: Vec<(String, String)> = Url::parse(&req.url)
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let mut out: Vec<String> = req
        .form
        .iter()
        .chain(query.iter())
        .filter(|(k, _)| !PUBLIC.contains(&k.as_str()))
        .map(|(_, v)| v.clone())
        .collect();
    out.push(app.client_secret.expose().clone());
    out
}

/// Origin and path of an endpoint, never its query (which may carry a secret).
struct Where<'a>(&'a Url);

impl std::fmt::Display for Where<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.0;
        write!(f, "{}://{}", url.scheme(), url.host_str().unwrap_or(""))?;
        if let Some(port) = url.port() {
            write!(f, ":{port}")?;
        }
        f.write_str(url.path())
    }
}

/// A transport failure without the request URL (reqwest's `Display` includes it, query
/// and all).
fn transport(
    method: &reqwest::Method,
    where_: &Where<'_>,
    e: &reqwest::Error,
    sent: &[&str],
) -> ConnectorError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut causes = Vec::new();
    let mut source = e.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let mut message = format!("{method} {where_}: {what}");
    if !causes.is_empty() {
        message.push_str(&format!(" ({})", causes.join(": ")));
    }
    let query = where_.0.query().unwrap_or("");
    let mut scrub: Vec<&str> = sent.to_vec();
    scrub.push(query);
    ConnectorError::Transport(clean(message, &scrub))
}

/// The body, bounded by [`MAX_BODY`]. `Err(Err(_))` is a transport failure mid-body.
async fn read_body(
    mut response: reqwest::Response,
) -> Result<Vec<u8>, Result<ConnectorError, reqwest::Error>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Err)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(Ok(malformed("the platform's answer is implausibly large")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests;
