//! Bluesky: an app password exchanged for an XRPC session on the account's PDS
//! (platforms.md §13). Not an OAuth connector: the user types a handle (or email, or DID)
//! and an app password; [`BlueskyClient::login`] calls `com.atproto.server.createSession`
//! at the entryway, and everything after that goes to the account's own PDS.
//!
//! Built on atrium's lexicon types and XRPC client (`atrium-api`, `atrium-xrpc-client`'s
//! reqwest client over the caller's `reqwest::Client`); none of atrium's types appear in
//! this module's API.
//!
//! Security: the password, the JWTs and anything the PDS says that might echo them never go
//! into an error, a log line or a `Debug` output. The access JWT's payload is decoded
//! without verifying it (it is the PDS's token for the PDS, and the PDS checks it); only its
//! `scope` and `exp` are read.

use std::fmt;
use std::sync::Arc;

use atrium_api::client::AtpServiceClient;
use atrium_api::com::atproto::{repo, server};
use atrium_api::did_doc::DidDocument;
use atrium_api::types::string::{AtIdentifier, Did, Nsid, RecordKey};
use atrium_api::types::{BlobRef, TryFromUnknown, TypedBlobRef, Unknown};
use atrium_api::xrpc::error::{Error as XrpcFailure, XrpcErrorKind};
use atrium_api::xrpc::http::{Request, Response};
use atrium_api::xrpc::types::AuthorizationToken;
use atrium_api::xrpc::{HttpClient, XrpcClient};
use atrium_xrpc_client::reqwest::{ReqwestClient, ReqwestClientBuilder};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use plugboard_core::{Clock, Secret};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use crate::connector::{ConnectorError, Identity};

/// The entryway for accounts hosted by Bluesky itself.
pub const DEFAULT_ENTRYWAY: &str = "https://bsky.social";

/// Public profile pages on the Bluesky app.
const PROFILE_URL_BASE: &str = "https://bsky.app/profile/";

/// Access JWT scopes of the reference PDS (`packages/pds/src/auth-scope.ts`): the account
/// password gives `Access`; app passwords give `AppPass` or, when allowed to read DMs,
/// `AppPassPrivileged`; a taken-down account that asked `allowTakendown` gets `Takendown`.
const SCOPE_ACCESS: &str = "com.atproto.access";
const SCOPE_APP_PASS: &str = "com.atproto.appPass";
const SCOPE_APP_PASS_PRIVILEGED: &str = "com.atproto.appPassPrivileged";
const SCOPE_TAKENDOWN: &str = "com.atproto.takendown";

/// The handle a PDS reports when an account's handle no longer resolves to it.
const INVALID_HANDLE: &str = "handle.invalid";

const APP_PASSWORD_REQUIRED: &str = "app_password_required";
const ACCOUNT_UNAVAILABLE: &str = "account_unavailable";

const USE_APP_PASSWORD: &str = "use an app password (Settings → Privacy and security → App passwords), not the account password";

/// A Bluesky session as Plugboard keeps it. The service seals this whole value before it
/// is stored; its `Debug` redacts both JWTs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlueskySession {
    /// Stable account id (`did:plc:…` or `did:web:…`); handles can change.
    pub did: String,
    pub handle: String,
    /// The account's PDS: from the session's DID document, else the entryway.
    #[serde(with = "url_string")]
    pub pds: Url,
    pub access_jwt: String,
    pub refresh_jwt: String,
    /// The access JWT's `exp` (reference PDS: 2 hours).
    pub access_expires_at: Option<DateTime<Utc>>,
    /// The refresh JWT's `exp` (reference PDS: 90 days; refreshing rotates it).
    pub refresh_expires_at: Option<DateTime<Utc>>,
    pub email: Option<String>,
}

impl fmt::Debug for BlueskySession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlueskySession")
            .field("did", &self.did)
            .field("handle", &self.handle)
            .field("pds", &self.pds.as_str())
            .field("access_jwt", &"[redacted]")
            .field("refresh_jwt", &"[redacted]")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("email", &self.email)
            .finish()
    }
}

mod url_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};
    use url::Url;

    pub fn serialize<S: Serializer>(url: &Url, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(url.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
        let raw = String::deserialize(d)?;
        Url::parse(&raw).map_err(D::Error::custom)
    }
}

/// Logs in to Bluesky with app passwords and keeps the sessions alive.
#[derive(Clone)]
pub struct BlueskyClient {
    entryway: Url,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for BlueskyClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlueskyClient")
            .field("entryway", &self.entryway.as_str())
            .finish_non_exhaustive()
    }
}

/// atrium's XRPC client over one base URL with one bearer token (or none): each call says
/// which token it sends, rather than atrium's "refresh token for refreshSession only".
struct Xrpc {
    http: ReqwestClient,
    base: String,
    bearer: Option<String>,
}

impl HttpClient for Xrpc {
    async fn send_http(
        &self,
        request: Request<Vec<u8>>,
    ) -> Result<Response<Vec<u8>>, Box<dyn std::error::Error + Send + Sync + 'static>> {
        self.http.send_http(request).await
    }
}

impl XrpcClient for Xrpc {
    fn base_uri(&self) -> String {
        self.base.clone()
    }

    async fn authorization_token(&self, _is_refresh: bool) -> Option<AuthorizationToken> {
        self.bearer.clone().map(AuthorizationToken::Bearer)
    }
}

/// What an XRPC call came to when it did not succeed, with nothing secret in it.
#[derive(Debug)]
enum CallError {
    /// The server answered with an error status and (maybe) an XRPC `{error, message}`.
    Refused {
        status: u16,
        error: Option<String>,
        message: Option<String>,
    },
    Transport(String),
    Malformed(String),
    /// A 2xx answer that was not JSON (expected for procedures without output).
    NotJson,
}

impl CallError {
    fn error_is(&self, names: &[&str]) -> bool {
        matches!(self, CallError::Refused { error: Some(e), .. } if names.contains(&e.as_str()))
    }

    fn status(&self) -> Option<u16> {
        match self {
            CallError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The general mapping; each operation first handles the cases it knows better.
    fn into_connector_error(self, nsid: &str) -> ConnectorError {
        match self {
            CallError::Refused {
                status,
                error,
                message,
            } => ConnectorError::Platform {
                status,
                message: match (&error, message) {
                    (_, Some(m)) if !m.is_empty() => format!("{nsid}: {m}"),
                    (Some(e), _) => format!("{nsid}: {e}"),
                    _ => format!("{nsid}: HTTP {status}"),
                },
                code: error,
            },
            CallError::Transport(m) => ConnectorError::Transport(format!("{nsid}: {m}")),
            CallError::Malformed(m) => ConnectorError::Malformed(format!("{nsid}: {m}")),
            CallError::NotJson => {
                ConnectorError::Malformed(format!("{nsid}: the answer was not JSON"))
            }
        }
    }
}

/// Replaces anything that looks like a JWT (`eyJ…`) and every known secret in `text`, and
/// keeps it short: PDS messages go into errors and logs.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "[redacted]");
    }
    let mut cleaned = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("eyJ") {
        cleaned.push_str(&rest[..at]);
        cleaned.push_str("[redacted]");
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    cleaned.push_str(rest);
    if cleaned.chars().count() > 300 {
        cleaned = cleaned.chars().take(300).collect::<String>() + "…";
    }
    cleaned
}

/// The error chain of a transport failure (reqwest names the URL, never headers or body).
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

fn call_error<E: Serialize + fmt::Debug>(err: XrpcFailure<E>, secrets: &[&str]) -> CallError {
    match err {
        XrpcFailure::XrpcResponse(e) => {
            let (error, message) = match e.error {
                Some(XrpcErrorKind::Custom(custom)) => {
                    // atrium's lexicon errors are `{"error": Name, "message": …}` enums.
                    let v = serde_json::to_value(&custom).unwrap_or(Value::Null);
                    (
                        v["error"].as_str().map(str::to_owned),
                        v["message"].as_str().map(str::to_owned),
                    )
                }
                Some(XrpcErrorKind::Undefined(body)) => (body.error, body.message),
                None => (None, None),
            };
            CallError::Refused {
                status: e.status.as_u16(),
                error: error.map(|e| scrub(&e, secrets)),
                message: message.map(|m| scrub(&m, secrets)),
            }
        }
        // atrium drops the body of an answer that carries `WWW-Authenticate`; the header
        // itself only says the credentials were refused.
        XrpcFailure::Authentication(_) => CallError::Refused {
            status: 401,
            error: None,
            message: Some("the server refused the credentials".to_owned()),
        },
        XrpcFailure::HttpClient(e) => CallError::Transport(scrub(&chain(e.as_ref()), secrets)),
        XrpcFailure::HttpRequest(e) => {
            CallError::Transport(format!("cannot build the request: {e}"))
        }
        XrpcFailure::SerdeHtmlForm(e) => {
            CallError::Transport(format!("cannot build the query: {e}"))
        }
        // serde_json's message can quote the offending value (a token, say): keep only where.
        XrpcFailure::SerdeJson(e) => CallError::Malformed(format!(
            "cannot read the answer ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        )),
        XrpcFailure::UnexpectedResponseType => CallError::NotJson,
    }
}

/// The two claims Plugboard reads from a session JWT.
#[derive(Debug, Default, Deserialize)]
struct Claims {
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    exp: Option<i64>,
}

/// Decodes a JWT's payload without verifying it.
fn claims(jwt: &str) -> Option<Claims> {
    let payload = jwt.split('.').nth(1)?;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn expiry(claims: Option<&Claims>) -> Option<DateTime<Utc>> {
    claims
        .and_then(|c| c.exp)
        .and_then(|exp| DateTime::from_timestamp(exp, 0))
}

/// The fields createSession and refreshSession share.
struct Issued {
    access_jwt: String,
    refresh_jwt: String,
    did: String,
    handle: String,
    did_doc: Option<Unknown>,
    email: Option<String>,
    active: Option<bool>,
    status: Option<String>,
}

impl From<server::create_session::Output> for Issued {
    fn from(o: server::create_session::Output) -> Self {
        let o = o.data;
        Issued {
            access_jwt: o.access_jwt,
            refresh_jwt: o.refresh_jwt,
            did: o.did.to_string(),
            handle: o.handle.to_string(),
            did_doc: o.did_doc,
            email: o.email,
            active: o.active,
            status: o.status,
        }
    }
}

impl From<server::refresh_session::Output> for Issued {
    fn from(o: server::refresh_session::Output) -> Self {
        let o = o.data;
        Issued {
            access_jwt: o.access_jwt,
            refresh_jwt: o.refresh_jwt,
            did: o.did.to_string(),
            handle: o.handle.to_string(),
            did_doc: o.did_doc,
            email: o.email,
            active: o.active,
            status: o.status,
        }
    }
}

fn unavailable(status: Option<&str>) -> ConnectorError {
    ConnectorError::NotEligible {
        code: ACCOUNT_UNAVAILABLE,
        message: match status {
            Some(s) => format!("this Bluesky account is not active on its server (status: {s})"),
            None => "this Bluesky account is not active on its server".to_owned(),
        },
    }
}

fn taken_down() -> ConnectorError {
    ConnectorError::NotEligible {
        code: ACCOUNT_UNAVAILABLE,
        message: "this Bluesky account has been taken down by its server".to_owned(),
    }
}

/// An XRPC base URL (`https://pds.example` or `http://127.0.0.1:8080/sandbox/bluesky`)
/// without the trailing slash atrium would double.
fn xrpc_base(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

impl BlueskyClient {
    /// `entryway`: https://bsky.social by default, or a self-hosted PDS / the sandbox / a test PDS.
    pub fn new(entryway: Url, http: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        Self {
            entryway,
            http,
            clock,
        }
    }

    pub fn entryway(&self) -> &Url {
        &self.entryway
    }

    fn service(&self, base: &Url, bearer: Option<&str>) -> AtpServiceClient<Xrpc> {
        let base = xrpc_base(base);
        AtpServiceClient::new(Xrpc {
            http: ReqwestClientBuilder::new(&base)
                .client(self.http.clone())
                .build(),
            base,
            bearer: bearer.map(str::to_owned),
        })
    }

    /// The PDS named by a session's DID document, when it is a usable URL. A PDS reached
    /// over `https` may not send us to plain `http`.
    fn pds_from(&self, did_doc: Option<Unknown>, did: &str) -> Option<Url> {
        let doc = DidDocument::try_from_unknown(did_doc?).ok()?;
        if doc.id != did {
            tracing::warn!(target: "security", did, "the session's DID document is another account's; ignored");
            return None;
        }
        let endpoint = doc.get_pds_endpoint()?;
        let url = Url::parse(&endpoint).ok()?;
        let usable = matches!(url.scheme(), "https" | "http")
            && url.has_host()
            && url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none()
            && !(self.entryway.scheme() == "https" && url.scheme() == "http");
        if !usable {
            tracing::warn!(target: "security", pds = %url, "the session names an unusable PDS; keeping the previous one");
            return None;
        }
        Some(url)
    }

    fn session(&self, issued: Issued, pds: Url) -> (BlueskySession, Option<Claims>) {
        let access = claims(&issued.access_jwt);
        let refresh = claims(&issued.refresh_jwt);
        let session = BlueskySession {
            did: issued.did,
            handle: issued.handle,
            pds,
            access_expires_at: expiry(access.as_ref()),
            refresh_expires_at: expiry(refresh.as_ref()),
            access_jwt: issued.access_jwt,
            refresh_jwt: issued.refresh_jwt,
            email: issued.email,
        };
        (session, access)
    }

    /// Logs in with an app password (`com.atproto.server.createSession` at the entryway).
    ///
    /// `identifier` is a handle, the account's email or its DID. The session's PDS is taken
    /// from its DID document (falling back to the entryway).
    ///
    /// Errors:
    /// - wrong identifier or password: [`ConnectorError::InvalidGrant`] with a description
    ///   that names neither (the service answers it as `invalid_credentials`);
    /// - the account's own password (the access JWT's `scope` is `com.atproto.access`, not
    ///   `com.atproto.appPass`) or a PDS asking for an email sign-in code
    ///   (`AuthFactorTokenRequired`): the session is deleted and the answer is
    ///   [`ConnectorError::NotEligible`] `app_password_required`;
    /// - a taken-down or deactivated account: `NotEligible` `account_unavailable`;
    /// - `429 RateLimitExceeded`: [`ConnectorError::Platform`] with status 429;
    /// - the PDS unreachable: [`ConnectorError::Transport`].
    #[tracing::instrument(skip_all, fields(entryway = %self.entryway))]
    pub async fn login(
        &self,
        identifier: &str,
        app_password: &Secret<String>,
    ) -> Result<BlueskySession, ConnectorError> {
        const NSID: &str = server::create_session::NSID;
        let identifier = identifier.trim().trim_start_matches('@');
        let password = app_password.expose();
        if identifier.is_empty() || password.is_empty() {
            return Err(ConnectorError::InvalidGrant {
                description: "a Bluesky handle (or email) and an app password are both required"
                    .to_owned(),
            });
        }
        let input = server::create_session::InputData {
            allow_takendown: None,
            auth_factor_token: None,
            identifier: identifier.to_owned(),
            password: password.clone(),
        };
        let issued: Issued = match self
            .service(&self.entryway, None)
            .service
            .com
            .atproto
            .server
            .create_session(input.into())
            .await
        {
            Ok(out) => out.into(),
            Err(e) => {
                let e = call_error(e, &[password.as_str()]);
                return Err(match e {
                    _ if e.error_is(&["AuthFactorTokenRequired"]) => ConnectorError::NotEligible {
                        code: APP_PASSWORD_REQUIRED,
                        message: format!(
                            "Bluesky asked for an email sign-in code, which only the account password needs: {USE_APP_PASSWORD}"
                        ),
                    },
                    _ if e.error_is(&["AccountTakedown"]) => taken_down(),
                    _ if e.status() == Some(429) => e.into_connector_error(NSID),
                    _ if e.status() == Some(401)
                        || e.error_is(&["AuthenticationRequired", "InvalidToken"]) =>
                    {
                        ConnectorError::InvalidGrant {
                            description: "Bluesky did not accept this identifier and app password"
                                .to_owned(),
                        }
                    }
                    e => e.into_connector_error(NSID),
                });
            }
        };
        let status = issued.status.clone();
        let active = issued.active;
        let pds = self
            .pds_from(issued.did_doc.clone(), &issued.did)
            .unwrap_or_else(|| self.entryway.clone());
        let (session, access) = self.session(issued, pds);
        let scope = access.as_ref().and_then(|c| c.scope.clone());
        let refuse = match scope.as_deref() {
            Some(SCOPE_APP_PASS | SCOPE_APP_PASS_PRIVILEGED) => None,
            Some(SCOPE_ACCESS) => Some(ConnectorError::NotEligible {
                code: APP_PASSWORD_REQUIRED,
                message: format!(
                    "that is the account's own password, which Plugboard does not accept: {USE_APP_PASSWORD}"
                ),
            }),
            Some(SCOPE_TAKENDOWN) => Some(taken_down()),
            Some(other) => Some(ConnectorError::Malformed(format!(
                "{NSID}: the session has the unknown scope {:?}; cannot tell whether it came from an app password",
                scrub(other, &[])
            ))),
            None => Some(ConnectorError::Malformed(format!(
                "{NSID}: the access token is not a JWT with a scope; cannot tell whether it came from an app password"
            ))),
        };
        let refuse =
            refuse.or_else(|| (active == Some(false)).then(|| unavailable(status.as_deref())));
        if let Some(err) = refuse {
            // Never keep a session Plugboard will not use, least of all one made with the
            // account password.
            if let Err(e) = self.logout(&session).await {
                tracing::warn!(error = %e, "could not delete a refused Bluesky session");
            }
            return Err(err);
        }
        Ok(session)
    }

    /// Renews the session at its PDS (`com.atproto.server.refreshSession`, the refresh JWT
    /// as bearer). Refresh tokens rotate: keep the returned session, the old refresh token
    /// dies after a short grace.
    ///
    /// A dead refresh token, one whose app password was revoked, or an expired session is
    /// [`ConnectorError::InvalidGrant`]; a taken-down account `NotEligible`
    /// `account_unavailable`; 429 [`ConnectorError::Platform`].
    #[tracing::instrument(skip_all, fields(pds = %session.pds))]
    pub async fn refresh(
        &self,
        session: &BlueskySession,
    ) -> Result<BlueskySession, ConnectorError> {
        const NSID: &str = server::refresh_session::NSID;
        if session
            .refresh_expires_at
            .is_some_and(|exp| exp <= self.clock.now())
        {
            return Err(ConnectorError::InvalidGrant {
                description: "the Bluesky session has expired; log in again with an app password"
                    .to_owned(),
            });
        }
        let secrets = [session.access_jwt.as_str(), session.refresh_jwt.as_str()];
        let issued: Issued = match self
            .service(&session.pds, Some(&session.refresh_jwt))
            .service
            .com
            .atproto
            .server
            .refresh_session()
            .await
        {
            Ok(out) => out.into(),
            Err(e) => {
                let e = call_error(e, &secrets);
                return Err(match e {
                    _ if e.error_is(&["AccountTakedown"]) => taken_down(),
                    _ if e.status() == Some(429) => e.into_connector_error(NSID),
                    _ if e.error_is(&[
                        "ExpiredToken",
                        "InvalidToken",
                        "AuthMissing",
                        "AuthenticationRequired",
                        "InvalidRequest",
                    ]) || e.status() == Some(401) =>
                    {
                        ConnectorError::InvalidGrant {
                            description: "Bluesky no longer accepts this session (the app password may have been revoked); log in again"
                                .to_owned(),
                        }
                    }
                    e => e.into_connector_error(NSID),
                });
            }
        };
        if issued.did != session.did {
            return Err(ConnectorError::Malformed(format!(
                "{NSID}: the PDS answered for another account"
            )));
        }
        let pds = self
            .pds_from(issued.did_doc.clone(), &issued.did)
            .unwrap_or_else(|| session.pds.clone());
        let email = issued.email.clone().or_else(|| session.email.clone());
        let (mut renewed, _) = self.session(issued, pds);
        renewed.email = email;
        Ok(renewed)
    }

    /// Who the session belongs to: `app.bsky.actor.getProfile` (actor = the DID) at the PDS,
    /// which proxies it to the AppView. A PDS with no AppView (or an account the AppView
    /// has not indexed yet) falls back to the repository itself: `com.atproto.repo.describeRepo`
    /// and the `app.bsky.actor.profile/self` record, without a followers count.
    #[tracing::instrument(skip_all, fields(pds = %session.pds))]
    pub async fn profile(&self, session: &BlueskySession) -> Result<Identity, ConnectorError> {
        use atrium_api::app::bsky::actor::get_profile;
        const NSID: &str = get_profile::NSID;
        let did = Did::new(session.did.clone())
            .map_err(|e| ConnectorError::Malformed(format!("the session's DID: {e}")))?;
        let secrets = [session.access_jwt.as_str(), session.refresh_jwt.as_str()];
        let answer = self
            .service(&session.pds, Some(&session.access_jwt))
            .service
            .app
            .bsky
            .actor
            .get_profile(
                get_profile::ParametersData {
                    actor: AtIdentifier::Did(did.clone()),
                }
                .into(),
            )
            .await;
        let e = match answer {
            Ok(p) => {
                let p = p.data;
                let handle = p.handle.to_string();
                return Ok(self.identity(
                    session,
                    handle,
                    p.display_name,
                    p.avatar,
                    p.followers_count,
                    "appview",
                ));
            }
            Err(e) => call_error(e, &secrets),
        };
        let no_app_view = e.status().is_some_and(|s| s >= 500)
            || e.error_is(&["UpstreamFailure", "UpstreamTimeout", "MethodNotImplemented"])
            || (e.status() == Some(400)
                && e.error_is(&["InvalidRequest"])
                && matches!(&e, CallError::Refused { message: Some(m), .. } if m.contains("Profile not found")));
        if no_app_view {
            tracing::debug!(error = ?e, "no AppView profile; reading the repository");
            return self.profile_from_repo(session, did).await;
        }
        Err(match e {
            _ if e.error_is(&["AccountTakedown"]) => taken_down(),
            _ if e.error_is(&["AccountDeactivated"]) => unavailable(Some("deactivated")),
            _ if e.error_is(&["ExpiredToken", "InvalidToken", "AuthMissing"])
                || e.status() == Some(401) =>
            {
                ConnectorError::InvalidGrant {
                    description: "Bluesky no longer accepts this session's access token".to_owned(),
                }
            }
            e => e.into_connector_error(NSID),
        })
    }

    async fn profile_from_repo(
        &self,
        session: &BlueskySession,
        did: Did,
    ) -> Result<Identity, ConnectorError> {
        let client = self.service(&session.pds, None);
        let server = &client.service.com.atproto.repo;
        let described = server
            .describe_repo(
                repo::describe_repo::ParametersData {
                    repo: AtIdentifier::Did(did.clone()),
                }
                .into(),
            )
            .await
            .map_err(|e| match call_error(e, &[]) {
                e if e.error_is(&["RepoTakendown"]) => taken_down(),
                e if e.error_is(&["RepoDeactivated", "RepoSuspended"]) => {
                    unavailable(Some("deactivated"))
                }
                e => e.into_connector_error(repo::describe_repo::NSID),
            })?;
        let handle = described.data.handle.to_string();
        let (collection, rkey) = match (
            Nsid::new("app.bsky.actor.profile".to_owned()),
            RecordKey::new("self".to_owned()),
        ) {
            (Ok(c), Ok(r)) => (c, r),
            _ => {
                return Ok(self.identity(session, handle, None, None, None, "repo"));
            }
        };
        let record = server
            .get_record(
                repo::get_record::ParametersData {
                    cid: None,
                    collection,
                    repo: AtIdentifier::Did(did),
                    rkey,
                }
                .into(),
            )
            .await;
        let profile = match record {
            Ok(r) => {
                atrium_api::app::bsky::actor::profile::RecordData::try_from_unknown(r.data.value)
                    .ok()
            }
            // No profile record yet (a new account) is no display name, not an error.
            Err(e) => {
                tracing::debug!(error = ?call_error(e, &[]), "no profile record");
                None
            }
        };
        let (display_name, avatar) = match profile {
            Some(p) => {
                let avatar = p.avatar.and_then(|blob| self.blob_url(session, &blob));
                (p.display_name, avatar)
            }
            None => (None, None),
        };
        Ok(self.identity(session, handle, display_name, avatar, None, "repo"))
    }

    /// Where the PDS serves a blob (`com.atproto.sync.getBlob`).
    fn blob_url(&self, session: &BlueskySession, blob: &BlobRef) -> Option<String> {
        let cid = match blob {
            BlobRef::Typed(TypedBlobRef::Blob(b)) => b.r#ref.0.to_string(),
            BlobRef::Untyped(u) => u.cid.clone(),
        };
        let mut url = Url::parse(&format!(
            "{}/xrpc/com.atproto.sync.getBlob",
            xrpc_base(&session.pds)
        ))
        .ok()?;
        url.query_pairs_mut()
            .append_pair("did", &session.did)
            .append_pair("cid", &cid);
        Some(url.into())
    }

    fn identity(
        &self,
        session: &BlueskySession,
        handle: String,
        display_name: Option<String>,
        avatar: Option<String>,
        followers: Option<i64>,
        source: &str,
    ) -> Identity {
        // A handle that no longer resolves is reported as handle.invalid; the DID still
        // opens the profile.
        let profile_key = if handle == INVALID_HANDLE {
            session.did.clone()
        } else {
            handle.clone()
        };
        let mut metadata = Map::new();
        metadata.insert("pds".into(), json!(session.pds.as_str()));
        metadata.insert("profileSource".into(), json!(source));
        Identity {
            platform_user_id: session.did.clone(),
            username: Some(handle),
            display_name: display_name.filter(|n| !n.trim().is_empty()),
            profile_picture: avatar,
            profile_url: Some(format!("{PROFILE_URL_BASE}{profile_key}")),
            followers_count: followers,
            metadata,
        }
    }

    /// Ends the session at its PDS (`com.atproto.server.deleteSession`, the refresh JWT as
    /// bearer). A session the PDS already forgot counts as ended.
    #[tracing::instrument(skip_all, fields(pds = %session.pds))]
    pub async fn logout(&self, session: &BlueskySession) -> Result<(), ConnectorError> {
        let secrets = [session.access_jwt.as_str(), session.refresh_jwt.as_str()];
        match self
            .service(&session.pds, Some(&session.refresh_jwt))
            .service
            .com
            .atproto
            .server
            .delete_session()
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => match call_error(e, &secrets) {
                CallError::NotJson => Ok(()),
                e if e.error_is(&["ExpiredToken", "InvalidToken"]) => Ok(()),
                e => Err(e.into_connector_error(server::delete_session::NSID)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: Value) -> String {
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        format!("{}.{}.sig", b64(&json!({"alg": "HS256"})), b64(&payload))
    }

    #[test]
    fn the_scope_and_expiry_are_read_from_an_unverified_jwt_payload() {
        let c = claims(&jwt(
            json!({"scope": "com.atproto.appPass", "exp": 1_700_000_000}),
        ));
        let c = c.unwrap();
        assert_eq!(c.scope.as_deref(), Some(SCOPE_APP_PASS));
        assert_eq!(expiry(Some(&c)), DateTime::from_timestamp(1_700_000_000, 0));
        assert!(claims("opaque-token").is_none());
        assert!(claims("a.!!!.c").is_none());
        let padded = format!(
            "x.{}.y",
            base64::engine::general_purpose::URL_SAFE.encode(br#"{"scope":"s"}"#)
        );
        assert_eq!(claims(&padded).unwrap().scope.as_deref(), Some("s"));
    }

    #[test]
    fn the_session_debug_redacts_both_jwts() {
        let session = BlueskySession {
            did: "did:plc:abc".into(),
            handle: "alice.test".into(),
            pds: Url::parse("https://pds.example").unwrap(),
            access_jwt: "eyJaccess-secret".into(),
            refresh_jwt: "eyJrefresh-secret".into(),
            access_expires_at: None,
            refresh_expires_at: None,
            email: Some("a@example.com".into()),
        };
        let debug = format!("{session:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(
            debug.contains("did:plc:abc") && debug.contains("[redacted]"),
            "{debug}"
        );
        let json = serde_json::to_value(&session).unwrap();
        assert_eq!(json["pds"], json!("https://pds.example/"));
        let back: BlueskySession = serde_json::from_value(json).unwrap();
        assert_eq!(back, session);
    }

    #[test]
    fn scrubbing_removes_jwts_and_known_secrets_and_keeps_messages_short() {
        assert_eq!(
            scrub("bad token eyJhbGc.eyJzdWI.sig here", &[]),
            "bad token [redacted] here"
        );
        assert_eq!(
            scrub("echo hunter2-pass", &["hunter2-pass"]),
            "echo [redacted]"
        );
        assert_eq!(scrub("short", &["a"]), "short");
        assert_eq!(scrub(&"x".repeat(400), &[]).chars().count(), 301);
    }

    fn client(entryway: &str) -> BlueskyClient {
        BlueskyClient::new(
            Url::parse(entryway).unwrap(),
            reqwest::Client::new(),
            Arc::new(plugboard_core::SystemClock),
        )
    }

    fn did_doc(id: &str, endpoint: &str) -> Option<Unknown> {
        Some(
            serde_json::from_value(json!({
                "id": id,
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": endpoint}],
            }))
            .unwrap(),
        )
    }

    #[test]
    fn the_pds_is_taken_from_the_did_doc_only_when_it_is_safe_to_follow() {
        let did = "did:plc:abc";
        let https = client("https://bsky.social");
        let http = client("http://127.0.0.1:8080/sandbox/bluesky");
        let cases = [
            (
                &https,
                did_doc(did, "https://pds.example.com"),
                Some("https://pds.example.com/"),
                "https PDS",
            ),
            (
                &https,
                did_doc(did, "http://pds.example.com"),
                None,
                "downgrade to http",
            ),
            (
                &http,
                did_doc(did, "http://localhost:1/x"),
                Some("http://localhost:1/x"),
                "http entryway",
            ),
            (
                &https,
                did_doc("did:plc:other", "https://pds.example.com"),
                None,
                "another DID's document",
            ),
            (
                &https,
                did_doc(did, "https://user:pw@pds.example.com"),
                None,
                "userinfo",
            ),
            (
                &https,
                did_doc(did, "https://pds.example.com/?a=b"),
                None,
                "query",
            ),
            (
                &https,
                did_doc(did, "ftp://pds.example.com"),
                None,
                "scheme",
            ),
            (&https, did_doc(did, "not a url"), None, "garbage"),
            (&https, None, None, "no document"),
            (
                &https,
                Some(serde_json::from_value(json!({"id": did})).unwrap()),
                None,
                "no service",
            ),
        ];
        for (client, doc, expected, why) in cases {
            assert_eq!(
                client.pds_from(doc, did).as_ref().map(Url::as_str),
                expected,
                "{why}"
            );
        }
    }

    #[test]
    fn xrpc_bases_lose_the_trailing_slash() {
        assert_eq!(
            xrpc_base(&Url::parse("https://bsky.social").unwrap()),
            "https://bsky.social"
        );
        assert_eq!(
            xrpc_base(&Url::parse("http://127.0.0.1:1/sandbox/bluesky/").unwrap()),
            "http://127.0.0.1:1/sandbox/bluesky"
        );
    }
}
