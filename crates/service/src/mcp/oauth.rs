//! The OAuth 2.1 authorization server in front of `/_mcp`: dynamic client registration
//! (RFC 7591, public clients only), the authorization request and the consent that
//! answers it, the token endpoint (authorization code with PKCE S256, refresh with
//! rotation and replay detection) and the validation of access tokens.
//!
//! Every bearer string is 256 random bits with a prefix saying what it is; the store keeps
//! only its SHA-256. Codes are one-time records; a grant's id derives from its code, so a
//! replayed code finds — and revokes — the grant it made (OAuth 2.1 §4.1.3).

use super::scopes::ScopeSet;
use crate::{Caller, ServiceError, ServiceResult, Services};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use plugboard_core::{ApiKeyId, OwnerId};
use plugboard_store::{
    McpClient, McpGrant, McpToken, McpTokenKind, OneTimeRecord, Permission, RefreshTokenUse,
    StoreError,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::hours(1);
pub const REFRESH_TOKEN_LIFETIME: Duration = Duration::days(30);
/// Codes are redeemed by the client right after the redirect.
pub const CODE_LIFETIME: Duration = Duration::minutes(5);
/// Registered clients that never obtain a token are dropped after this (Claude registers
/// a client for every new connection, so abandoned ones must not pile up).
pub const UNUSED_CLIENT_LIFETIME: Duration = Duration::days(1);
const MAX_REDIRECT_URIS: usize = 10;
const MAX_CLIENT_NAME: usize = 120;
const CODE_KIND: &str = "mcp_code";

const ACCESS_PREFIX: &str = "pbm_at_";
const REFRESH_PREFIX: &str = "pbm_rt_";
const CODE_PREFIX: &str = "pbm_ac_";

/// Where the authorization server and the protected resource live, from the public URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpSettings {
    /// The issuer: the public base URL without a trailing slash. Byte-identical in the
    /// metadata, the protected resource's `authorization_servers` and every `iss`.
    pub issuer: String,
    /// The canonical MCP URL (`<issuer>/_mcp`): the tokens' audience.
    pub resource: String,
}

impl McpSettings {
    pub fn from_public_url(public_url: &Url) -> Self {
        let issuer = public_url.as_str().trim_end_matches('/').to_owned();
        let resource = format!("{issuer}/_mcp");
        Self { issuer, resource }
    }

    /// Whether a `resource` parameter names this server's MCP endpoint. The one difference
    /// tolerated is a trailing slash (some clients add one).
    pub fn is_our_resource(&self, presented: &str) -> bool {
        presented.trim_end_matches('/') == self.resource
    }
}

/// An OAuth error as the wire shows it (`error` is the RFC code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }
}

fn internal(e: impl std::fmt::Display) -> OAuthError {
    tracing::error!(error = %e, "MCP authorization server failed");
    OAuthError::new("server_error", "The server could not complete the request")
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        internal(e)
    }
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The grant a code turns into: derived from the code so a replay can find it.
fn grant_id_for_code(code_hash: &str) -> String {
    format!("mcg_{}", &code_hash[..32])
}

/// RFC 7636 S256: BASE64URL(SHA256(verifier)).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn valid_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A redirect URI a public client may register: https, or http on loopback (native apps,
/// RFC 8252 §7.3); no fragment; no userinfo.
pub fn valid_redirect_uri(raw: &str) -> bool {
    let Ok(url) = Url::parse(raw) else {
        return false;
    };
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => matches!(
            url.host_str(),
            Some("localhost") | Some("127.0.0.1") | Some("[::1]")
        ),
        _ => false,
    }
}

/// A dynamic client registration request (RFC 7591 §2), the fields we read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientRegistration {
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
}

/// The registration response (RFC 7591 §3.2.1).
#[derive(Debug, Clone, Serialize)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_id_issued_at: i64,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<&'static str>,
    pub response_types: Vec<&'static str>,
    pub token_endpoint_auth_method: &'static str,
}

/// The parameters of an authorization request (query of the GET, fields of the POST).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AuthorizeParams {
    #[serde(default)]
    pub response_type: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub redirect_uri: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub code_challenge: Option<String>,
    #[serde(default)]
    pub code_challenge_method: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
}

/// A checked authorization request, ready for consent.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: McpClient,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scopes: ScopeSet,
    pub code_challenge: String,
    pub resource: String,
}

impl AuthorizationRequest {
    /// The host the client will send the user back to (shown on the consent page).
    pub fn redirect_host(&self) -> String {
        Url::parse(&self.redirect_uri)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_owned(),
                })
            })
            .unwrap_or_default()
    }
}

/// Why an authorization request is refused.
#[derive(Debug, Clone)]
pub enum AuthorizeRejection {
    /// The client or its redirect URI cannot be trusted: show an error page, never
    /// redirect.
    Page(OAuthError),
    /// The redirect URI is the client's: send the error back there.
    Redirect { location: String },
}

/// What a code's record keeps: everything the token request must match.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodePayload {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    scopes: Vec<String>,
    resource: String,
    api_key_id: String,
}

/// A token request (form fields of `POST /oauth/token`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenParams {
    #[serde(default)]
    pub grant_type: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub redirect_uri: Option<String>,
    #[serde(default)]
    pub code_verifier: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Serialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub scope: String,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Who an access token speaks for: the API key that consented, and what it may do here.
#[derive(Debug, Clone, PartialEq)]
pub struct McpPrincipal {
    pub caller: Caller,
    pub scopes: ScopeSet,
    pub client_id: String,
    pub grant_id: String,
}

/// Why a bearer token was refused (all answered 401; the reason goes to the logs and the
/// `error_description`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRejection {
    Malformed,
    UnknownOrExpired,
    WrongAudience,
    KeyRevoked,
}

impl TokenRejection {
    pub fn description(&self) -> &'static str {
        match self {
            TokenRejection::Malformed => "The access token is malformed",
            TokenRejection::UnknownOrExpired => "The access token is invalid, expired or revoked",
            TokenRejection::WrongAudience => "The access token was issued for another resource",
            TokenRejection::KeyRevoked => "The API key that authorized this client was revoked",
        }
    }
}

/// Appends OAuth response parameters to a redirect URI, keeping its own query.
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.into()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

impl Services {
    /// The MCP endpoints' issuer and resource, from the public URL.
    pub fn mcp_settings(&self) -> ServiceResult<McpSettings> {
        Ok(McpSettings::from_public_url(
            &self.connect_context()?.public_url,
        ))
    }

    fn oauth_settings(&self) -> Result<McpSettings, OAuthError> {
        self.mcp_settings().map_err(internal)
    }

    /// Registers a public client (RFC 7591).
    pub async fn register_mcp_client(
        &self,
        req: ClientRegistration,
    ) -> Result<RegisteredClient, OAuthError> {
        let redirect_uris = req.redirect_uris.unwrap_or_default();
        if redirect_uris.is_empty() || redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(OAuthError::new(
                "invalid_redirect_uri",
                format!("redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs"),
            ));
        }
        if let Some(bad) = redirect_uris.iter().find(|u| !valid_redirect_uri(u)) {
            return Err(OAuthError::new(
                "invalid_redirect_uri",
                format!(
                    "{bad:?} is not an allowed redirect URI: use https, or http on localhost / 127.0.0.1 / [::1], without a fragment"
                ),
            ));
        }
        if let Some(method) = req.token_endpoint_auth_method.as_deref()
            && method != "none"
        {
            return Err(OAuthError::new(
                "invalid_client_metadata",
                "Only public clients are supported: token_endpoint_auth_method must be \"none\"",
            ));
        }
        if let Some(types) = &req.grant_types
            && let Some(bad) = types
                .iter()
                .find(|t| !matches!(t.as_str(), "authorization_code" | "refresh_token"))
        {
            return Err(OAuthError::new(
                "invalid_client_metadata",
                format!("Unsupported grant type {bad:?}"),
            ));
        }
        if let Some(types) = &req.response_types
            && types.iter().any(|t| t != "code")
        {
            return Err(OAuthError::new(
                "invalid_client_metadata",
                "Only the \"code\" response type is supported",
            ));
        }
        let name = req
            .client_name
            .map(|n| crate::text::truncated(n.trim().to_owned(), MAX_CLIENT_NAME))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Unnamed MCP client".to_owned());
        let now = self.clock.now();
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let client = McpClient {
            id: format!("pbc_{}", hex::encode(id)),
            name,
            redirect_uris,
            created_at: now,
            last_used_at: None,
        };
        self.store.insert_mcp_client(&client).await?;
        tracing::info!(client_id = %client.id, "MCP client registered");
        Ok(RegisteredClient {
            client_id: client.id,
            client_id_issued_at: now.timestamp(),
            client_name: client.name,
            redirect_uris: client.redirect_uris,
            grant_types: vec!["authorization_code", "refresh_token"],
            response_types: vec!["code"],
            token_endpoint_auth_method: "none",
        })
    }

    /// Checks an authorization request. The client and redirect URI are checked first:
    /// until both are known good, errors are shown, never redirected.
    pub async fn check_mcp_authorization(
        &self,
        p: &AuthorizeParams,
    ) -> Result<AuthorizationRequest, AuthorizeRejection> {
        let settings = self.oauth_settings().map_err(AuthorizeRejection::Page)?;
        let page = |error, d: &str| AuthorizeRejection::Page(OAuthError::new(error, d));
        let client_id = p.client_id.as_deref().unwrap_or_default();
        if client_id.is_empty() {
            return Err(page("invalid_request", "client_id is missing"));
        }
        let client = self
            .store
            .get_mcp_client(client_id)
            .await
            .map_err(|e| AuthorizeRejection::Page(e.into()))?
            .ok_or_else(|| {
                page(
                    "invalid_client",
                    "This client is not registered with Plugboard (or its registration expired). Remove the connector from your MCP client and add it again.",
                )
            })?;
        let redirect_uri = match p.redirect_uri.as_deref() {
            Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_owned(),
            Some(_) => {
                return Err(page(
                    "invalid_request",
                    "redirect_uri is not one the client registered",
                ));
            }
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => return Err(page("invalid_request", "redirect_uri is missing")),
        };
        let back = |error: &'static str, description: &str| AuthorizeRejection::Redirect {
            location: redirect_error(
                &redirect_uri,
                &settings,
                p.state.as_deref(),
                error,
                description,
            ),
        };
        if p.response_type.as_deref() != Some("code") {
            return Err(back(
                "unsupported_response_type",
                "response_type must be \"code\"",
            ));
        }
        let Some(challenge) = p.code_challenge.as_deref().filter(|c| !c.is_empty()) else {
            return Err(back(
                "invalid_request",
                "code_challenge is required (PKCE with S256)",
            ));
        };
        if p.code_challenge_method.as_deref() != Some("S256") {
            return Err(back(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            ));
        }
        if challenge.len() != 43 || !valid_pkce_value(challenge) {
            return Err(back(
                "invalid_request",
                "code_challenge must be a base64url SHA-256 (43 characters)",
            ));
        }
        let scopes = match p.scope.as_deref().map(ScopeSet::parse) {
            None => ScopeSet::all(),
            Some(Ok(s)) if s.is_empty() => ScopeSet::all(),
            Some(Ok(s)) => s,
            Some(Err(unknown)) => {
                return Err(back("invalid_scope", &format!("Unknown scope {unknown:?}")));
            }
        };
        let resource = match p.resource.as_deref() {
            None => settings.resource.clone(),
            Some(r) if settings.is_our_resource(r) => settings.resource.clone(),
            Some(_) => {
                return Err(back(
                    "invalid_target",
                    &format!("resource must be {}", settings.resource),
                ));
            }
        };
        Ok(AuthorizationRequest {
            client,
            redirect_uri,
            state: p.state.clone(),
            scopes,
            code_challenge: challenge.to_owned(),
            resource,
        })
    }

    /// The user refused on the consent page: where to send them.
    pub fn deny_mcp_authorization(&self, req: &AuthorizationRequest) -> ServiceResult<String> {
        let settings = self.mcp_settings()?;
        Ok(redirect_error(
            &req.redirect_uri,
            &settings,
            req.state.as_deref(),
            "access_denied",
            "The user declined the authorization",
        ))
    }

    /// The user approved with an API key: verifies it (a hashed lookup; the key is not
    /// kept) and issues a code. Returns the redirect back to the client.
    /// `Unauthenticated` when the key is wrong.
    pub async fn approve_mcp_authorization(
        &self,
        req: &AuthorizationRequest,
        api_key: &str,
    ) -> ServiceResult<String> {
        let settings = self.mcp_settings()?;
        let caller = self.authenticate(api_key.trim()).await?;
        // A key that may only read cannot hand out write scopes.
        let scopes = match caller.permission {
            Permission::ReadWrite => req.scopes.clone(),
            Permission::Read => req.scopes.read_only(),
        };
        if scopes.is_empty() {
            return Err(ServiceError::Forbidden {
                message: "This API key may only read, and the client asked only for write access"
                    .into(),
                required_group: None,
            });
        }
        let code = random_token(CODE_PREFIX);
        let now = self.clock.now();
        let payload = CodePayload {
            client_id: req.client.id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            code_challenge: req.code_challenge.clone(),
            scopes: scopes.to_strings(),
            resource: req.resource.clone(),
            api_key_id: caller.key_id.to_string(),
        };
        self.store
            .put_one_time(&OneTimeRecord {
                kind: CODE_KIND.into(),
                key: hash(&code),
                owner_id: Some(caller.owner.clone()),
                payload: serde_json::to_value(&payload)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?,
                expires_at: now + CODE_LIFETIME,
                created_at: now,
            })
            .await?;
        tracing::info!(client_id = %req.client.id, key_id = %caller.key_id, "MCP authorization approved");
        let mut params = vec![("code", code.as_str())];
        if let Some(state) = req.state.as_deref() {
            params.push(("state", state));
        }
        params.push(("iss", settings.issuer.as_str()));
        Ok(redirect_with(&req.redirect_uri, &params))
    }

    /// The token endpoint.
    pub async fn mcp_token(&self, p: TokenParams) -> Result<IssuedTokens, OAuthError> {
        let settings = self.oauth_settings()?;
        let client_id = p
            .client_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OAuthError::new("invalid_request", "client_id is missing"))?;
        let client = self.store.get_mcp_client(client_id).await?.ok_or_else(|| {
            OAuthError::new(
                "invalid_client",
                "Unknown client: register again (POST /oauth/register)",
            )
        })?;
        if let Some(resource) = p.resource.as_deref()
            && !settings.is_our_resource(resource)
        {
            return Err(OAuthError::new(
                "invalid_target",
                format!("resource must be {}", settings.resource),
            ));
        }
        match p.grant_type.as_deref() {
            Some("authorization_code") => self.redeem_code(&client, &p).await,
            Some("refresh_token") => self.rotate_refresh_token(&client, &p).await,
            Some(other) => Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported"),
            )),
            None => Err(OAuthError::new("invalid_request", "grant_type is missing")),
        }
    }

    async fn redeem_code(
        &self,
        client: &McpClient,
        p: &TokenParams,
    ) -> Result<IssuedTokens, OAuthError> {
        let code = p
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| OAuthError::new("invalid_request", "code is missing"))?;
        let verifier = p
            .code_verifier
            .as_deref()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| OAuthError::new("invalid_request", "code_verifier is missing"))?;
        let now = self.clock.now();
        let code_hash = hash(code);
        let grant_id = grant_id_for_code(&code_hash);
        let Some(record) = self
            .store
            .consume_one_time(CODE_KIND, &code_hash, now)
            .await?
        else {
            // A replayed code: whatever it was exchanged for dies with it.
            if self.store.revoke_mcp_grant(&grant_id, now).await? {
                tracing::warn!(target: "security", client_id = %client.id, grant_id, "MCP authorization code replayed; its tokens are revoked");
            }
            return Err(OAuthError::invalid_grant(
                "The authorization code is invalid, expired or already used",
            ));
        };
        let payload: CodePayload = serde_json::from_value(record.payload).map_err(internal)?;
        if payload.client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "The authorization code was issued to another client",
            ));
        }
        if p.redirect_uri.as_deref() != Some(payload.redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        let computed = s256_challenge(verifier);
        if !valid_pkce_value(verifier)
            || !bool::from(computed.as_bytes().ct_eq(payload.code_challenge.as_bytes()))
        {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        if p.resource
            .as_deref()
            .is_some_and(|r| r.trim_end_matches('/') != payload.resource)
        {
            return Err(OAuthError::new(
                "invalid_target",
                "resource does not match the authorization request",
            ));
        }
        let owner = record
            .owner_id
            .ok_or_else(|| internal("authorization code without an owner"))?;
        let key_id = ApiKeyId::parse(&payload.api_key_id)
            .map_err(|_| internal("authorization code with a malformed key id"))?;
        let caller = self.active_key(&owner, &key_id).await?.ok_or_else(|| {
            OAuthError::invalid_grant("The API key that approved this was revoked")
        })?;
        let scopes = ScopeSet::from_stored(&payload.scopes);
        let (access, refresh, tokens) = new_token_pair(&grant_id, &caller.owner, now);
        let grant = McpGrant {
            id: grant_id,
            owner_id: caller.owner.clone(),
            api_key_id: caller.key_id.clone(),
            client_id: client.id.clone(),
            scopes: scopes.to_strings(),
            resource: payload.resource,
            created_at: now,
            expires_at: now + REFRESH_TOKEN_LIFETIME,
            revoked_at: None,
        };
        match self.store.insert_mcp_grant(&grant, &tokens).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(OAuthError::invalid_grant(
                    "The authorization code was already used",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        self.store.touch_mcp_client(&client.id, now).await?;
        tracing::info!(client_id = %client.id, grant_id = %grant.id, "MCP tokens issued");
        Ok(IssuedTokens {
            access_token: access,
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_LIFETIME.num_seconds(),
            refresh_token: refresh,
            scope: scopes.joined(),
        })
    }

    async fn rotate_refresh_token(
        &self,
        client: &McpClient,
        p: &TokenParams,
    ) -> Result<IssuedTokens, OAuthError> {
        let presented = p
            .refresh_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is missing"))?;
        let now = self.clock.now();
        const DEAD: &str = "The refresh token is invalid, expired or revoked";
        if !presented.starts_with(REFRESH_PREFIX) {
            return Err(OAuthError::invalid_grant(DEAD));
        }
        let grant = match self
            .store
            .use_mcp_refresh_token(&hash(presented), now)
            .await?
        {
            RefreshTokenUse::Fresh(grant) => grant,
            RefreshTokenUse::Replayed(grant) => {
                // Either the client retried after losing the answer, or the token leaked.
                // The two look the same; the family dies (OAuth 2.1 §4.3.1 replay
                // detection) and the user connects again.
                self.store.revoke_mcp_grant(&grant.id, now).await?;
                tracing::warn!(target: "security", client_id = %client.id, grant_id = %grant.id, "MCP refresh token reused; the grant is revoked");
                return Err(OAuthError::invalid_grant(
                    "The refresh token was already used; every token of this authorization is revoked. Connect again.",
                ));
            }
            RefreshTokenUse::Invalid => return Err(OAuthError::invalid_grant(DEAD)),
        };
        if grant.client_id != client.id {
            self.store.revoke_mcp_grant(&grant.id, now).await?;
            tracing::warn!(target: "security", client_id = %client.id, grant_id = %grant.id, "MCP refresh token presented by another client; the grant is revoked");
            return Err(OAuthError::invalid_grant(DEAD));
        }
        if p.resource
            .as_deref()
            .is_some_and(|r| r.trim_end_matches('/') != grant.resource)
        {
            return Err(OAuthError::new(
                "invalid_target",
                "resource does not match the original authorization",
            ));
        }
        let granted = ScopeSet::from_stored(&grant.scopes);
        if let Some(raw) = p.scope.as_deref() {
            let asked = ScopeSet::parse(raw)
                .map_err(|s| OAuthError::new("invalid_scope", format!("Unknown scope {s:?}")))?;
            if !asked.is_subset_of(&granted) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    "A refresh cannot add scopes to the original authorization",
                ));
            }
        }
        if self
            .active_key(&grant.owner_id, &grant.api_key_id)
            .await?
            .is_none()
        {
            self.store.revoke_mcp_grant(&grant.id, now).await?;
            return Err(OAuthError::invalid_grant(
                "The API key that authorized this client was revoked",
            ));
        }
        let (access, refresh, tokens) = new_token_pair(&grant.id, &grant.owner_id, now);
        self.store.insert_mcp_tokens(&grant.id, &tokens).await?;
        self.store.touch_mcp_client(&client.id, now).await?;
        Ok(IssuedTokens {
            access_token: access,
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_LIFETIME.num_seconds(),
            refresh_token: refresh,
            scope: granted.joined(),
        })
    }

    /// The key if it still exists and has not expired.
    async fn active_key(
        &self,
        owner: &OwnerId,
        key_id: &ApiKeyId,
    ) -> Result<Option<Caller>, StoreError> {
        let now = self.clock.now();
        Ok(self
            .store
            .list_api_keys(owner)
            .await?
            .into_iter()
            .find(|k| &k.id == key_id && k.expires_at.is_none_or(|at| at > now))
            .map(|k| Caller::from_key(&k)))
    }

    /// Validates an access token presented to `/_mcp`.
    pub async fn authenticate_mcp_token(
        &self,
        presented: &str,
    ) -> ServiceResult<Result<McpPrincipal, TokenRejection>> {
        let settings = self.mcp_settings()?;
        if !presented.starts_with(ACCESS_PREFIX) || presented.len() != ACCESS_PREFIX.len() + 43 {
            return Ok(Err(TokenRejection::Malformed));
        }
        let now = self.clock.now();
        let Some((_, grant)) = self
            .store
            .find_mcp_token(&hash(presented), McpTokenKind::Access, now)
            .await?
        else {
            return Ok(Err(TokenRejection::UnknownOrExpired));
        };
        if grant.resource != settings.resource {
            tracing::info!(target: "security", grant_id = %grant.id, "MCP token for another resource refused");
            return Ok(Err(TokenRejection::WrongAudience));
        }
        let Some(caller) = self.active_key(&grant.owner_id, &grant.api_key_id).await? else {
            return Ok(Err(TokenRejection::KeyRevoked));
        };
        Ok(Ok(McpPrincipal {
            caller,
            scopes: ScopeSet::from_stored(&grant.scopes),
            client_id: grant.client_id,
            grant_id: grant.id,
        }))
    }

    /// Drops expired MCP records (the sweeper calls this).
    pub async fn purge_mcp(&self, now: DateTime<Utc>) -> ServiceResult<u64> {
        Ok(self
            .store
            .purge_mcp(
                now,
                now - UNUSED_CLIENT_LIFETIME,
                now - REFRESH_TOKEN_LIFETIME - Duration::days(1),
            )
            .await?)
    }
}

fn redirect_error(
    redirect_uri: &str,
    settings: &McpSettings,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> String {
    let mut params = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", settings.issuer.as_str()));
    redirect_with(redirect_uri, &params)
}

fn new_token_pair(
    grant_id: &str,
    owner: &OwnerId,
    now: DateTime<Utc>,
) -> (String, String, [McpToken; 2]) {
    let access = random_token(ACCESS_PREFIX);
    let refresh = random_token(REFRESH_PREFIX);
    let token = |raw: &str, kind, life| McpToken {
        hash: hash(raw),
        kind,
        grant_id: grant_id.to_owned(),
        owner_id: owner.clone(),
        created_at: now,
        expires_at: now + life,
        used_at: None,
    };
    let tokens = [
        token(&access, McpTokenKind::Access, ACCESS_TOKEN_LIFETIME),
        token(&refresh, McpTokenKind::Refresh, REFRESH_TOKEN_LIFETIME),
    ];
    (access, refresh, tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_the_rfc_7636_example() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn redirect_uris_must_be_https_or_loopback_http_without_fragment() {
        assert!(valid_redirect_uri(
            "https://claude.ai/api/mcp/auth_callback"
        ));
        assert!(valid_redirect_uri("http://localhost:33418/callback"));
        assert!(valid_redirect_uri("http://127.0.0.1:9/cb"));
        assert!(!valid_redirect_uri("http://example.com/cb"));
        assert!(!valid_redirect_uri("https://claude.ai/cb#frag"));
        assert!(!valid_redirect_uri("javascript:alert(1)"));
        assert!(!valid_redirect_uri("https://user:pw@claude.ai/cb"));
        assert!(!valid_redirect_uri("not a url"));
    }

    #[test]
    fn settings_strip_the_trailing_slash_and_accept_one_on_the_resource() {
        let s = McpSettings::from_public_url(&Url::parse("https://pb.example.com/").unwrap());
        assert_eq!(s.issuer, "https://pb.example.com");
        assert_eq!(s.resource, "https://pb.example.com/_mcp");
        assert!(s.is_our_resource("https://pb.example.com/_mcp/"));
        assert!(!s.is_our_resource("https://pb.example.com/"));
        assert!(!s.is_our_resource("https://other.example.com/_mcp"));
    }

    #[test]
    fn redirects_keep_the_clients_own_query() {
        assert_eq!(
            redirect_with(
                "https://a.example/cb?x=1",
                &[("code", "c d"), ("iss", "https://i")]
            ),
            "https://a.example/cb?x=1&code=c+d&iss=https%3A%2F%2Fi"
        );
    }

    #[test]
    fn issued_tokens_never_print_their_secrets() {
        let t = IssuedTokens {
            access_token: "pbm_at_secret".into(),
            token_type: "Bearer",
            expires_in: 3600,
            refresh_token: "pbm_rt_secret".into(),
            scope: "stats:read".into(),
        };
        assert!(!format!("{t:?}").contains("secret"));
    }
}
