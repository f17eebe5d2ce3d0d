//! Token-endpoint requests as data: the authorization-code exchange (RFC 6749 §4.1.3), the
//! refresh grant (§6), the Meta family's long-lived exchange and extension, and revocation
//! (RFC 7009). Pure, so each platform's quirks are unit-tested; the HTTP engine only sends.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use plugboard_core::Secret;
use url::form_urlencoded;

use crate::authorize::{BuildError, encode_query};
use crate::pkce::PkceVerifier;
use crate::spec::{ClientAuth, Pkce, ResolvedRefresh, ResolvedSpec};

/// The application's registration with the network.
#[derive(Debug, Clone, Copy)]
pub struct ClientCredentials<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a Secret<String>,
    /// Sent only where the spec demands a descriptive one (Reddit:
    /// `<platform>:<app id>:<version> (by /u/<username>)`).
    pub user_agent: &'a str,
}

/// The grant exchanged at the token endpoint.
#[derive(Debug, Clone, Copy)]
pub enum Grant<'a> {
    AuthorizationCode {
        code: &'a str,
        /// Byte-identical to the one in the authorization request (RFC 6749 §4.1.3).
        redirect_uri: &'a str,
        /// Required exactly when the spec says [`Pkce::S256`].
        code_verifier: Option<&'a PkceVerifier>,
    },
    RefreshToken {
        refresh_token: &'a str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `application/x-www-form-urlencoded` body from [`TokenRequest::form`].
    Post,
    /// Parameters are already in [`TokenRequest::url`]; `form` is empty.
    Get,
}

/// One HTTP request to send as is. Holds secrets, so `Debug` redacts the form values, the
/// `Authorization` header and a GET's query.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const PUBLIC: &[&str] = &["grant_type", "redirect_uri", "token_type_hint"];
        let url = match (self.method, self.url.split_once('?')) {
            (Method::Get, Some((path, _))) => format!("{path}?[redacted]"),
            _ => self.url.clone(),
        };
        let headers: Vec<_> = self
            .headers
            .iter()
            .map(|(k, v)| {
                let shown = if k.eq_ignore_ascii_case("authorization") {
                    "[redacted]"
                } else {
                    v.as_str()
                };
                (k.as_str(), shown)
            })
            .collect();
        let form: Vec<_> = self
            .form
            .iter()
            .map(|(k, v)| {
                let shown = if PUBLIC.contains(&k.as_str()) {
                    v.as_str()
                } else {
                    "[redacted]"
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("TokenRequest")
            .field("method", &self.method)
            .field("url", &url)
            .field("headers", &headers)
            .field("form", &form)
            .finish()
    }
}

/// The code exchange or refresh for this platform.
pub fn token_request(
    spec: &ResolvedSpec,
    client: &ClientCredentials<'_>,
    grant: Grant<'_>,
) -> Result<TokenRequest, BuildError> {
    let mut form: Vec<(String, String)> = Vec::new();
    let url = match grant {
        Grant::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            push(&mut form, "grant_type", "authorization_code");
            push(&mut form, "code", code);
            push(&mut form, "redirect_uri", redirect_uri);
            match (spec.spec.pkce, code_verifier) {
                (Pkce::S256, Some(v)) => push(&mut form, "code_verifier", v.expose()),
                (Pkce::S256, None) => return Err(BuildError::PkceRequired),
                (Pkce::None, Some(_)) => return Err(BuildError::PkceNotSupported),
                (Pkce::None, None) => {}
            }
            spec.token_url.clone()
        }
        Grant::RefreshToken { refresh_token } => match &spec.refresh {
            ResolvedRefresh::Grant { url } => {
                push(&mut form, "grant_type", "refresh_token");
                push(&mut form, "refresh_token", refresh_token);
                url.clone()
            }
            _ => return Err(BuildError::NoRefreshGrant),
        },
    };
    let mut headers = base_headers(spec, client);
    authenticate(spec, client, &mut headers, &mut form);
    Ok(TokenRequest {
        method: Method::Post,
        url: url.into(),
        headers,
        form,
    })
}

/// Short-lived → long-lived access token (Facebook `fb_exchange_token`, Instagram Login
/// `ig_exchange_token`, Threads `th_exchange_token`), platforms.md §2a, §3, §10. A GET with
/// the secret in the query because that is the only form the docs give for these endpoints.
pub fn long_lived_exchange_request(
    spec: &ResolvedSpec,
    client: &ClientCredentials<'_>,
    short_lived_token: &str,
) -> Result<TokenRequest, BuildError> {
    let exchange = spec
        .long_lived_exchange
        .as_ref()
        .ok_or(BuildError::NoLongLivedExchange)?;
    let mut params = vec![("grant_type", exchange.grant_type)];
    if exchange.send_client_id {
        params.push(("client_id", client.client_id));
    }
    params.push(("client_secret", client.client_secret.expose()));
    params.push((exchange.token_param, short_lived_token));
    Ok(get(spec, client, &exchange.url, &params))
}

/// Extends a long-lived access token that has no refresh token (Instagram Login
/// `ig_refresh_token`, Threads `th_refresh_token`), platforms.md §2a, §10.
pub fn extend_access_token_request(
    spec: &ResolvedSpec,
    client: &ClientCredentials<'_>,
    access_token: &str,
) -> Result<TokenRequest, BuildError> {
    match &spec.refresh {
        ResolvedRefresh::ExtendAccessToken { url, grant_type } => Ok(get(
            spec,
            client,
            url,
            &[("grant_type", grant_type), ("access_token", access_token)],
        )),
        _ => Err(BuildError::NoTokenExtension),
    }
}

/// Which token a revocation names (RFC 7009 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    AccessToken,
    RefreshToken,
}

/// RFC 7009 revocation with the platform's client authentication.
pub fn revoke_request(
    spec: &ResolvedSpec,
    client: &ClientCredentials<'_>,
    token: &str,
    hint: TokenTypeHint,
) -> Result<TokenRequest, BuildError> {
    let url = spec.revoke_url.as_ref().ok_or(BuildError::NoRevocation)?;
    let mut form = Vec::new();
    push(&mut form, "token", token);
    let hint = match hint {
        TokenTypeHint::AccessToken => "access_token",
        TokenTypeHint::RefreshToken => "refresh_token",
    };
    push(&mut form, "token_type_hint", hint);
    let mut headers = base_headers(spec, client);
    authenticate(spec, client, &mut headers, &mut form);
    Ok(TokenRequest {
        method: Method::Post,
        url: url.to_string(),
        headers,
        form,
    })
}

fn push(form: &mut Vec<(String, String)>, k: &str, v: &str) {
    form.push((k.to_owned(), v.to_owned()));
}

fn base_headers(spec: &ResolvedSpec, client: &ClientCredentials<'_>) -> Vec<(String, String)> {
    let mut headers = vec![("Accept".to_owned(), "application/json".to_owned())];
    if spec.spec.user_agent_required {
        headers.push(("User-Agent".to_owned(), client.user_agent.to_owned()));
    }
    headers
}

/// RFC 6749 §2.3.1: Basic over the form-urlencoded id and secret, or both in the body under
/// the platform's names. Never in a query string (STYLE §7).
fn authenticate(
    spec: &ResolvedSpec,
    client: &ClientCredentials<'_>,
    headers: &mut Vec<(String, String)>,
    form: &mut Vec<(String, String)>,
) {
    match spec.spec.client_auth {
        ClientAuth::Basic => {
            let id: String = form_urlencoded::byte_serialize(client.client_id.as_bytes()).collect();
            let secret: String =
                form_urlencoded::byte_serialize(client.client_secret.expose().as_bytes()).collect();
            let encoded = STANDARD.encode(format!("{id}:{secret}"));
            headers.push(("Authorization".to_owned(), format!("Basic {encoded}")));
        }
        ClientAuth::Body => {
            push(form, spec.spec.client_id_param, client.client_id);
            push(form, "client_secret", client.client_secret.expose());
        }
    }
}

fn get(
    spec: &ResolvedSpec,
    client: &ClientCredentials<'_>,
    url: &url::Url,
    params: &[(&str, &str)],
) -> TokenRequest {
    let mut url = url.clone();
    let ours = encode_query(params);
    let query = match url.query() {
        Some(existing) if !existing.is_empty() => format!("{existing}&{ours}"),
        _ => ours,
    };
    url.set_query(Some(&query));
    TokenRequest {
        method: Method::Get,
        url: url.into(),
        headers: base_headers(spec, client),
        form: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
