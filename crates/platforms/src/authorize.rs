//! The authorization request (RFC 6749 §4.1.1) built from a platform's spec.
//!
//! Hand-written over `url::Url` rather than `oauth2::Client::authorize_url`: `oauth2` always
//! names the parameter `client_id` (TikTok wants `client_key`), joins scopes with spaces
//! (Meta, TikTok and Pinterest want commas) and serialises spaces as `+` where X documents
//! `%20`. Bending it to each quirk would be more code than this.

use thiserror::Error;

use crate::pkce::PkceChallenge;
use crate::spec::{Pkce, ResolvedSpec};

/// What a connect session contributes to the authorization URL.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizeRequest<'a> {
    pub client_id: &'a str,
    /// Plugboard's callback for this platform, registered with the network.
    pub redirect_uri: &'a str,
    pub state: &'a str,
    /// Required exactly when the spec says [`Pkce::S256`].
    pub pkce: Option<&'a PkceChallenge>,
    /// `None` requests the spec's default scopes.
    pub scopes: Option<&'a [&'a str]>,
    /// Per-request additions such as Instagram's `force_reauth=true` or Facebook's
    /// `auth_type=rerequest`.
    pub extra_params: &'a [(&'a str, &'a str)],
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("this platform requires PKCE but no challenge/verifier was given")]
    PkceRequired,
    #[error("this platform must not receive PKCE parameters")]
    PkceNotSupported,
    #[error("at least one scope must be requested")]
    NoScopes,
    #[error("extra parameter {0:?} would override a standard OAuth parameter")]
    ReservedParam(String),
    #[error("this platform has no refresh_token grant")]
    NoRefreshGrant,
    #[error("this platform has no long-lived token exchange")]
    NoLongLivedExchange,
    #[error("this platform does not extend access tokens")]
    NoTokenExtension,
    #[error("this platform has no revocation endpoint")]
    NoRevocation,
}

/// Names the builder sets itself; per-request extras may not replace them.
pub(crate) const RESERVED: &[&str] = &[
    "response_type",
    "client_id",
    "client_key",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

/// The URL to send the user's browser to.
pub fn authorization_url(
    spec: &ResolvedSpec,
    req: &AuthorizeRequest<'_>,
) -> Result<String, BuildError> {
    let s = spec.spec;
    let scopes = req.scopes.unwrap_or(s.scopes);
    if scopes.is_empty() {
        return Err(BuildError::NoScopes);
    }
    if let Some((name, _)) = req.extra_params.iter().find(|(n, _)| RESERVED.contains(n)) {
        return Err(BuildError::ReservedParam((*name).to_owned()));
    }
    let scope = scopes.join(s.scope_separator);
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        (s.client_id_param, req.client_id),
        ("redirect_uri", req.redirect_uri),
        ("scope", &scope),
        ("state", req.state),
    ];
    match (s.pkce, req.pkce) {
        (Pkce::S256, Some(challenge)) => {
            params.push(("code_challenge", challenge.as_str()));
            params.push(("code_challenge_method", PkceChallenge::METHOD));
        }
        (Pkce::S256, None) => return Err(BuildError::PkceRequired),
        (Pkce::None, Some(_)) => return Err(BuildError::PkceNotSupported),
        (Pkce::None, None) => {}
    }
    params.extend(s.extra_authorize_params.iter().copied());
    params.extend(req.extra_params.iter().copied());

    let mut url = spec.authorize_url.clone();
    let ours = encode_query(&params);
    let query = match url.query() {
        Some(existing) if !existing.is_empty() => format!("{existing}&{ours}"),
        _ => ours,
    };
    url.set_query(Some(&query));
    Ok(url.into())
}

/// RFC 3986 percent-encoding of everything but unreserved characters, so a space is `%20`
/// (X documents `%20` for its space-separated scopes; form encoding would give `+`).
pub(crate) fn encode_query(params: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(k, &mut out);
        out.push('=');
        percent_encode(v, &mut out);
    }
    out
}

pub(crate) fn percent_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests;
